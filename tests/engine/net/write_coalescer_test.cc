// The write coalescer on real sockets (a connected Unix stream pair): what one loop turn
// writes leaves together without write interest, a full socket falls back to libevent, a dead
// peer is reported as a write error, and an owner may free its bufferevent while it is queued.
#include "engine/net/write_coalescer.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <functional>
#include <string>
#include <vector>

namespace pharos::net {
namespace {

class WriteCoalescerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::signal(SIGPIPE, SIG_IGN);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds_), 0);
    base_.reset(event_base_new());
    coalescer_ = std::make_unique<WriteCoalescer>(base_.get());
    bev_ = bufferevent_socket_new(base_.get(), fds_[0], BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(bev_, nullptr, &WriteCoalescerTest::on_write, &WriteCoalescerTest::on_event, this);
    bufferevent_enable(bev_, EV_READ);
    coalescer_->adopt(bev_);
  }

  void TearDown() override {
    if (bev_ != nullptr) bufferevent_free(bev_);
    coalescer_.reset();
    base_.reset();
    if (fds_[1] >= 0) close(fds_[1]);
  }

  // Runs `step` as one loop turn's callback, then lets the loop finish that turn.
  void run_turn(std::function<void()> step) {
    step_ = std::move(step);
    EventPtr timer(evtimer_new(base_.get(), &WriteCoalescerTest::on_step, this));
    timeval now{0, 0};
    evtimer_add(timer.get(), &now);
    event_base_loop(base_.get(), EVLOOP_ONCE);
    event_base_loop(base_.get(), EVLOOP_NONBLOCK);
  }

  std::string read_peer() {
    std::string out;
    char buf[65536];
    for (;;) {
      ssize_t n = recv(fds_[1], buf, sizeof(buf), MSG_DONTWAIT);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

  static void on_step(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<WriteCoalescerTest*>(arg);
    self->step_();
    self->queued_after_step_ = self->coalescer_->queued();
  }
  static void on_write(bufferevent*, void* arg) { ++static_cast<WriteCoalescerTest*>(arg)->write_callbacks_; }
  static void on_event(bufferevent*, short what, void* arg) { static_cast<WriteCoalescerTest*>(arg)->events_ |= what; }

  int fds_[2] = {-1, -1};
  EventBasePtr base_;
  std::unique_ptr<WriteCoalescer> coalescer_;
  bufferevent* bev_ = nullptr;
  std::function<void()> step_;
  size_t queued_after_step_ = 0;
  int write_callbacks_ = 0;
  short events_ = 0;
};

TEST_F(WriteCoalescerTest, AdoptionDisablesWriteInterest) {
  EXPECT_EQ(bufferevent_get_enabled(bev_) & EV_WRITE, 0);
  EXPECT_NE(bufferevent_get_enabled(bev_) & EV_READ, 0);
}

TEST_F(WriteCoalescerTest, WhatATurnWritesLeavesAtItsEndTogether) {
  std::string seen_during_turn = "unset";
  run_turn([&] {
    bufferevent_write(bev_, "HTTP/1.1 200 OK\r\n", 17);
    bufferevent_write(bev_, "Content-Length: 2\r\n\r\n", 21);
    bufferevent_write(bev_, "ok", 2);
    seen_during_turn = read_peer();  // nothing has left yet
  });
  EXPECT_EQ(seen_during_turn, "");
  EXPECT_EQ(queued_after_step_, 1u);  // one entry for three writes
  EXPECT_EQ(read_peer(), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  EXPECT_EQ(evbuffer_get_length(bufferevent_get_output(bev_)), 0u);
  EXPECT_EQ(bufferevent_get_enabled(bev_) & EV_WRITE, 0);  // never asked epoll for EPOLLOUT
  EXPECT_EQ(write_callbacks_, 1);  // as libevent runs it after its own write
  EXPECT_EQ(coalescer_->queued(), 0u);
}

// A producer (an HTTP/2 session) writes at the start of the flush, into the same send as
// what the turn wrote directly; asked twice, it runs once; withdrawn, it does not run.
class CountingProducer : public WriteCoalescer::Producer {
 public:
  explicit CountingProducer(bufferevent* bev) : bev_(bev) {}
  void produce() override {
    ++runs;
    bufferevent_write(bev_, "frames", 6);
  }
  int runs = 0;

 private:
  bufferevent* bev_;
};

TEST_F(WriteCoalescerTest, AProducerWritesAtTheFlushIntoTheSameSend) {
  CountingProducer producer(bev_);
  run_turn([&] {
    bufferevent_write(bev_, "head;", 5);
    coalescer_->produce_at_flush(&producer);
    EXPECT_EQ(producer.runs, 0);  // not inside the turn's own callbacks
  });
  EXPECT_EQ(producer.runs, 1);
  EXPECT_EQ(read_peer(), "head;frames");
  EXPECT_EQ(write_callbacks_, 1);
}

TEST_F(WriteCoalescerTest, AProducerAloneStartsAFlushAndAWithdrawnOneDoesNotRun) {
  CountingProducer first(bev_);
  CountingProducer withdrawn(bev_);
  run_turn([&] {
    coalescer_->produce_at_flush(&first);
    coalescer_->produce_at_flush(&withdrawn);
    coalescer_->withdraw(&withdrawn);
  });
  EXPECT_EQ(first.runs, 1);
  EXPECT_EQ(withdrawn.runs, 0);
  EXPECT_EQ(read_peer(), "frames");
  run_turn([] {});
  EXPECT_EQ(first.runs, 1);  // once per request
}

TEST_F(WriteCoalescerTest, AnOutputOfManyChainsLeavesWholeInOneTurn) {
  // Each evbuffer_add_reference is a chain of its own: 300 of them are more than one sendmsg
  // takes, and the socket has room for all of them.
  std::vector<std::string> pieces;
  for (int i = 0; i < 300; ++i) pieces.push_back("piece-" + std::to_string(i) + ";");
  std::string expected;
  for (const std::string& piece : pieces) expected += piece;
  run_turn([&] {
    for (const std::string& piece : pieces) {
      evbuffer_add_reference(bufferevent_get_output(bev_), piece.data(), piece.size(), nullptr, nullptr);
    }
  });
  EXPECT_EQ(read_peer(), expected);
  EXPECT_EQ(bufferevent_get_enabled(bev_) & EV_WRITE, 0) << "sent in the turn, not left to EPOLLOUT";
  EXPECT_EQ(write_callbacks_, 1);
}

TEST_F(WriteCoalescerTest, AFullSocketFallsBackToLibevent) {
  int small = 4096;
  setsockopt(fds_[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
  std::string big(4 * 1024 * 1024, 'x');
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + (i / 4096) % 26);
  run_turn([&] { bufferevent_write(bev_, big.data(), big.size()); });
  EXPECT_GT(evbuffer_get_length(bufferevent_get_output(bev_)), 0u);
  EXPECT_NE(bufferevent_get_enabled(bev_) & EV_WRITE, 0);  // libevent finishes the job
  std::string received;
  for (int turns = 0; turns < 100000 && received.size() < big.size(); ++turns) {
    received += read_peer();
    event_base_loop(base_.get(), EVLOOP_NONBLOCK);
  }
  EXPECT_EQ(received.size(), big.size());
  EXPECT_TRUE(received == big);
  EXPECT_GE(write_callbacks_, 1);
  // The next turn's write goes out directly again and drops the write interest.
  run_turn([&] { bufferevent_write(bev_, "more", 4); });
  EXPECT_EQ(read_peer(), "more");
  EXPECT_EQ(bufferevent_get_enabled(bev_) & EV_WRITE, 0);
}

TEST_F(WriteCoalescerTest, ADeadPeerIsReportedAsAWriteError) {
  close(fds_[1]);
  fds_[1] = -1;
  run_turn([&] { bufferevent_write(bev_, "lost", 4); });
  for (int turns = 0; turns < 100 && events_ == 0; ++turns) event_base_loop(base_.get(), EVLOOP_NONBLOCK);
  EXPECT_NE(events_ & BEV_EVENT_ERROR, 0);
  EXPECT_NE(events_ & BEV_EVENT_WRITING, 0);
}

TEST_F(WriteCoalescerTest, AnOwnerMayFreeItsBufferEventWhileQueued) {
  run_turn([&] {
    bufferevent_write(bev_, "dropped", 7);
    bufferevent_free(bev_);  // as libevent drops the output of a freed bufferevent
    bev_ = nullptr;
  });
  EXPECT_EQ(coalescer_->queued(), 0u);
  char c;
  EXPECT_EQ(recv(fds_[1], &c, 1, MSG_DONTWAIT), 0);  // closed, nothing sent
}

TEST_F(WriteCoalescerTest, DestroyingTheCoalescerReleasesWhatIsQueued) {
  bufferevent_write(bev_, "queued", 6);  // outside any turn: stays queued
  EXPECT_EQ(coalescer_->queued(), 1u);
  coalescer_.reset();
  // Without a coalescer the bufferevent writes for itself.
  bufferevent_write(bev_, "!", 1);
  for (int turns = 0; turns < 100 && evbuffer_get_length(bufferevent_get_output(bev_)) > 0; ++turns) {
    event_base_loop(base_.get(), EVLOOP_NONBLOCK);
  }
  EXPECT_EQ(read_peer(), "queued!");
}

}  // namespace
}  // namespace pharos::net
