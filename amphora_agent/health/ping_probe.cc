// PING: one ICMP (or ICMPv6) echo request, UP on the matching echo reply. Uses unprivileged ICMP
// datagram sockets (net.ipv4.ping_group_range) and falls back to raw sockets when privileged.
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <cerrno>
#include <cstring>

#include "amphora_agent/health/probe_base.h"

namespace pharos::health {
namespace {

constexpr uint8_t kEchoRequestV4 = 8, kEchoReplyV4 = 0;
constexpr uint8_t kEchoRequestV6 = 128, kEchoReplyV6 = 129;
constexpr char kPayload[] = "pharos-health-ping";

std::atomic<uint16_t> g_next_sequence{1};

uint16_t internet_checksum(const uint8_t* data, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += static_cast<uint32_t>(data[i] << 8 | data[i + 1]);
  if (len & 1) sum += static_cast<uint32_t>(data[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

class PingProbe final : public ProbeBase {
 public:
  using ProbeBase::ProbeBase;

 protected:
  void begin() override {
    phase_ = "sending the echo request";
    v6_ = spec_.target.ss_family == AF_INET6;
    int protocol = v6_ ? static_cast<int>(IPPROTO_ICMPV6) : static_cast<int>(IPPROTO_ICMP);
    int dgram_error = 0;
    if (!open_socket(spec_.target.ss_family, SOCK_DGRAM, protocol, &dgram_error)) {
      raw_ = true;
      int raw_error = 0;
      if (!open_socket(spec_.target.ss_family, SOCK_RAW, protocol, &raw_error)) {
        fail("PING needs ICMP datagram sockets (" + errno_text(dgram_error) + ") or raw sockets (" +
             errno_text(raw_error) + ")");
        return;
      }
    }
    // connect() makes the kernel deliver only this member's packets to the socket.
    if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&spec_.target), spec_.target_len) != 0) {
      fail("connect to " + spec_.target_text + ": " + errno_text(errno));
      return;
    }
    identifier_ = static_cast<uint16_t>(reinterpret_cast<uintptr_t>(this) >> 4);
    sequence_ = g_next_sequence.fetch_add(1, std::memory_order_relaxed);
    uint8_t packet[8 + sizeof(kPayload)] = {};
    packet[0] = v6_ ? kEchoRequestV6 : kEchoRequestV4;
    packet[4] = static_cast<uint8_t>(identifier_ >> 8);
    packet[5] = static_cast<uint8_t>(identifier_);
    packet[6] = static_cast<uint8_t>(sequence_ >> 8);
    packet[7] = static_cast<uint8_t>(sequence_);
    std::memcpy(packet + 8, kPayload, sizeof(kPayload));
    if (!v6_) {  // the kernel fills in the ICMPv6 checksum itself
      uint16_t sum = internet_checksum(packet, sizeof(packet));
      packet[2] = static_cast<uint8_t>(sum >> 8);
      packet[3] = static_cast<uint8_t>(sum);
    }
    if (::send(fd_.get(), packet, sizeof(packet), MSG_NOSIGNAL) < 0) {
      fail("send echo request to " + spec_.target_text + ": " + errno_text(errno));
      return;
    }
    phase_ = "waiting for the echo reply";
    wait_readable();
  }

  void on_ready() override {
    uint8_t buf[1500];
    for (;;) {
      ssize_t rc = ::recv(fd_.get(), buf, sizeof(buf), 0);
      if (rc < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          wait_readable();
        } else {
          fail("echo to " + spec_.target_text + ": " + errno_text(errno));
        }
        return;
      }
      const uint8_t* icmp = buf;
      size_t len = static_cast<size_t>(rc);
      if (raw_ && !v6_) {  // raw IPv4 sockets hand over the IP header too
        if (len < 20) continue;
        size_t header = static_cast<size_t>(buf[0] & 0x0f) * 4;
        if (len < header) continue;
        icmp += header;
        len -= header;
      }
      if (len < 8 || icmp[0] != (v6_ ? kEchoReplyV6 : kEchoReplyV4)) continue;
      uint16_t id = static_cast<uint16_t>(icmp[4] << 8 | icmp[5]);
      uint16_t seq = static_cast<uint16_t>(icmp[6] << 8 | icmp[7]);
      // Datagram sockets get their identifier rewritten by the kernel; only raw ones match it.
      if (seq != sequence_ || (raw_ && id != identifier_)) continue;
      succeed("echo reply from " + spec_.target_text);
      return;
    }
  }

 private:
  bool v6_ = false;
  bool raw_ = false;
  uint16_t identifier_ = 0;
  uint16_t sequence_ = 0;
};

}  // namespace

std::unique_ptr<ProbeBase> make_ping_probe(const ProbeEnv& env, std::shared_ptr<const CheckSpec> spec,
                                             ProbeListener* l) {
  return std::make_unique<PingProbe>(env, std::move(spec), l);
}

}  // namespace pharos::health
