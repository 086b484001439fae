// Load balancing: which member of a pool takes the next connection, for each of Octavia's
// lb_algorithm values. The algorithms live in round_robin.cc, least_connections.cc and
// source_hash.cc behind the internal Scheduler interface (scheduler.h); balancer.cc builds them
// and splits primary from backup members once for all of them.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "engine/config/config_types.h"
#include "engine/lb/function_ref.h"

struct sockaddr;

namespace pharos::lb {

// One pool member as the balancer sees it; its index in the span given to make_balancer() is
// the member index used everywhere below.
struct MemberSpec {
  std::string id;      // Octavia member id; places the member on the source-hash ring
  uint32_t weight = 1;  // 0 = never picked (drain)
  bool backup = false;  // picked only when no primary member can be
};

// The caller's per-pick filter: admin up, runtime status UP, not already tried for this client.
using EligibleFn = FunctionRef<bool(uint32_t member_index)>;

struct PickContext {
  uint64_t client_hash = 0;  // hash_client() of the peer; read by SOURCE_IP and SOURCE_IP_PORT
};

// A 64-bit hash of the peer's address (and port when with_port), identical across processes,
// restarts and hosts, so session persistence survives an engine restart. IPv4-mapped IPv6 peers
// hash like the IPv4 address. Returns 0 for a null peer or a family other than AF_INET/AF_INET6.
uint64_t hash_client(const sockaddr* peer, bool with_port);

class Balancer {
 public:
  virtual ~Balancer() = default;

  // Index of an eligible member to use, or -1 when none. Members with weight 0 are never
  // picked; backup members only when no primary member with weight > 0 is eligible.
  // One instance per worker thread: not thread safe. Never allocates.
  virtual int pick(const PickContext& ctx, EligibleFn eligible) = 0;

  // A connection to the member was established / has ended. Only LEAST_CONNECTIONS counts them;
  // unknown indexes and closes without a matching open are ignored.
  virtual void on_connection_open(uint32_t member_index) {}
  virtual void on_connection_close(uint32_t member_index) {}
};

// Builds the balancer for one pool's members (copied as needed; the span may die afterwards).
std::unique_ptr<Balancer> make_balancer(config::LbAlgorithm algorithm,
                                        std::span<const MemberSpec> members);

}  // namespace pharos::lb
