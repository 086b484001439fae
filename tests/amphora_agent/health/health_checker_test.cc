#include "amphora_agent/health/health_checker.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <vector>

#include "amphora_agent/health/check_spec.h"
#include "tests/amphora_agent/health/test_servers.h"

namespace pharos::health {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::TestServer;

// Records every status decision; tests wait on it with a deadline instead of sleeping.
class StatusRecorder {
 public:
  struct Event {
    std::string member_id;
    MemberStatus status;
    std::string reason;
    Clock::time_point at;
  };

  StatusCallback callback() {
    return [this](const std::string& id, MemberStatus status, const std::string& reason) {
      std::lock_guard<std::mutex> lock(mutex_);
      events_.push_back({id, status, reason, Clock::now()});
      changed_.notify_all();
    };
  }

  // The index-th decision (0 = first) for the member, waiting up to timeout for it.
  std::optional<Event> wait_event(const std::string& id, size_t index, std::chrono::milliseconds timeout = 8s) {
    std::unique_lock<std::mutex> lock(mutex_);
    std::optional<Event> found;
    changed_.wait_for(lock, timeout, [&] {
      size_t seen = 0;
      for (const Event& e : events_) {
        if (e.member_id == id && seen++ == index) {
          found = e;
          return true;
        }
      }
      return false;
    });
    return found;
  }

  size_t count(const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex_);
    return static_cast<size_t>(std::count_if(events_.begin(), events_.end(),
                                             [&](const Event& e) { return e.member_id == id; }));
  }

  std::vector<Event> all() {
    std::lock_guard<std::mutex> lock(mutex_);
    return events_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Event> events_;
};

MemberCheck member(const std::string& id, MonitorType type, uint16_t port, uint32_t rise = 2, uint32_t fall = 2) {
  MemberCheck m;
  m.member_id = id;
  m.pool_id = "pool-1";
  m.address = "127.0.0.1";
  m.port = port;
  m.monitor.type = type;
  m.monitor.delay = 1000ms;
  m.monitor.timeout = 1000ms;
  m.monitor.max_retries = rise;
  m.monitor.max_retries_down = fall;
  return m;
}

class HealthCheckerTest : public ::testing::Test {
 protected:
  // Declared before the checker so the callback's target outlives it.
  StatusRecorder recorder_;
  HealthChecker checker_{recorder_.callback()};

