// What a session needs from the worker thread that owns it. Sessions see only this interface,
// so the proxy module does not depend on the worker's implementation.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/lb/balancer.h"
#include "engine/proxy/runtime_config.h"

struct event_base;

namespace pharos::net {
class WriteCoalescer;
}

namespace pharos::records {
struct TransactionRecord;
}

namespace pharos::proxy {

class UpstreamPool;
class H2MemberPool;

// A snapshot as one worker uses it: the shared immutable config plus this worker's balancers
// (balancers keep per-thread state, so each worker has its own).
struct WorkerSnapshot {
  std::shared_ptr<const Snapshot> shared;
  std::vector<std::unique_ptr<lb::Balancer>> balancers;  // one per pool, same index
};

// A client connection's owner object. The worker holds every live session.
class Session {
 public:
  virtual ~Session() = default;
  virtual void start() = 0;
  // Drain: finish the current transaction, then close; an idle connection closes now.
  virtual void drain() = 0;
  // The worker switched to a new snapshot. A session whose listener it removed drains (HTTP/2:
  // GOAWAY now, not at the client's next bytes); others move over at their next request.
  virtual void config_changed() {}
};

class WorkerContext {
 public:
  virtual ~WorkerContext() = default;
  virtual event_base* base() = 0;
  virtual uint32_t index() const = 0;
  // Ends the session: it is destroyed on the next loop turn, never inside its own callback.
  virtual void release(Session* session) = 0;
  // Replaces `from` (which gave its client connection to `to`) by `to`, and starts `to`:
  // h2c prior knowledge seen by an HttpSession, or ALPN "h2" after a TLS handshake. `from` is
  // released as by release(); call this from `from`'s own callback and touch nothing after.
  virtual void hand_over(Session* from, std::unique_ptr<Session> to) = 0;
  virtual UpstreamPool& upstream_pool() = 0;
  // Sends what a loop turn wrote to a connection in one write at the end of the turn; every
  // client and member connection is adopted by it (see engine/net/write_coalescer.h).
  virtual net::WriteCoalescer& write_coalescer() = 0;
  // This worker's h2 connections to members, shared by its sessions.
  virtual H2MemberPool& h2_member_pool() = 0;
  virtual void emit(const records::TransactionRecord& record) = 0;
  virtual bool draining() const = 0;
  // The newest snapshot; a keep-alive session moves to it between transactions.
  virtual const std::shared_ptr<WorkerSnapshot>& current_snapshot() const = 0;
  // Monotonic microseconds, and wall-clock microseconds since the epoch. Within one loop turn
  // both stay the time of their first read in it: what a turn does is timed as one instant.
  virtual uint64_t now_us() const = 0;
  virtual uint64_t wall_us() const = 0;
};

}  // namespace pharos::proxy
