// Member health checking for one amphora: Octavia HealthMonitor semantics (HTTP, HTTPS, TCP,
// PING, TLS-HELLO, UDP-CONNECT, SCTP), all checks non-blocking on one dedicated thread.
//
// Status model. A configured member starts UNKNOWN and is assumed UP until decided otherwise,
// as HAProxy does: its first successful check reports UP, and max_retries_down (fall) failed
// checks in a row report DOWN. From DOWN, max_retries (rise) successes in a row report UP; from
// UP, fall failures in a row report DOWN. Only decisions are reported, never repeats.
//
// Timing. A new member's first check starts at a random point within its delay so that many
// members do not fire together; later checks start every delay after that (immediately after
// the previous one when a check took longer than delay). Each check is bounded by timeout.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "amphora_agent/health/health_types.h"

namespace pharos::health {

class HealthChecker {
 public:
  // Starts the checker thread with an empty set. on_status runs on that thread: it must not
  // block and must not destroy this HealthChecker. Throws std::runtime_error if the event loop
  // or the TLS context cannot be created.
  explicit HealthChecker(StatusCallback on_status);
  // Stops the thread and cancels running checks; no callback runs after it returns.
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // Replaces the whole desired set; thread-safe, returns at once, applied on the checker thread.
  // Members whose entry is unchanged (same id, pool, addresses and monitor) keep their status
  // and counters; others start fresh; absent ones stop. Entries that cannot be checked (invalid
  // values, duplicate id, type unsupported on this host such as SCTP without kernel support)
  // are returned and left out; they get no status.
  std::vector<RejectedMember> configure(const std::vector<MemberCheck>& members);

  // The last decision for a member; kUnknown before one and for members not configured.
  MemberStatus status(const std::string& member_id) const;
  // Counters and the checker thread's CPU time; thread-safe.
  CheckerStats stats() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace pharos::health