  void configure(const std::vector<MemberCheck>& members) {
    auto rejected = checker_.configure(members);
    for (const auto& r : rejected) ADD_FAILURE() << r.member_id << " rejected: " << r.reason;
  }
};

TEST_F(HealthCheckerTest, HttpUpWithExpectedCode) {
  TestServer server(TestServer::Mode::kHttp);
  server.status_code = 204;
  ASSERT_TRUE(server.start());
  MemberCheck m = member("m1", MonitorType::kHttp, 1);  // port overridden below
  m.monitor_port = server.port();
  m.monitor.url_path = "/healthz";
  m.monitor.expected_codes = "200-204";
  configure({m});
  EXPECT_EQ(checker_.status("m1"), MemberStatus::kUnknown);
  auto up = recorder_.wait_event("m1", 0);
  ASSERT_TRUE(up);
  EXPECT_EQ(up->status, MemberStatus::kUp) << up->reason;
  EXPECT_NE(up->reason.find("204"), std::string::npos) << up->reason;
  EXPECT_EQ(checker_.status("m1"), MemberStatus::kUp);
  std::string request = server.last_request();
  EXPECT_EQ(request.rfind("GET /healthz HTTP/1.1\r\n", 0), 0u) << request;
  EXPECT_NE(request.find("Host: 127.0.0.1\r\n"), std::string::npos) << request;
}

TEST_F(HealthCheckerTest, HttpDownOnWrongCode) {
  TestServer server(TestServer::Mode::kHttp);
  server.status_code = 503;
  ASSERT_TRUE(server.start());
  MemberCheck m = member("m1", MonitorType::kHttp, server.port());
  m.monitor.http_version = "1.0";
  m.monitor.domain_name = "app.example.com";
  configure({m});
  auto down = recorder_.wait_event("m1", 0);
  ASSERT_TRUE(down);
  EXPECT_EQ(down->status, MemberStatus::kDown) << down->reason;
  EXPECT_NE(down->reason.find("503"), std::string::npos) << down->reason;
  EXPECT_NE(down->reason.find("2 time(s)"), std::string::npos) << down->reason;
  std::string request = server.last_request();
  EXPECT_EQ(request.rfind("GET / HTTP/1.0\r\nHost: app.example.com\r\n", 0), 0u) << request;
}

TEST_F(HealthCheckerTest, HttpDownWhenServerStopsThenUpAfterRise) {
  TestServer server(TestServer::Mode::kHttp);
  ASSERT_TRUE(server.start());
  uint16_t port = server.port();
  const uint32_t rise = 2, fall = 2;
  MemberCheck m = member("m1", MonitorType::kHttp, port, rise, fall);
  configure({m});
  auto up = recorder_.wait_event("m1", 0);
  ASSERT_TRUE(up);
  ASSERT_EQ(up->status, MemberStatus::kUp) << up->reason;

  server.stop();
  Clock::time_point stopped = Clock::now();
  auto down = recorder_.wait_event("m1", 1);
  ASSERT_TRUE(down);
  EXPECT_EQ(down->status, MemberStatus::kDown);
  EXPECT_NE(down->reason.find("refused"), std::string::npos) << down->reason;
  // delay * fall + timeout, plus scheduling slack.
  EXPECT_LE(down->at - stopped, m.monitor.delay * fall + m.monitor.timeout + 500ms);

  ASSERT_TRUE(server.start(port));
  Clock::time_point restarted = Clock::now();
  auto up_again = recorder_.wait_event("m1", 2);
  ASSERT_TRUE(up_again);
  EXPECT_EQ(up_again->status, MemberStatus::kUp);
  EXPECT_NE(up_again->reason.find("2 time(s)"), std::string::npos) << up_again->reason;
  EXPECT_LE(up_again->at - restarted, m.monitor.delay * rise + 500ms);
  // Rise needs two checks a delay apart, so UP cannot come sooner than one delay.
  EXPECT_GE(up_again->at - restarted, m.monitor.delay - 100ms);
  EXPECT_EQ(recorder_.count("m1"), 3u);
}

TEST_F(HealthCheckerTest, HttpTimeoutWhenMemberNeverAnswers) {
  TestServer server(TestServer::Mode::kRaw);  // reads the request, never answers
  ASSERT_TRUE(server.start());
  MemberCheck m = member("m1", MonitorType::kHttp, server.port(), 1, 1);
  m.monitor.timeout = 300ms;
  configure({m});
  auto down = recorder_.wait_event("m1", 0);
  ASSERT_TRUE(down);
  EXPECT_EQ(down->status, MemberStatus::kDown);
  EXPECT_NE(down->reason.find("timeout after 300 ms while waiting for the HTTP status line"), std::string::npos)
      << down->reason;
  EXPECT_GE(checker_.stats().checks_timed_out, 1u);
}

TEST_F(HealthCheckerTest, TcpUpAndDown) {
  TestServer server(TestServer::Mode::kHttp);
  ASSERT_TRUE(server.start());
  MemberCheck open = member("open", MonitorType::kTcp, server.port());
  open.address = "192.0.2.10";  // TEST-NET: only the monitor_address override makes this pass
  open.monitor_address = "127.0.0.1";
  configure({open, member("closed", MonitorType::kTcp, testing::closed_port(SOCK_STREAM))});
  auto up = recorder_.wait_event("open", 0);
  auto down = recorder_.wait_event("closed", 0);
  ASSERT_TRUE(up && down);
  EXPECT_EQ(up->status, MemberStatus::kUp) << up->reason;
  EXPECT_EQ(down->status, MemberStatus::kDown) << down->reason;
  EXPECT_NE(down->reason.find("Connection refused"), std::string::npos) << down->reason;
}

class TlsHealthCheckerTest : public HealthCheckerTest {
 protected:
  testing::ServerTlsContext tls_ = testing::make_self_signed_server_context();
};

TEST_F(TlsHealthCheckerTest, HttpsUpWithSelfSignedCertificate) {
  TestServer server(TestServer::Mode::kHttp, tls_.get());
  ASSERT_TRUE(server.start());
  MemberCheck m = member("m1", MonitorType::kHttps, server.port());
  m.monitor.domain_name = "localhost";
  configure({m});
  auto up = recorder_.wait_event("m1", 0);
  ASSERT_TRUE(up);
  EXPECT_EQ(up->status, MemberStatus::kUp) << up->reason;
  EXPECT_NE(server.last_request().find("Host: localhost\r\n"), std::string::npos);
}

TEST_F(TlsHealthCheckerTest, HttpsDownAgainstPlainHttp) {
  TestServer server(TestServer::Mode::kRaw);
  server.raw_reply = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
  ASSERT_TRUE(server.start());
  configure({member("m1", MonitorType::kHttps, server.port(), 1, 1)});
  auto down = recorder_.wait_event("m1", 0);
  ASSERT_TRUE(down);
  EXPECT_EQ(down->status, MemberStatus::kDown);
  EXPECT_NE(down->reason.find("TLS handshake"), std::string::npos) << down->reason;
}

TEST_F(TlsHealthCheckerTest, TlsHelloUpOnCompletedHandshake) {
  TestServer server(TestServer::Mode::kRaw, tls_.get());
  ASSERT_TRUE(server.start());
  configure({member("m1", MonitorType::kTlsHello, server.port())});
  auto up = recorder_.wait_event("m1", 0);
  ASSERT_TRUE(up);
  EXPECT_EQ(up->status, MemberStatus::kUp) << up->reason;
  EXPECT_NE(up->reason.find("TLS handshake completed"), std::string::npos) << up->reason;
}

TEST_F(TlsHealthCheckerTest, TlsHelloUpWhenServerAnswersWithAnAlert) {
  TestServer server(TestServer::Mode::kRaw);
  server.raw_reply = std::string("\x15\x03\x03\x00\x02\x02\x28", 7);  // fatal handshake_failure
  ASSERT_TRUE(server.start());
  configure({member("m1", MonitorType::kTlsHello, server.port())});
  auto up = recorder_.wait_event("m1", 0);
  ASSERT_TRUE(up);
  EXPECT_EQ(up->status, MemberStatus::kUp) << up->reason;
  EXPECT_NE(up->reason.find("TLS record"), std::string::npos) << up->reason;
}

TEST_F(TlsHealthCheckerTest, TlsHelloDownAgainstPlainHttp) {
  TestServer server(TestServer::Mode::kRaw);
  server.raw_reply = "HTTP/1.1 400 Bad Request\r\n\r\n";
  ASSERT_TRUE(server.start());
  configure({member("m1", MonitorType::kTlsHello, server.port(), 1, 1)});
  auto down = recorder_.wait_event("m1", 0);
  ASSERT_TRUE(down);
  EXPECT_EQ(down->status, MemberStatus::kDown) << down->reason;
}

TEST_F(HealthCheckerTest, UdpConnectDownOnClosedPortUpOnOpenPort) {
  testing::UdpPort open;
  MemberCheck up_member = member("open", MonitorType::kUdpConnect, open.port(), 1, 1);
  MemberCheck down_member = member("closed", MonitorType::kUdpConnect, testing::closed_port(SOCK_DGRAM), 1, 1);
  up_member.monitor.timeout = down_member.monitor.timeout = 500ms;
  configure({up_member, down_member});
  auto down = recorder_.wait_event("closed", 0);
  auto up = recorder_.wait_event("open", 0);
  ASSERT_TRUE(up && down);
  EXPECT_EQ(down->status, MemberStatus::kDown) << down->reason;
  EXPECT_NE(down->reason.find("ICMP port unreachable"), std::string::npos) << down->reason;
  EXPECT_EQ(up->status, MemberStatus::kUp) << up->reason;
}

TEST_F(HealthCheckerTest, PingLoopback) {
  std::string reason;
  if (!monitor_type_supported(MonitorType::kPing, &reason)) {
    GTEST_SKIP() << "neither ICMP datagram nor raw sockets are permitted here: " << reason;
  }
  configure({member("m1", MonitorType::kPing, 0)});
  auto up = recorder_.wait_event("m1", 0);
  ASSERT_TRUE(up);
  EXPECT_EQ(up->status, MemberStatus::kUp) << up->reason;
  EXPECT_NE(up->reason.find("echo reply"), std::string::npos) << up->reason;
}

TEST_F(HealthCheckerTest, PingAndTcpOverIpv6Loopback) {
  int probe = ::socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6);
  if (probe < 0) probe = ::socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
  if (probe < 0) GTEST_SKIP() << "neither ICMPv6 datagram nor raw sockets are permitted here";
  ::close(probe);
  MemberCheck ping = member("ping6", MonitorType::kPing, 0);
  ping.address = "::1";
  MemberCheck tcp = member("tcp6", MonitorType::kTcp, testing::closed_port(SOCK_STREAM), 1, 1);
  tcp.address = "::1";
  configure({ping, tcp});
  auto up = recorder_.wait_event("ping6", 0);
  auto down = recorder_.wait_event("tcp6", 0);
  ASSERT_TRUE(up && down);
  EXPECT_EQ(up->status, MemberStatus::kUp) << up->reason;
  EXPECT_EQ(down->status, MemberStatus::kDown) << down->reason;
  EXPECT_NE(down->reason.find("[::1]:"), std::string::npos) << down->reason;
}

