#include "engine/net/socket_ops.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pharos::net {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

namespace {

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

void set_flag(int fd, int level, int name) {
  int one = 1;
  setsockopt(fd, level, name, &one, sizeof(one));
}

}  // namespace

SocketResult listen_tcp(const config::IpAddress& address, uint16_t port, int backlog) {
  SocketResult out;
  sockaddr_storage storage;
  socklen_t length = address.to_sockaddr(port, &storage);
  out.fd.reset(::socket(address.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!out.fd) {
    out.error = errno_text("socket");
    return out;
  }
  set_flag(out.fd.get(), SOL_SOCKET, SO_REUSEADDR);
  set_flag(out.fd.get(), SOL_SOCKET, SO_REUSEPORT);
  if (address.family == AF_INET6) set_flag(out.fd.get(), IPPROTO_IPV6, IPV6_V6ONLY);
  set_flag(out.fd.get(), IPPROTO_TCP, TCP_NODELAY);  // inherited by accepted sockets
  if (::bind(out.fd.get(), reinterpret_cast<sockaddr*>(&storage), length) != 0) {
    out.error = errno_text("bind");
    out.fd.reset();
    return out;
  }
  if (::listen(out.fd.get(), backlog) != 0) {
    out.error = errno_text("listen");
    out.fd.reset();
  }
  return out;
}

SocketResult start_connect(const sockaddr* address, socklen_t length) {
  SocketResult out;
  out.fd.reset(::socket(address->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!out.fd) {
    out.error = errno_text("socket");
    return out;
  }
  set_flag(out.fd.get(), IPPROTO_TCP, TCP_NODELAY);
  if (::connect(out.fd.get(), address, length) != 0 && errno != EINPROGRESS) {
    out.error = errno_text("connect");
    out.fd.reset();
  }
  return out;
}

uint32_t tcp_rtt_us(int fd) {
  tcp_info info;
  socklen_t length = sizeof(info);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return 0;
  return info.tcpi_rtt;
}

std::string address_text(const sockaddr* address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(address)->sin_addr, text, sizeof(text));
  } else if (address->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr, text,
              sizeof(text));
  }
  return text;
}

uint16_t address_port(const sockaddr* address) {
  if (address->sa_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(address)->sin_port);
  }
  if (address->sa_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(address)->sin6_port);
  }
  return 0;
}

}  // namespace pharos::net
