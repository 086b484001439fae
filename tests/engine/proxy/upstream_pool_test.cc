// The pool of idle member connections on Unix socket pairs: most recent first, idle expiry (at
// take and by the sweep), a member's close, and the timers a taken connection starts with.
#include "engine/proxy/upstream_pool.h"

#include <event2/bufferevent_struct.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

namespace pharos::proxy {
namespace {

class UpstreamPoolTest : public ::testing::Test {
 protected:
  void SetUp() override { base_.reset(event_base_new()); }
  void TearDown() override {
    pool_.reset();
    base_.reset();
    for (int fd : peers_) close(fd);
  }
  void make_pool(uint32_t idle_timeout_ms) {
    pool_ = std::make_unique<UpstreamPool>(base_.get(), 8, idle_timeout_ms);
  }
  // A connection as a session leaves it: reads enabled, its member data timeouts set.
  net::BufferEventPtr connection(uint32_t timeout_ms = 5000) {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    peers_.push_back(fds[1]);
    net::BufferEventPtr bev(bufferevent_socket_new(base_.get(), fds[0], BEV_OPT_CLOSE_ON_FREE));
    timeval timeout = net::timeval_from_ms(timeout_ms);
    bufferevent_set_timeouts(bev.get(), &timeout, &timeout);
    bufferevent_enable(bev.get(), EV_READ);
    return bev;
  }
  void run_for_ms(int ms) {
    timeval tv = net::timeval_from_ms(static_cast<uint32_t>(ms));
    event_base_loopexit(base_.get(), &tv);
    event_base_dispatch(base_.get());
  }
  static timeval read_expiry(bufferevent* bev) {
    timeval expiry{};
    event_pending(&bev->ev_read, EV_TIMEOUT, &expiry);
    return expiry;
  }
  static bool same(const timeval& a, const timeval& b) { return a.tv_sec == b.tv_sec && a.tv_usec == b.tv_usec; }

  net::EventBasePtr base_;
  std::unique_ptr<UpstreamPool> pool_;
  std::vector<int> peers_;
};

TEST_F(UpstreamPoolTest, MostRecentFirstAndNoneOnceEmpty) {
  make_pool(30000);
  net::BufferEventPtr first = connection();
  net::BufferEventPtr second = connection();
  bufferevent* second_raw = second.get();
  pool_->put("m:80", std::move(first));
  pool_->put("m:80", std::move(second));
  EXPECT_EQ(pool_->idle_count(), 2u);
  EXPECT_EQ(pool_->take("other:80"), nullptr);
  net::BufferEventPtr got = pool_->take("m:80");
  EXPECT_EQ(got.get(), second_raw);
  EXPECT_NE(pool_->take("m:80"), nullptr);
  EXPECT_EQ(pool_->take("m:80"), nullptr);
}

// Parking, taking and dropping move list nodes between endpoints and the pool's spares: each
// endpoint still gets back only its own connections, most recent first, and a dropped one is
// never handed out.
TEST_F(UpstreamPoolTest, EndpointsKeepTheirOwnConnectionsThroughReuse) {
  make_pool(30000);
  for (int round = 0; round < 3; ++round) {
    net::BufferEventPtr a1 = connection();
    const int a1_peer = peers_.back();
    net::BufferEventPtr a2 = connection();
    net::BufferEventPtr b1 = connection();
    bufferevent* a2_raw = a2.get();
    bufferevent* b1_raw = b1.get();
    pool_->put("a:80", std::move(a1));
    pool_->put("a:80", std::move(a2));
    pool_->put("b:80", std::move(b1));
    shutdown(a1_peer, SHUT_WR);  // the member closes a1, the older of a:80's two, while it is idle
    run_for_ms(30);
    EXPECT_EQ(pool_->idle_count(), 2u) << "round " << round;

    net::BufferEventPtr got = pool_->take("a:80");
    EXPECT_EQ(got.get(), a2_raw) << "round " << round;
    pool_->put("a:80", std::move(got));
    EXPECT_EQ(pool_->take("b:80").get(), b1_raw) << "round " << round;
    EXPECT_EQ(pool_->take("b:80"), nullptr) << "round " << round;
    EXPECT_EQ(pool_->take("a:80").get(), a2_raw) << "round " << round;
    EXPECT_EQ(pool_->take("a:80"), nullptr) << "round " << round;
    EXPECT_EQ(pool_->idle_count(), 0u) << "round " << round;
  }
}

TEST_F(UpstreamPoolTest, AConnectionIdleBeyondTheTimeoutIsNotTaken) {
  make_pool(40);
  pool_->put("m:80", connection());
  usleep(80 * 1000);  // no loop ran: take() itself finds it expired
  EXPECT_EQ(pool_->take("m:80"), nullptr);
  EXPECT_EQ(pool_->idle_count(), 0u);
}

TEST_F(UpstreamPoolTest, TheSweepClosesExpiredConnections) {
  make_pool(40);
  pool_->put("m:80", connection());
  run_for_ms(150);
  EXPECT_EQ(pool_->idle_count(), 0u);
  char byte;
  EXPECT_EQ(recv(peers_.back(), &byte, 1, MSG_DONTWAIT), 0);  // the member sees the close
}

TEST_F(UpstreamPoolTest, AMemberCloseDropsTheIdleConnection) {
  make_pool(30000);
  pool_->put("m:80", connection());
  shutdown(peers_.back(), SHUT_WR);
  run_for_ms(50);
  EXPECT_EQ(pool_->idle_count(), 0u);
}

TEST_F(UpstreamPoolTest, ItsLastUsersReadTimeoutClosesAnIdleConnection) {
  make_pool(30000);
  pool_->put("m:80", connection(30));
  run_for_ms(120);
  EXPECT_EQ(pool_->idle_count(), 0u);
}

TEST_F(UpstreamPoolTest, ATakenConnectionsTimersCountFromTheTake) {
  make_pool(30000);
  // Taken at once: its timers run on, as set (a re-arm would be wasted work).
  net::BufferEventPtr bev = connection(1000);
  bufferevent* raw = bev.get();
  timeval set_at = read_expiry(raw);
  pool_->put("m:80", std::move(bev));
  bev = pool_->take("m:80");
  EXPECT_TRUE(same(set_at, read_expiry(raw)));
  // Idle for more than 1% of its read timeout: restarted at the take, same timeouts.
  pool_->put("m:80", std::move(bev));
  usleep(40 * 1000);
  bev = pool_->take("m:80");
  ASSERT_EQ(bev.get(), raw);
  timeval now_expiry = read_expiry(raw);
  EXPECT_GT(now_expiry.tv_sec * 1000000 + now_expiry.tv_usec, set_at.tv_sec * 1000000 + set_at.tv_usec + 20000);
  EXPECT_EQ(raw->timeout_read.tv_sec, 1);
  EXPECT_EQ(raw->timeout_write.tv_sec, 1);
}

}  // namespace
}  // namespace pharos::proxy
