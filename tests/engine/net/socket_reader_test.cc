// The direct read path on real loopback TCP sockets: data, EOF, a reset, the read timeout, the
// high watermark, reads enabled before the switch, a TLS-style filter over a socket, and what is
// left alone.
#include "engine/net/socket_reader.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <string>

namespace pharos::net {
namespace {

// A connected loopback TCP pair: `ours` for the bufferevent, `peer` for the test to drive.
struct TcpPair {
  int ours = -1;
  int peer = -1;
};

TcpPair connected_pair() {
  TcpPair pair;
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (bind(listener, reinterpret_cast<sockaddr*>(&address), length) != 0 || listen(listener, 1) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    close(listener);
    return pair;
  }
  pair.peer = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(pair.peer, reinterpret_cast<sockaddr*>(&address), length) == 0) {
    pair.ours = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
  }
  close(listener);
  return pair;
}

class SocketReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pair_ = connected_pair();
    ASSERT_GE(pair_.ours, 0);
    ASSERT_GE(pair_.peer, 0);
    base_.reset(event_base_new());
    bev_ = bufferevent_socket_new(base_.get(), pair_.ours, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(bev_, &SocketReaderTest::on_read, nullptr, &SocketReaderTest::on_event, this);
  }

  void TearDown() override {
    if (bev_ != nullptr) bufferevent_free(bev_);
    base_.reset();
    if (pair_.peer >= 0) close(pair_.peer);
  }

