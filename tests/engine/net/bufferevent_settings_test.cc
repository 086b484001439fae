// Settings that repeat a bufferevent's current ones leave its timers as they run; different
// ones apply as libevent's own calls do. The read event's expiry (event_pending) shows whether
// libevent re-armed it: the clock moves between the calls.
#include "engine/net/bufferevent_settings.h"

#include <event2/bufferevent_struct.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

namespace pharos::net {
namespace {

class BuffereventSettingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds_), 0);
    base_.reset(event_base_new());
    bev_.reset(bufferevent_socket_new(base_.get(), fds_[0], BEV_OPT_CLOSE_ON_FREE));
    ASSERT_NE(bev_, nullptr);
    timeval timeout = timeval_from_ms(5000);
    bufferevent_set_timeouts(bev_.get(), &timeout, &timeout);
    bufferevent_enable(bev_.get(), EV_READ);
  }
  void TearDown() override {
    bev_.reset();
    base_.reset();
    close(fds_[1]);
  }

  // When the read event's timer expires; all zero if it has none.
  timeval read_expiry() const {
    timeval expiry{};
    if (!event_pending(&bev_->ev_read, EV_TIMEOUT, &expiry)) return timeval{};
    return expiry;
  }
  static bool same(const timeval& a, const timeval& b) { return a.tv_sec == b.tv_sec && a.tv_usec == b.tv_usec; }
  // libevent's clock may be coarse (a few ms per tick).
  static void let_the_clock_move() { usleep(20 * 1000); }
  // The clock did move since `before` was read: a re-arm now gives another expiry. Guards the
  // "unchanged" checks against a clock that did not tick.
  void expect_a_rearm_moves(const timeval& before) {
    timeval read = bev_->timeout_read;
    timeval write = bev_->timeout_write;
    bufferevent_set_timeouts(bev_.get(), &read, &write);
    EXPECT_FALSE(same(before, read_expiry()));
  }

  int fds_[2] = {-1, -1};
  EventBasePtr base_;
  BufferEventPtr bev_;
};

TEST_F(BuffereventSettingsTest, LibeventRearmsTheReadTimerOnRepeatedSettings) {
  // What the functions under test avoid; also shows that read_expiry() sees a re-arm.
  timeval before = read_expiry();
  let_the_clock_move();
  timeval timeout = timeval_from_ms(5000);
  bufferevent_set_timeouts(bev_.get(), &timeout, &timeout);
  timeval after_timeouts = read_expiry();
  EXPECT_FALSE(same(before, after_timeouts));
  // A read watermark re-enables reading through the input's callback, re-arming the timer.
  bufferevent_setwatermark(bev_.get(), EV_READ, 0, 4096);
  let_the_clock_move();
  bufferevent_setwatermark(bev_.get(), EV_READ, 0, 4096);
  EXPECT_FALSE(same(after_timeouts, read_expiry()));
}

TEST_F(BuffereventSettingsTest, SameTimeoutsKeepTheRunningTimer) {
  timeval before = read_expiry();
  ASSERT_NE(before.tv_sec, 0);
  let_the_clock_move();
  timeval timeout = timeval_from_ms(5000);
  set_timeouts(bev_.get(), &timeout, &timeout);
  EXPECT_TRUE(same(before, read_expiry()));
  expect_a_rearm_moves(before);
}

TEST_F(BuffereventSettingsTest, DifferentTimeoutsApply) {
  timeval before = read_expiry();
  let_the_clock_move();
  timeval read = timeval_from_ms(7000);
  timeval write = timeval_from_ms(5000);
  set_timeouts(bev_.get(), &read, &write);
  EXPECT_FALSE(same(before, read_expiry()));
  EXPECT_EQ(bev_->timeout_read.tv_sec, 7);
  // Changing only the write timeout applies too; none is a null timeout.
  set_timeouts(bev_.get(), &read, nullptr);
  EXPECT_EQ(bev_->timeout_write.tv_sec, 0);
  EXPECT_EQ(bev_->timeout_write.tv_usec, 0);
  set_timeouts(bev_.get(), nullptr, nullptr);
  EXPECT_FALSE(event_pending(&bev_->ev_read, EV_TIMEOUT, nullptr));
  EXPECT_TRUE(event_pending(&bev_->ev_read, EV_READ, nullptr));
}

TEST_F(BuffereventSettingsTest, RestartingTimeoutsArmedLatelyLeavesThemRunning) {
  timeval before = read_expiry();
  let_the_clock_move();
  timeval timeout = timeval_from_ms(5000);
  restart_timeouts(bev_.get(), &timeout, &timeout, 50 * 1000);  // 50 ms of 5 s: under 1%
  EXPECT_TRUE(same(before, read_expiry()));
  expect_a_rearm_moves(before);
}

TEST_F(BuffereventSettingsTest, RestartingTimeoutsArmedLongAgoRearmsThem) {
  timeval before = read_expiry();
  let_the_clock_move();
  timeval timeout = timeval_from_ms(5000);
  restart_timeouts(bev_.get(), &timeout, &timeout, 60 * 1000);  // 60 ms of 5 s: over 1%
  EXPECT_FALSE(same(before, read_expiry()));
  // Other values apply in any case.
  timeval longer = timeval_from_ms(7000);
  restart_timeouts(bev_.get(), &longer, &timeout, 0);
  EXPECT_EQ(bev_->timeout_read.tv_sec, 7);
}

TEST_F(BuffereventSettingsTest, SameWatermarksKeepTheRunningTimer) {
  bufferevent_setwatermark(bev_.get(), EV_READ, 0, 4096);
  bufferevent_setwatermark(bev_.get(), EV_WRITE, 1024, 0);
  timeval before = read_expiry();
  let_the_clock_move();
  set_read_watermark(bev_.get(), 0, 4096);
  set_write_watermark(bev_.get(), 1024, 0);
  EXPECT_TRUE(same(before, read_expiry()));
  expect_a_rearm_moves(before);

  set_read_watermark(bev_.get(), 0, 8192);
  set_write_watermark(bev_.get(), 2048, 0);
  EXPECT_EQ(bev_->wm_read.high, 8192u);
  EXPECT_EQ(bev_->wm_write.low, 2048u);
}

TEST_F(BuffereventSettingsTest, EnableTouchesOnlyWhatIsNotEnabledYet) {
  timeval before = read_expiry();
  let_the_clock_move();
  enable(bev_.get(), EV_READ);
  EXPECT_TRUE(same(before, read_expiry()));

  enable(bev_.get(), EV_READ | EV_WRITE);
  EXPECT_EQ(bufferevent_get_enabled(bev_.get()), EV_READ | EV_WRITE);
  EXPECT_TRUE(same(before, read_expiry()));
  expect_a_rearm_moves(before);

  bufferevent_disable(bev_.get(), EV_READ);
  enable(bev_.get(), EV_READ);
  EXPECT_TRUE(event_pending(&bev_->ev_read, EV_READ, nullptr));
}

}  // namespace
}  // namespace pharos::net
