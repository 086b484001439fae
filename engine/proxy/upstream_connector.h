// Finds a member for one transaction and connects to it: reuses an idle pooled connection when
// allowed, else connects with timeout_member_connect, trying other members after a failure,
// up to the pool's connect_retries. For a pool that speaks h2 to members (alpn_protocols), the
// transaction gets a stream's room on a shared h2 connection from the worker's H2MemberPool
// instead, or an HTTP/1.1 connection when the member chose HTTP/1.1 in ALPN.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/net/event_handles.h"
#include "engine/proxy/h2_member_pool.h"
#include "engine/proxy/worker_context.h"
#include "engine/records/transaction_record.h"

namespace pharos::proxy {

class UpstreamConnector final : private H2MemberPool::Waiter {
 public:
  class Observer {
   public:
    virtual ~Observer() = default;
    // A connected member connection, or a pooled one (reused). Called at most once per start().
    // The connection is already counted (member stats, balancer); hand it back with release().
    virtual void on_upstream_connected(net::BufferEventPtr connection, int member_index,
                                       bool reused) = 0;
    // An h2 connection to the member with room for this transaction's exchange: open it there
    // (H2MemberConnection::open). Called at most once per start(), instead of the above. The
    // exchange is counted by the balancer; hand it back with release_exchange().
    virtual void on_upstream_h2(H2MemberConnection& connection, int member_index, bool reused) = 0;
    // No member could be connected: kNoMember (none eligible) or kConnectFailed.
    virtual void on_upstream_failed(records::Termination why) = 0;
  };

  UpstreamConnector(WorkerContext& worker, Observer& observer) : worker_(worker), observer_(observer) {}
  ~UpstreamConnector() override { cancel(); }
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
  // Gives back the exchange on_upstream_h2 made room for (the balancer drops it).
  void release_exchange(int member_index);

  uint8_t retries() const { return retries_; }
  uint32_t connect_us() const { return connect_us_; }

 private:
  static void on_connect_event(bufferevent* bev, short events, void* arg);
  void attempt();
  // Starts an HTTP/1.1 connect to the member; false when it could not even start.
  bool connect_http1(int index);
  // H2MemberPool::Waiter
  void on_h2_ready(H2MemberConnection& connection) override;
  void on_h2_failed() override;
  void on_h2_declined(net::BufferEventPtr connection) override;
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
  bool waiting_h2_ = false;  // a Waiter of the worker's H2MemberPool
};

}  // namespace pharos::proxy
