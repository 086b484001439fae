// The agent's heartbeats, received on a local UDP socket and verified with the shared key.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent_fixture.h"
#include "amphora_agent/heartbeat/heartbeat_codec.h"

namespace pharos::agent::testing {
namespace {

constexpr const char* kKey = "0123456789abcdef-test-key";

class HeartbeatLoopTest : public AgentFixture {
 protected:
  void SetUp() override {
    AgentFixture::SetUp();
    rx_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(rx_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(rx_, reinterpret_cast<sockaddr*>(&addr), &len);
    timeval tv{10, 0};
    ::setsockopt(rx_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    prepare();
    config_.heartbeat_targets = {{"127.0.0.1", ntohs(addr.sin_port)}};
    config_.heartbeat_key = kKey;
    config_.heartbeat_interval_s = 1;
  }
  void TearDown() override {
    AgentFixture::TearDown();
    ::close(rx_);
  }

  // Next heartbeat that verifies; fails the test on a bad one or after 10 s.
  heartbeat::HeartbeatPayload receive(uint64_t last_seq) {
    std::string buf(heartbeat::kMaxDatagramBytes, '\0');
    const ssize_t n = ::recv(rx_, buf.data(), buf.size(), 0);
    EXPECT_GT(n, 0) << "no heartbeat within 10 s";
    if (n <= 0) return {};
    buf.resize(static_cast<size_t>(n));
    const auto decoded = heartbeat::decode_and_verify(buf, kKey, last_seq);
    EXPECT_TRUE(decoded.ok()) << heartbeat::to_string(decoded.error);
    return decoded.payload;
  }

  int rx_ = -1;
};

TEST_F(HeartbeatLoopTest, SignedHeartbeatsCarryStateAndIncreasingSequence) {
  DemoBackend member(member_port_, "m1");
  start_agent();
  ASSERT_TRUE(eventually([&] { return engine_up(); }, std::chrono::seconds(15)));
  ASSERT_EQ(call("PUT", "/v1/config", config(6).dump(), "application/json").status, 200);
  ClientTls plain;
  plain.enabled = false;
  constexpr uint64_t kRequests = 4;
  for (uint64_t i = 0; i < kRequests; ++i) {
    ASSERT_EQ(http_request(listener_port_, "GET", "/", "", "", plain).status, 200);
  }
  // Counters come from the engine; quality from the log reducer once the interval closed.
  heartbeat::HeartbeatPayload p;
  uint64_t last = 0;
  ASSERT_TRUE(eventually(
      [&] {
        p = receive(last);
        if (p.seq == 0) return true;  // a failure already reported
        last = p.seq;
        return p.config_version == 6 && p.engine_up &&
               p.listeners["listener-1"].total_connections == kRequests &&
               p.listener_quality["listener-1"].requests == kRequests;
      },
      std::chrono::seconds(20)));
  EXPECT_EQ(p.amphora_id, kAmphoraId);
  EXPECT_EQ(p.members.at("member-1"), "NO_MONITOR");  // the pool has no health monitor
  EXPECT_EQ(p.resources.connections, 0u);
  EXPECT_GT(p.resources.rss_bytes, 0u);
  EXPECT_EQ(p.pool_quality.at("pool-1").requests, kRequests);
  EXPECT_EQ(p.listener_quality.at("listener-1").error_rate, 0.0);
  EXPECT_GT(p.listener_quality.at("listener-1").p99_ms, 0.0);

  // The sequence continues across an agent restart.
  stop_agent();
  start_agent();
  const heartbeat::HeartbeatPayload after = receive(last);
  EXPECT_GT(after.seq, last);
}

}  // namespace
}  // namespace pharos::agent::testing
