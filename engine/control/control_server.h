// The control socket: a unix stream socket speaking JSON lines (schema/engine-control.md).
#pragma once

#include <memory>
#include <set>
#include <string>

#include "engine/control/command_handler.h"
#include "engine/net/event_handles.h"

struct evconnlistener;

namespace pharos::control {

class ControlServer {
 public:
  ControlServer(event_base* base, CommandHandler& handler);
  ~ControlServer();
  // Binds PATH (replacing a stale socket file), mode 0600. Returns an error text or "".
  std::string listen(const std::string& path);

 private:
  struct Connection;
  static void on_accept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg);
  static void on_read(bufferevent* bev, void* arg);
  static void on_event(bufferevent* bev, short events, void* arg);
  void close(Connection* connection);

  event_base* base_;
  CommandHandler& handler_;
  evconnlistener* listener_ = nullptr;
  std::string path_;
  std::set<std::unique_ptr<Connection>, std::less<>> connections_;
};

}  // namespace pharos::control
