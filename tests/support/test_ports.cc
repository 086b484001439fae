#include "tests/support/test_ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>
#include <set>

namespace pharos::testing {
namespace {

// The low end of the kernel's ephemeral range; ports are taken from [kLowest, that).
constexpr uint16_t kLowest = 20000;

uint16_t ephemeral_low() {
  unsigned low = 32768, high = 60999;
  if (FILE* f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
    if (std::fscanf(f, "%u %u", &low, &high) != 2) low = 32768;
    std::fclose(f);
  }
  return low > kLowest + 1000 && low <= 65535 ? static_cast<uint16_t>(low) : 32768;
}

bool bindable(const char* address, uint16_t port, bool* address_ok) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  if (inet_pton(AF_INET, address, &reinterpret_cast<sockaddr_in*>(&storage)->sin_addr) == 1) {
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    length = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, address, &reinterpret_cast<sockaddr_in6*>(&storage)->sin6_addr) == 1) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    length = sizeof(sockaddr_in6);
  } else {
    *address_ok = false;
    return false;
  }
  const int fd = ::socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *address_ok = false;
    return false;
  }
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&storage), length) == 0;
  if (!ok && errno == EADDRNOTAVAIL) *address_ok = false;
  ::close(fd);
  return ok;
}

}  // namespace

uint16_t free_port(const char* address) {
  static std::mutex mutex;
  static std::set<uint16_t> handed_out;
  static std::mt19937 random(static_cast<uint32_t>(::getpid()) * 2654435761u ^
                             static_cast<uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  std::lock_guard<std::mutex> lock(mutex);
  std::uniform_int_distribution<int> pick(kLowest, ephemeral_low() - 1);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const auto port = static_cast<uint16_t>(pick(random));
    if (handed_out.count(port) != 0) continue;
    bool address_ok = true;
    if (bindable(address, port, &address_ok)) {
      handed_out.insert(port);
      return port;
    }
    if (!address_ok) return 0;
  }
  return 0;
}

}  // namespace pharos::testing
