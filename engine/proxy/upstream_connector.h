// Finds a member for one transaction and connects to it: reuses an idle pooled connection when
// allowed, else connects with timeout_member_connect, trying other members after a failure,
// up to the pool's connect_retries.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/net/event_handles.h"
#include "engine/proxy/worker_context.h"
#include "engine/records/transaction_record.h"

namespace pharos::proxy {

class UpstreamConnector {
 public:
  class Observer {
   public:
    virtual ~Observer() = default;
    // A connected member connection, or a pooled one (reused). Called at most once per start().
    // The connection is already counted (member stats, balancer); hand it back with release().
    virtual void on_upstream_connected(net::BufferEventPtr connection, int member_index,
                                       bool reused) = 0;
    // No member could be connected: kNoMember (none eligible) or kConnectFailed.
    virtual void on_upstream_failed(records::Termination why) = 0;
  };

  UpstreamConnector(WorkerContext& worker, Observer& observer) : worker_(worker), observer_(observer) {}
  ~UpstreamConnector() { cancel(); }
  UpstreamConnector(const UpstreamConnector&) = delete;
  UpstreamConnector& operator=(const UpstreamConnector&) = delete;

  // May call the observer before returning (pooled connection, or nothing eligible).
  // sticky_member: the member session persistence keeps this client on, tried first while it
  // is eligible; -1: the balancer chooses.
  void start(WorkerSnapshot* snapshot, int pool_index, uint64_t client_hash,
             uint32_t connect_timeout_ms, bool reuse_idle, int sticky_member = -1);
  void cancel();

  // Gives back the connection on_upstream_connected handed out for `member_index` (of the pool
  // of the last start()): the member's active count and its balancer drop it, and it goes to the
  // worker's idle pool when `reusable` and nothing is left unsent or unread on it; otherwise it
  // is closed.
  void release(net::BufferEventPtr connection, int member_index, bool reusable);

  uint8_t retries() const { return retries_; }
  uint32_t connect_us() const { return connect_us_; }

 private:
  static void on_connect_event(bufferevent* bev, short events, void* arg);
  void attempt();
  // Counts a connection about to go to the observer (the twin of release()).
  void count_open(int member_index, bool reused);

  WorkerContext& worker_;
  Observer& observer_;
  WorkerSnapshot* snapshot_ = nullptr;
  int pool_index_ = -1;
  uint64_t client_hash_ = 0;
  int sticky_member_ = -1;
  uint32_t connect_timeout_ms_ = 0;
  bool reuse_idle_ = false;
  std::vector<bool> tried_;
  int attempts_left_ = 0;
  int current_member_ = -1;
  uint8_t retries_ = 0;
  uint64_t connect_started_us_ = 0;
  uint32_t connect_us_ = 0;
  net::BufferEventPtr pending_;
};

}  // namespace pharos::proxy
