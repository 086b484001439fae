// One event-loop thread. It owns its accept events (one SO_REUSEPORT socket per listener), the
// sessions it accepted, its idle member connections and its record writer. Other threads talk
// to it only through post().
#pragma once

#include <atomic>
#include <ctime>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/core/record_writer.h"
#include "engine/net/event_handles.h"
#include "engine/net/socket_ops.h"
#include "engine/net/write_coalescer.h"
#include "engine/proxy/h2_member_pool.h"
#include "engine/proxy/upstream_pool.h"
#include "engine/proxy/worker_context.h"

namespace pharos::core {

class Worker final : public proxy::WorkerContext {
 public:
  Worker(uint32_t index, const std::string& records_socket);
  ~Worker() override;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void start();
  // Runs task on the worker thread, soon. Thread safe: the only way other threads reach the
  // worker, whose event base has no lock.
  void post(std::function<void()> task);
  // Ends the loop and joins the thread; sessions still open are closed.
  void stop();

  // Worker thread only (call through post): switch to a new snapshot and accept on exactly
  // these sockets (socket key -> this worker's fd, owned by the caller).
  void apply(std::shared_ptr<const proxy::Snapshot> snapshot,
             const std::map<std::string, int>& accept_fds);
  // Worker thread only: stop accepting and ask every session to finish.
  void begin_drain();
  size_t session_count() const { return session_count_.load(std::memory_order_relaxed); }
  uint64_t records_written() const { return records_.written(); }
  uint64_t records_dropped() const { return records_.dropped(); }

  // WorkerContext
  event_base* base() override { return base_.get(); }
  uint32_t index() const override { return index_; }
  void release(proxy::Session* session) override;
  void hand_over(proxy::Session* from, std::unique_ptr<proxy::Session> to) override;
  proxy::UpstreamPool& upstream_pool() override { return *upstream_pool_; }
  net::WriteCoalescer& write_coalescer() override { return *write_coalescer_; }
  proxy::H2MemberPool& h2_member_pool() override { return *h2_member_pool_; }
  void emit(const records::TransactionRecord& record) override { records_.emit(record); }
  bool draining() const override { return draining_; }
  const std::shared_ptr<proxy::WorkerSnapshot>& current_snapshot() const override { return current_; }
  uint64_t now_us() const override;
  uint64_t wall_us() const override;

 private:
  struct AcceptPoint {
    Worker* worker = nullptr;
    std::string key;
    int fd = -1;
    net::EventPtr event;
  };
  static void on_accept(evutil_socket_t fd, short, void* arg);
  static void on_inbox(evutil_socket_t, short, void* arg);
  static void on_cleanup(evutil_socket_t, short, void* arg);
  void accept_from(AcceptPoint& point);
  void admit(int fd, const sockaddr_storage& peer, const proxy::ListenerRuntime& listener);
  void deny(const sockaddr_storage& peer, const proxy::ListenerRuntime& listener);
  // Holds `session` among the live ones and starts it.
  void adopt(std::unique_ptr<proxy::Session> session);

  // The time of the first read in the current loop turn (worker.cc).
  class TurnClock {
   public:
    uint64_t read(event_base* base, clockid_t clock);

   private:
    timeval turn_{};
    uint64_t us_ = 0;
    bool valid_ = false;
  };

  uint32_t index_;
  net::EventBasePtr base_;
  mutable TurnClock monotonic_;
  mutable TurnClock wall_;
  net::UniqueFd inbox_fd_;  // eventfd: post() wakes the loop through it
  net::EventPtr inbox_event_;
  net::EventPtr cleanup_event_;
  std::mutex inbox_mutex_;
  std::deque<std::function<void()>> inbox_;
  std::thread thread_;
  std::map<std::string, std::unique_ptr<AcceptPoint>> accept_points_;
  std::unordered_map<proxy::Session*, std::unique_ptr<proxy::Session>> sessions_;
  std::vector<std::unique_ptr<proxy::Session>> released_;
  std::atomic<size_t> session_count_{0};
  std::shared_ptr<proxy::WorkerSnapshot> current_;
  std::unique_ptr<proxy::UpstreamPool> upstream_pool_;
  // Outlives every connection of this worker; destroyed on the worker thread after them.
  std::unique_ptr<net::WriteCoalescer> write_coalescer_;
  std::unique_ptr<proxy::H2MemberPool> h2_member_pool_;
  RecordWriter records_;
  bool draining_ = false;
};

}  // namespace pharos::core