TEST_F(HealthCheckerTest, SctpIsRejectedOrChecked) {
  uint16_t port = testing::closed_port(SOCK_STREAM);
  auto rejected = checker_.configure({member("m1", MonitorType::kSctp, port, 1, 1)});
  std::string reason;
  if (!monitor_type_supported(MonitorType::kSctp, &reason)) {
    // Unsupported must be loud: rejected with a reason, never silently UP.
    ASSERT_EQ(rejected.size(), 1u);
    EXPECT_EQ(rejected[0].member_id, "m1");
    EXPECT_NE(rejected[0].reason.find("SCTP is not supported"), std::string::npos) << rejected[0].reason;
    EXPECT_EQ(checker_.stats().members, 0u);
    EXPECT_EQ(checker_.status("m1"), MemberStatus::kUnknown);
    return;
  }
  ASSERT_TRUE(rejected.empty());
  auto down = recorder_.wait_event("m1", 0);  // nothing listens: the INIT gets an ABORT
  ASSERT_TRUE(down);
  EXPECT_EQ(down->status, MemberStatus::kDown) << down->reason;
}

TEST_F(HealthCheckerTest, RejectsInvalidEntries) {
  MemberCheck bad_address = member("a", MonitorType::kTcp, 80);
  bad_address.address = "not-an-ip";
  MemberCheck bad_codes = member("b", MonitorType::kHttp, 80);
  bad_codes.monitor.expected_codes = "2xx";
  MemberCheck bad_path = member("c", MonitorType::kHttp, 80);
  bad_path.monitor.url_path = "/x\r\nEvil: 1";
  MemberCheck no_port = member("d", MonitorType::kTcp, 0);
  MemberCheck good = member("e", MonitorType::kTcp, 80);
  MemberCheck duplicate = good;
  auto rejected = checker_.configure({bad_address, bad_codes, bad_path, no_port, good, duplicate});
  ASSERT_EQ(rejected.size(), 5u);
  EXPECT_EQ(rejected[0].member_id, "a");
  EXPECT_EQ(rejected[1].member_id, "b");
  EXPECT_EQ(rejected[2].member_id, "c");
  EXPECT_EQ(rejected[3].member_id, "d");
  EXPECT_EQ(rejected[4].reason, "duplicate member_id");
}

