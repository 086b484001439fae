// TCP listeners (echo, half-close, large transfers) and who may connect: allowed_cidrs, IPv6,
// connection_limit.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <string>

#include "tests/engine/integration/harness.h"

namespace pharos::itest {
namespace {

using AccessTest = IntegrationTest;

struct TcpSetup {
  Member e1, e2;
  uint16_t port = 0;
  EngineHandle* engine = nullptr;
};

class TcpFixture : public IntegrationTest {
 protected:
  TcpSetup start_tcp() {
    TcpSetup s;
    s.e1 = start_member("e1", true);
    s.e2 = start_member("e2", true);
    s.port = free_port();
    json config = config_json(
        1, json::array({listener_json("tcp", s.port, "pool", "TCP")}),
        json::array({pool_json("pool", "ROUND_ROBIN",
                               json::array({member_json("e1", s.e1.port), member_json("e2", s.e2.port)}), "TCP")}));
    if (s.e1.process && s.e2.process) s.engine = start_engine(config);
    return s;
  }
};

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (size_t i = 0; i < n; i += 4) {
    uint32_t v = rng();
    std::memcpy(&out[i], &v, std::min<size_t>(4, n - i));
  }
  return out;
}

// Writes `data` while reading what comes back; half-closes after the last byte and reads to
// EOF. Returns what was read; `*clean` says whether it ended by EOF before the deadline.
std::string exchange(int fd, const std::string& data, int timeout_ms, bool* clean) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string received;
  size_t sent = 0;
  bool shut = false;
  *clean = false;
  while (Clock::now() < deadline) {
    if (sent == data.size() && !shut) {
      ::shutdown(fd, SHUT_WR);
      shut = true;
    }
    pollfd p{fd, static_cast<short>(POLLIN | (shut ? 0 : POLLOUT)), 0};
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    if (::poll(&p, 1, std::max(left, 1)) <= 0) continue;
    if (p.revents & POLLOUT) {
      ssize_t n = ::send(fd, data.data() + sent, std::min<size_t>(data.size() - sent, 256 * 1024),
                         MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) sent += static_cast<size_t>(n);
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      char chunk[256 * 1024];
      ssize_t n = ::recv(fd, chunk, sizeof(chunk), MSG_DONTWAIT);
      if (n > 0) {
        received.append(chunk, static_cast<size_t>(n));
      } else if (n == 0) {
        *clean = shut;
        return received;
      } else if (errno != EAGAIN && errno != EINTR) {
        return received;
      }
    }
  }
  return received;
}

TEST_F(TcpFixture, EchoHalfCloseAndLargeTransfer) {
  TcpSetup s = start_tcp();
  ASSERT_NE(s.engine, nullptr);
  {
    SCOPED_TRACE("small echo");
    HttpConnection c(s.port);
    ASSERT_TRUE(c.send("hello pharos\n"));
    bool clean = false;
    std::string got = exchange(c.fd(), "", 5000, &clean);
    EXPECT_EQ(got, "hello pharos\n");
    EXPECT_TRUE(clean);
  }
  {
    SCOPED_TRACE("half-close: echoed bytes and EOF still arrive after SHUT_WR");
    HttpConnection c(s.port);
    std::string data = random_bytes(200 * 1024, 1);
    ASSERT_TRUE(c.send(data));
    c.shutdown_write();
    bool clean = false;
    std::string got = exchange(c.fd(), "", 5000, &clean);
    EXPECT_EQ(got.size(), data.size());
    EXPECT_TRUE(got == data);
    EXPECT_TRUE(clean) << "no EOF after the echo";
  }
  {
    SCOPED_TRACE("20 MB both ways");
    int fd = connect_tcp("127.0.0.1", s.port);
    ASSERT_GE(fd, 0);
    std::string data = random_bytes(20 * 1024 * 1024, 2);
    bool clean = false;
    std::string got = exchange(fd, data, 15000, &clean);
    ::close(fd);
    EXPECT_EQ(got.size(), data.size());
    EXPECT_TRUE(got == data) << "echoed bytes differ";
    EXPECT_TRUE(clean);
  }
  ASSERT_TRUE(wait_until([&] { return s.engine->stat("listeners", "tcp", "active_connections") == 0; }, 3000));
  json stats = s.engine->stats();
  const json& l = stats["listeners"]["tcp"];
  EXPECT_EQ(l["total_connections"], 3) << l.dump();
  EXPECT_GE(l["bytes_in"].get<uint64_t>(), 20u * 1024 * 1024);
  EXPECT_GE(l["bytes_out"].get<uint64_t>(), 20u * 1024 * 1024);
  EXPECT_EQ(stats["members"]["e1"]["total_connections"].get<uint64_t>() +
                stats["members"]["e2"]["total_connections"].get<uint64_t>(),
            3u);
}

