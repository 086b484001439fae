#include "amphora_agent/heartbeat/heartbeat_sender.h"

#include <charconv>
#include <cstring>

#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

namespace pharos::heartbeat {

std::optional<Target> parse_target(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (host.empty() || port.empty() || ec != std::errc() || end != port.data() + port.size() ||
      value == 0 || value > 65535) {
    return std::nullopt;
  }
  return Target{std::string(host), static_cast<uint16_t>(value)};
}

HeartbeatSender::~HeartbeatSender() {
  if (fd4_ >= 0) ::close(fd4_);
  if (fd6_ >= 0) ::close(fd6_);
}

std::string HeartbeatSender::open(const std::vector<Target>& targets) {
  for (const Target& target : targets) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(target.port);
    if (::getaddrinfo(target.host.c_str(), port.c_str(), &hints, &found) != 0 || found == nullptr) {
      return "cannot resolve heartbeat target " + target.host + ":" + port;
    }
    Address address;
    std::memcpy(&address.addr, found->ai_addr, found->ai_addrlen);
    address.len = found->ai_addrlen;
    const int family = found->ai_family;
    ::freeaddrinfo(found);
    int& fd = family == AF_INET6 ? fd6_ : fd4_;
    if (fd < 0) {
      fd = ::socket(family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (fd < 0) return "cannot open a UDP socket: " + std::string(std::strerror(errno));
    }
    addresses_.push_back(address);
  }
  return "";
}

size_t HeartbeatSender::send(std::string_view datagram) {
  size_t sent = 0;
  for (const Address& address : addresses_) {
    const int fd = address.addr.ss_family == AF_INET6 ? fd6_ : fd4_;
    if (::sendto(fd, datagram.data(), datagram.size(), MSG_NOSIGNAL,
                 reinterpret_cast<const sockaddr*>(&address.addr), address.len) ==
        static_cast<ssize_t>(datagram.size())) {
      ++sent;
    }
  }
  return sent;
}

}  // namespace pharos::heartbeat