TEST_F(HealthCheckerTest, ReconfigureKeepsStateOfUnchangedMembers) {
  TestServer server(TestServer::Mode::kHttp);
  ASSERT_TRUE(server.start());
  MemberCheck kept = member("kept", MonitorType::kHttp, server.port());
  MemberCheck changed = member("changed", MonitorType::kHttp, server.port());
  configure({kept, changed});
  ASSERT_TRUE(recorder_.wait_event("kept", 0));
  ASSERT_TRUE(recorder_.wait_event("changed", 0));

  // "changed" gets a new monitor (fresh state, decided again); "gone" disappears.
  changed.monitor.url_path = "/other";
  MemberCheck added = member("added", MonitorType::kTcp, server.port());
  configure({kept, changed, added});
  auto changed_again = recorder_.wait_event("changed", 1);
  ASSERT_TRUE(changed_again);
  EXPECT_EQ(changed_again->status, MemberStatus::kUp);
  ASSERT_TRUE(recorder_.wait_event("added", 0));
  EXPECT_EQ(recorder_.count("kept"), 1u);  // still UP, not re-decided
  EXPECT_EQ(checker_.status("kept"), MemberStatus::kUp);

  configure({added});
  // Applied asynchronously: wait until the removal shows in stats.
  Clock::time_point deadline = Clock::now() + 5s;
  while (checker_.stats().members != 1u && Clock::now() < deadline) std::this_thread::yield();
  EXPECT_EQ(checker_.stats().members, 1u);
  EXPECT_EQ(checker_.status("kept"), MemberStatus::kUnknown);
  EXPECT_EQ(checker_.status("added"), MemberStatus::kUp);
}