// Sends a request and expects the connection to end without a single byte of response.
void expect_refused(uint16_t port, const std::string& address = "127.0.0.1") {
  HttpConnection c(address, port);
  if (!c.connected()) return;  // refused at connect: also fine
  c.send(get_request("/"));
  std::string got;
  EXPECT_TRUE(c.wait_closed(5000, &got)) << "the connection stayed open";
  EXPECT_TRUE(got.empty()) << "a refused client got bytes: " << got;
}

TEST_F(AccessTest, AllowedCidrsFilterClients) {
  Member m = start_member("m1");
  uint16_t deny_port = free_port(), allow_port = free_port();
  json deny = listener_json("deny", deny_port, "pool");
  deny["allowed_cidrs"] = {"10.0.0.0/8"};
  json allow = listener_json("allow", allow_port, "pool");
  allow["allowed_cidrs"] = {"127.0.0.0/8"};
  json config = config_json(1, json::array({deny, allow}),
                            json::array({pool_json("pool", "ROUND_ROBIN", json::array({member_json("m1", m.port)}))}));
  EngineHandle* engine = start_engine(config);
  ASSERT_NE(engine, nullptr);

  expect_refused(deny_port);
  HttpResponse r = http_get(allow_port, "/");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "m1\n");
  EXPECT_EQ(engine->stat("members", "m1", "total_connections"), 1u);
}

TEST_F(AccessTest, Ipv6LoopbackListenerWithAllowedCidr) {
  if (!has_ipv6_loopback()) GTEST_SKIP() << "this machine has no ::1";
  Member m = start_member("m1");
  uint16_t port = free_port("::1"), deny_port = free_port("::1");
  json listener = listener_json("v6", port, "pool", "HTTP", "::1");
  listener["allowed_cidrs"] = {"::1/128"};
  listener["insert_headers"] = {{"X-Forwarded-For", true}};
  json deny = listener_json("v6-deny", deny_port, "pool", "HTTP", "::1");
  deny["allowed_cidrs"] = {"127.0.0.0/8", "2001:db8::/32"};
  json config = config_json(1, json::array({listener, deny}),
                            json::array({pool_json("pool", "ROUND_ROBIN", json::array({member_json("m1", m.port)}))}));
  ASSERT_NE(start_engine(config), nullptr);
  HttpResponse r = http_get(port, "/echo", "::1");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("X-Forwarded-For: ::1\n"), std::string::npos) << r.body;
  expect_refused(deny_port, "::1");
}

TEST_F(AccessTest, ConnectionLimitRefusesBeyondTheLimit) {
  Member m = start_member("m1");
  uint16_t port = free_port();
  json listener = listener_json("listener", port, "pool");
  listener["connection_limit"] = 2;
  json config = config_json(1, json::array({listener}),
                            json::array({pool_json("pool", "ROUND_ROBIN", json::array({member_json("m1", m.port)}))}));
  EngineHandle* engine = start_engine(config);
  ASSERT_NE(engine, nullptr);

  // Two keep-alive clients, each proven accepted by a served request.
  auto first = std::make_unique<HttpConnection>(port);
  HttpConnection second(port);
  for (HttpConnection* c : {first.get(), &second}) {
    ASSERT_TRUE(c->send(get_request("/")));
    HttpResponse r = c->read_response();
    ASSERT_TRUE(r.ok) << r.error;
    ASSERT_EQ(r.status, 200);
  }
  expect_refused(port);
  // Still refused while both stay open.
  expect_refused(port);

  first.reset();
  ASSERT_TRUE(wait_until([&] { return engine->stat("listeners", "listener", "active_connections") == 1; }, 3000));
  HttpConnection third(port);
  ASSERT_TRUE(third.send(get_request("/")));
  HttpResponse r = third.read_response();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 200);
  // The second client was never disturbed.
  ASSERT_TRUE(second.send(get_request("/")));
  r = second.read_response();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 200);
}

}  // namespace
}  // namespace pharos::itest
