#include "engine/control/control_server.h"

#include <event2/listener.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace pharos::control {

namespace {
constexpr size_t kMaxLineBytes = 16 * 1024 * 1024;
}

struct ControlServer::Connection {
  ControlServer* server;
  net::BufferEventPtr bev;
};

ControlServer::ControlServer(event_base* base, CommandHandler& handler) : base_(base), handler_(handler) {}

ControlServer::~ControlServer() {
  connections_.clear();
  if (listener_) evconnlistener_free(listener_);
  if (!path_.empty()) ::unlink(path_.c_str());
}

std::string ControlServer::listen(const std::string& path) {
  sockaddr_un address{};
  if (path.size() >= sizeof(address.sun_path)) return "control socket path too long: " + path;
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  ::unlink(path.c_str());
  mode_t old_mask = ::umask(0077);
  listener_ = evconnlistener_new_bind(base_, &ControlServer::on_accept, this,
                                      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
                                      reinterpret_cast<sockaddr*>(&address), sizeof(address));
  ::umask(old_mask);
  if (!listener_) return "cannot listen on control socket " + path + ": " + std::strerror(errno);
  path_ = path;
  return "";
}

void ControlServer::on_accept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg) {
  auto* self = static_cast<ControlServer*>(arg);
  auto connection = std::make_unique<Connection>();
  connection->server = self;
  connection->bev.reset(bufferevent_socket_new(self->base_, fd, BEV_OPT_CLOSE_ON_FREE));
  bufferevent_setcb(connection->bev.get(), &ControlServer::on_read, nullptr, &ControlServer::on_event,
                    connection.get());
  bufferevent_enable(connection->bev.get(), EV_READ);
  self->connections_.insert(std::move(connection));
}

void ControlServer::on_read(bufferevent* bev, void* arg) {
  auto* connection = static_cast<Connection*>(arg);
  ControlServer* self = connection->server;
  evbuffer* input = bufferevent_get_input(bev);
  while (true) {
    size_t length = 0;
    char* line = evbuffer_readln(input, &length, EVBUFFER_EOL_LF);
    if (line == nullptr) {
      if (evbuffer_get_length(input) > kMaxLineBytes) self->close(connection);
      return;
    }
    nlohmann::json reply;
    nlohmann::json request = nlohmann::json::parse(line, line + length, nullptr, false);
    std::free(line);
    if (request.is_discarded()) {
      reply = error_reply("bad_json", "the request line is not valid JSON");
    } else {
      reply = self->handler_.handle(request);
    }
    std::string text = reply.dump();
    text.push_back('\n');
    bufferevent_write(bev, text.data(), text.size());
  }
}

void ControlServer::on_event(bufferevent*, short, void* arg) {
  auto* connection = static_cast<Connection*>(arg);
  connection->server->close(connection);
}

void ControlServer::close(Connection* connection) {
  auto it = std::find_if(connections_.begin(), connections_.end(),
                         [&](const auto& c) { return c.get() == connection; });
  if (it != connections_.end()) connections_.erase(it);
}

}  // namespace pharos::control