TEST_F(HealthCheckerTest, FirstChecksSpreadOverTheDelay) {
  TestServer server(TestServer::Mode::kHttp);
  ASSERT_TRUE(server.start());
  std::vector<MemberCheck> members;
  for (int i = 0; i < 100; ++i) members.push_back(member("m" + std::to_string(i), MonitorType::kTcp, server.port()));
  Clock::time_point configured = Clock::now();
  configure(members);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(recorder_.wait_event("m" + std::to_string(i), 0));
  auto events = recorder_.all();
  auto [first, last] = std::minmax_element(events.begin(), events.end(),
                                           [](const auto& a, const auto& b) { return a.at < b.at; });
  // Uniform over 1 s: 100 starts spanning less than half of it would be vanishingly unlikely.
  EXPECT_GT(last->at - first->at, 500ms);
  EXPECT_LT(last->at - configured, 1500ms);
}

TEST_F(HealthCheckerTest, CallbackExceptionsAreContained) {
  bool threw = false;
  TestServer server(TestServer::Mode::kHttp);
  ASSERT_TRUE(server.start());
  {
    HealthChecker throwing([&](const std::string&, MemberStatus, const std::string&) {
      threw = true;
      throw std::runtime_error("callback bug");
    });
    throwing.configure({member("m1", MonitorType::kTcp, server.port())});
    Clock::time_point deadline = Clock::now() + 5s;
    while (throwing.stats().callback_exceptions == 0 && Clock::now() < deadline) std::this_thread::yield();
    EXPECT_EQ(throwing.stats().callback_exceptions, 1u);
    EXPECT_EQ(throwing.status("m1"), MemberStatus::kUp);
  }
  EXPECT_TRUE(threw);
}

}  // namespace
}  // namespace pharos::health
