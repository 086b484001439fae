// Helpers shared by the lb tests: building pools and counting picks.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/lb/balancer.h"

namespace pharos::lb::testing {

// Members named m0, m1, ... with the given weights (all primary).
inline std::vector<MemberSpec> members_with_weights(const std::vector<uint32_t>& weights) {
  std::vector<MemberSpec> members;
  for (size_t i = 0; i < weights.size(); ++i) {
    members.push_back(MemberSpec{"m" + std::to_string(i), weights[i], false});
  }
  return members;
}

inline bool all_eligible(uint32_t) { return true; }

// Picks `count` times with everyone eligible and returns how often each index came up.
inline std::vector<int> count_picks(Balancer& balancer, size_t members, int count,
                                    uint64_t client_hash = 0) {
  std::vector<int> counts(members, 0);
  for (int i = 0; i < count; ++i) {
    const int picked = balancer.pick(PickContext{client_hash}, all_eligible);
    if (picked >= 0) ++counts[picked];
  }
  return counts;
}

}  // namespace pharos::lb::testing