  void send_peer(const std::string& data) {
    ASSERT_EQ(send(pair_.peer, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
  }

  // Runs the loop until `done` or `limit` has passed.
  template <typename Done>
  void run_until(Done done, std::chrono::milliseconds limit = std::chrono::seconds(2)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      timeval slice{0, 10000};
      event_base_loopexit(base_.get(), &slice);
      event_base_dispatch(base_.get());
    }
  }

  // Drains the input into received_ (unless holding it) and records the largest input seen.
  static void on_read(bufferevent* bev, void* arg) {
    auto* self = static_cast<SocketReaderTest*>(arg);
    evbuffer* input = bufferevent_get_input(bev);
    self->largest_input_ = std::max(self->largest_input_, evbuffer_get_length(input));
    ++self->read_callbacks_;
    if (self->hold_input_) return;
    std::string chunk(evbuffer_get_length(input), '\0');
    evbuffer_remove(input, chunk.data(), chunk.size());
    self->received_ += chunk;
  }
  static void on_event(bufferevent*, short what, void* arg) {
    auto* self = static_cast<SocketReaderTest*>(arg);
    self->events_ |= what;
    self->event_errno_ = errno;
  }

  TcpPair pair_;
  EventBasePtr base_;
  bufferevent* bev_ = nullptr;
  std::string received_;
  size_t largest_input_ = 0;
  int read_callbacks_ = 0;
  bool hold_input_ = false;
  short events_ = 0;
  int event_errno_ = 0;
};

TEST_F(SocketReaderTest, DataReachesTheInputAndTheReadCallback) {
  read_directly(bev_);
  EXPECT_TRUE(reads_directly(bev_));
  bufferevent_enable(bev_, EV_READ);
  send_peer("GET / HTTP/1.1\r\n\r\n");
  run_until([&] { return received_.size() == 18; });
  EXPECT_EQ(received_, "GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(events_, 0);
}

TEST_F(SocketReaderTest, LargeTransfersArriveWholeAndInOrder) {
  read_directly(bev_);
  bufferevent_enable(bev_, EV_READ);
  std::string sent;
  for (int i = 0; i < 200000; ++i) sent.push_back(static_cast<char>('a' + i % 26));
  send_peer(sent);
  run_until([&] { return received_.size() == sent.size(); });
  EXPECT_EQ(received_, sent);
  EXPECT_LE(largest_input_, 16384u) << "one read is capped at 16 KiB, as libevent caps it";
}

TEST_F(SocketReaderTest, PeerCloseIsReportedAsEofWhileReading) {
  read_directly(bev_);
  bufferevent_enable(bev_, EV_READ);
  send_peer("last words");
  shutdown(pair_.peer, SHUT_WR);
  run_until([&] { return events_ != 0; });
  EXPECT_EQ(received_, "last words");
  EXPECT_EQ(events_, BEV_EVENT_EOF | BEV_EVENT_READING);
  EXPECT_EQ(bufferevent_get_enabled(bev_) & EV_READ, 0) << "reading stops at EOF, as libevent stops it";
}

TEST_F(SocketReaderTest, ResetIsReportedAsErrorWithItsErrno) {
  read_directly(bev_);
  bufferevent_enable(bev_, EV_READ);
  linger abort_on_close{1, 0};
  setsockopt(pair_.peer, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof(abort_on_close));
  close(pair_.peer);
  pair_.peer = -1;
  run_until([&] { return events_ != 0; });
  EXPECT_EQ(events_, BEV_EVENT_ERROR | BEV_EVENT_READING);
  EXPECT_EQ(event_errno_, ECONNRESET);
}

TEST_F(SocketReaderTest, ReadTimeoutStillFires) {
  timeval timeout{0, 50000};
  bufferevent_set_timeouts(bev_, &timeout, nullptr);
  bufferevent_enable(bev_, EV_READ);
  read_directly(bev_);  // after enabling: the timeout must survive the switch
  run_until([&] { return events_ != 0; });
  EXPECT_EQ(events_, BEV_EVENT_TIMEOUT | BEV_EVENT_READING);
}

TEST_F(SocketReaderTest, DataSentBeforeTheSwitchIsNotLost) {
  bufferevent_enable(bev_, EV_READ);
  send_peer("early");
  event_base_loop(base_.get(), EVLOOP_NONBLOCK);  // libevent may or may not have read it yet
  read_directly(bev_);
  send_peer(" and late");
  run_until([&] { return received_.size() == 14; });
  EXPECT_EQ(received_, "early and late");
}

TEST_F(SocketReaderTest, HighWatermarkBoundsTheInputAndReadingResumesWhenDrained) {
  read_directly(bev_);
  bufferevent_setwatermark(bev_, EV_READ, 0, 1000);
  hold_input_ = true;
  bufferevent_enable(bev_, EV_READ);
  send_peer(std::string(5000, 'x'));
  run_until([&] { return evbuffer_get_length(bufferevent_get_input(bev_)) >= 1000; });
  run_until([] { return false; }, std::chrono::milliseconds(200));  // nothing more may be read
  EXPECT_EQ(evbuffer_get_length(bufferevent_get_input(bev_)), 1000u);

  hold_input_ = false;
  evbuffer_drain(bufferevent_get_input(bev_), 1000);  // below the watermark: reading resumes
  run_until([&] { return received_.size() == 4000; });
  EXPECT_EQ(received_, std::string(4000, 'x'));
  EXPECT_LE(largest_input_, 1000u);
}

TEST_F(SocketReaderTest, BufferEventsThatDeferTheirCallbacksGetTheirData) {
  int fd = dup(pair_.ours);
  bufferevent_free(bev_);
  bev_ = bufferevent_socket_new(base_.get(), fd, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
  bufferevent_setcb(bev_, &SocketReaderTest::on_read, nullptr, &SocketReaderTest::on_event, this);
  read_directly(bev_);
  bufferevent_enable(bev_, EV_READ);
  send_peer("deferred");
  run_until([&] { return received_.size() == 8; });
  EXPECT_EQ(received_, "deferred");
}

TEST_F(SocketReaderTest, FilterOverASocketReadsTheSocketDirectly) {
  bufferevent* filter = bufferevent_filter_new(bev_, nullptr, nullptr, BEV_OPT_CLOSE_ON_FREE, nullptr, nullptr);
  ASSERT_NE(filter, nullptr);
  bev_ = filter;  // owns the socket bufferevent now
  bufferevent_setcb(filter, &SocketReaderTest::on_read, nullptr, &SocketReaderTest::on_event, this);
  read_directly(filter);
  EXPECT_TRUE(reads_directly(filter));
  bufferevent_enable(filter, EV_READ);
  send_peer("through the filter");
  run_until([&] { return received_.size() == 18; });
  EXPECT_EQ(received_, "through the filter");
}

TEST_F(SocketReaderTest, OtherBufferEventsAreLeftAlone) {
  bufferevent* pair[2] = {nullptr, nullptr};
  ASSERT_EQ(bufferevent_pair_new(base_.get(), 0, pair), 0);
  read_directly(pair[0]);
  EXPECT_FALSE(reads_directly(pair[0]));
  bufferevent_free(pair[0]);
  bufferevent_free(pair[1]);

  bufferevent* unconnected = bufferevent_socket_new(base_.get(), -1, 0);
  read_directly(unconnected);
  EXPECT_FALSE(reads_directly(unconnected)) << "no fd yet: connect would undo it";
  bufferevent_free(unconnected);
}

}  // namespace
}  // namespace pharos::net
