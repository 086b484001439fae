// A worker thread on its own: tasks posted from another thread run on it (through its
// eventfd inbox), and its clock gives one time per loop turn, later in a later turn.
#include "engine/core/worker.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>
#include <vector>

namespace pharos::core {
namespace {

struct Times {
  uint64_t first = 0;
  uint64_t second = 0;
  uint64_t next_turn = 0;
  uint64_t wall_first = 0;
  uint64_t wall_second = 0;
};

struct LaterTurn {
  Worker* worker;
  Times* times;
  std::promise<void>* done;
};

void on_later_turn(evutil_socket_t, short, void* arg) {
  auto* later = static_cast<LaterTurn*>(arg);
  later->times->next_turn = later->worker->now_us();
  later->done->set_value();
}

TEST(WorkerTest, PostedTasksRunOnTheWorkerThreadInOrder) {
  Worker worker(0, "");
  worker.start();
  std::promise<std::vector<int>> result;
  auto seen = std::make_shared<std::vector<int>>();
  const auto caller = std::this_thread::get_id();
  for (int i = 0; i < 3; ++i) {
    worker.post([seen, i, caller] {
      if (std::this_thread::get_id() != caller) seen->push_back(i);
    });
  }
  worker.post([seen, &result] { result.set_value(*seen); });
  auto future = result.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(future.get(), (std::vector<int>{0, 1, 2}));
  worker.stop();
}

TEST(WorkerTest, TheClockGivesOneTimePerLoopTurn) {
  Worker worker(0, "");
  worker.start();
  Times times;
  std::promise<void> done;
  LaterTurn later{&worker, &times, &done};
  worker.post([&] {
    times.first = worker.now_us();
    times.wall_first = worker.wall_us();
    // 300 µs of work inside the turn do not move the clock.
    auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(300);
    while (std::chrono::steady_clock::now() < until) {
    }
    times.second = worker.now_us();
    times.wall_second = worker.wall_us();
    timeval in_a_while{0, 2000};
    event_base_once(worker.base(), -1, EV_TIMEOUT, &on_later_turn, &later, &in_a_while);
  });
  auto future = done.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  worker.stop();
  EXPECT_NE(times.first, 0u);
  EXPECT_EQ(times.first, times.second);
  EXPECT_EQ(times.wall_first, times.wall_second);
  EXPECT_GE(times.next_turn, times.first + 2000);  // the later turn came 2 ms after
}

}  // namespace
}  // namespace pharos::core
