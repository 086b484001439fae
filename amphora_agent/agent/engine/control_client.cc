#include "amphora_agent/agent/engine/control_client.h"

#include <cerrno>
#include <cstring>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace pharos::agent::engine {
namespace {

constexpr size_t kMaxReplyBytes = 64u << 20;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits for `events` on fd until the deadline; false on timeout or error.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  pollfd p{fd, events, 0};
  for (;;) {
    const int rc = ::poll(&p, 1, remaining_ms(deadline));
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return false;
  }
}

ControlReply failure(ControlErrc errc, std::string message) {
  ControlReply reply;
  reply.errc = errc;
  reply.message = std::move(message);
  return reply;
}

}  // namespace

const char* to_string(ControlErrc errc) {
  switch (errc) {
    case ControlErrc::kOk: return "ok";
    case ControlErrc::kUnavailable: return "unavailable";
    case ControlErrc::kTimeout: return "timeout";
    case ControlErrc::kProtocol: return "protocol";
    case ControlErrc::kRejected: return "rejected";
  }
  return "unknown";
}

ControlReply ControlClient::call(const nlohmann::json& request) const {
  const auto deadline = Clock::now() + timeout_;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path_.size() >= sizeof(addr.sun_path)) {
    return failure(ControlErrc::kUnavailable, "control socket path too long");
  }
  std::memcpy(addr.sun_path, socket_path_.c_str(), socket_path_.size() + 1);
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return failure(ControlErrc::kUnavailable, std::strerror(errno));
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno != EINPROGRESS && errno != EAGAIN) {
      return failure(ControlErrc::kUnavailable,
                     "cannot connect to " + socket_path_ + ": " + std::strerror(errno));
    }
    if (!wait_for(fd.get(), POLLOUT, deadline)) {
      return failure(ControlErrc::kTimeout, "connect to " + socket_path_ + " timed out");
    }
  }

  std::string line = request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line.push_back('\n');
  size_t sent = 0;
  while (sent < line.size()) {
    const ssize_t n = ::send(fd.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_for(fd.get(), POLLOUT, deadline)) {
        return failure(ControlErrc::kTimeout, "sending to the engine timed out");
      }
    } else {
      return failure(ControlErrc::kUnavailable, std::string("send: ") + std::strerror(errno));
    }
  }

  std::string buffer;
  char chunk[16384];
  size_t newline = std::string::npos;
  while (newline == std::string::npos) {
    if (!wait_for(fd.get(), POLLIN, deadline)) {
      return failure(ControlErrc::kTimeout, "the engine did not answer in time");
    }
    const ssize_t n = ::recv(fd.get(), chunk, sizeof(chunk), 0);
    if (n == 0) return failure(ControlErrc::kProtocol, "the engine closed the connection");
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return failure(ControlErrc::kProtocol, std::string("recv: ") + std::strerror(errno));
    }
    const size_t old = buffer.size();
    buffer.append(chunk, static_cast<size_t>(n));
    newline = buffer.find('\n', old);
    if (buffer.size() > kMaxReplyBytes) return failure(ControlErrc::kProtocol, "reply too large");
  }
  buffer.resize(newline);

  ControlReply reply;
  reply.body = nlohmann::json::parse(buffer, nullptr, false);
  if (reply.body.is_discarded() || !reply.body.is_object() || !reply.body.contains("ok") ||
      !reply.body["ok"].is_boolean()) {
    return failure(ControlErrc::kProtocol, "the engine's reply is not a JSON object with \"ok\"");
  }
  if (!reply.body["ok"].get<bool>()) {
    reply.errc = ControlErrc::kRejected;
    reply.message = "rejected";
    for (const char* key : {"message", "error"}) {
      auto it = reply.body.find(key);
      if (it != reply.body.end() && it->is_string()) {
        reply.message = it->get<std::string>();
        break;
      }
    }
    return reply;
  }
  reply.errc = ControlErrc::kOk;
  return reply;
}

}  // namespace pharos::agent::engine
