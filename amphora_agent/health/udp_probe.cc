// UDP-CONNECT: one datagram to the member on a connected UDP socket. An ICMP port unreachable
// comes back as ECONNREFUSED and means DOWN; silence until the timeout (or any answer) is UP,
// as Octavia's amphora UDP check does.
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>

#include "amphora_agent/health/probe_base.h"

namespace pharos::health {
namespace {

class UdpProbe final : public ProbeBase {
 public:
  using ProbeBase::ProbeBase;

 protected:
  void begin() override {
    phase_ = "sending";
    if (!open_socket(spec_.target.ss_family, SOCK_DGRAM, 0)) return;
    if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&spec_.target), spec_.target_len) != 0) {
      fail("connect to " + spec_.target_text + ": " + errno_text(errno));
      return;
    }
    // An empty datagram: nothing a member's protocol could act on, still answered by ICMP.
    if (::send(fd_.get(), "", 0, MSG_NOSIGNAL) < 0) {
      fail("send to " + spec_.target_text + ": " + errno_text(errno));
      return;
    }
    phase_ = "waiting for an ICMP error";
    wait_readable();
  }

  void on_ready() override {
    char buf[512];
    ssize_t rc = ::recv(fd_.get(), buf, sizeof(buf), 0);
    if (rc >= 0) {
      succeed("member answered the datagram");
      return;
    }
    int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) {
      wait_readable();
      return;
    }
    if (err == ECONNREFUSED) {
      fail("ICMP port unreachable from " + spec_.target_text);
    } else {
      fail("UDP to " + spec_.target_text + ": " + errno_text(err));
    }
  }

  void on_timeout() override { finish(true, false, "no ICMP port unreachable before the timeout"); }
};

}  // namespace

std::unique_ptr<ProbeBase> make_udp_probe(const ProbeEnv& env, std::shared_ptr<const CheckSpec> spec,
                                             ProbeListener* l) {
  return std::make_unique<UdpProbe>(env, std::move(spec), l);
}

}  // namespace pharos::health
