// Internal to the lb module: one algorithm choosing among one tier of a pool (the primary
// members, or the backup members). balancer.cc does the tier split and the index mapping, so an
// algorithm only ever sees members it may pick, all with weight > 0.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "engine/lb/balancer.h"

namespace pharos::lb {

struct TierMember {
  uint32_t index = 0;    // member index in the pool, passed to EligibleFn and returned by pick()
  uint32_t weight = 1;   // always > 0
  std::string_view id;   // valid only while the scheduler is being built
};

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  // Pool member index of an eligible member of this tier, or -1 when none is eligible.
  virtual int pick(const PickContext& ctx, EligibleFn eligible) = 0;
  // slot = position of the member in the span the scheduler was built from.
  virtual void on_connection_open(uint32_t slot) {}
  virtual void on_connection_close(uint32_t slot) {}
};

// Each takes a non-empty tier.
std::unique_ptr<Scheduler> make_round_robin(std::span<const TierMember> tier);
std::unique_ptr<Scheduler> make_least_connections(std::span<const TierMember> tier);
std::unique_ptr<Scheduler> make_source_hash(std::span<const TierMember> tier);

}  // namespace pharos::lb
