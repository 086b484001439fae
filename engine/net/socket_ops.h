// Thin, error-as-value wrappers over the socket calls the engine needs.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "engine/config/address.h"

namespace pharos::net {

// A file descriptor owned by value; closes on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1);
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

struct SocketResult {
  UniqueFd fd;
  std::string error;  // empty on success
};

// A non-blocking listening TCP socket with SO_REUSEADDR and SO_REUSEPORT, so each worker can
// bind its own socket to the same address and the kernel spreads connections over them.
// TCP_NODELAY is set on it: Linux copies it to every accepted socket, which saves a
// setsockopt per connection.
SocketResult listen_tcp(const config::IpAddress& address, uint16_t port, int backlog = 4096);

// Starts a non-blocking connect; EINPROGRESS counts as success (completion is signalled by
// writability). TCP_NODELAY is set.
SocketResult start_connect(const sockaddr* address, socklen_t length);

// Smoothed RTT of a TCP socket in microseconds from TCP_INFO; 0 when unavailable.
uint32_t tcp_rtt_us(int fd);

// "1.2.3.4" or "::1" and the port of a socket address.
std::string address_text(const sockaddr* address);
uint16_t address_port(const sockaddr* address);

}  // namespace pharos::net
