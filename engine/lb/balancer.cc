// make_balancer(): picks the algorithm and splits the pool into a primary and a backup tier, so
// each algorithm is written once for "a set of pickable members" and backup handling is uniform.
#include "engine/lb/balancer.h"

#include <cstdlib>
#include <vector>

#include "engine/lb/scheduler.h"

namespace pharos::lb {
namespace {

class TieredBalancer final : public Balancer {
 public:
  TieredBalancer(config::LbAlgorithm algorithm, std::span<const MemberSpec> members)
      : where_(members.size()) {
    std::vector<TierMember> tiers[kTierCount];
    for (uint32_t i = 0; i < members.size(); ++i) {
      const MemberSpec& m = members[i];
      if (m.weight == 0) continue;  // never picked: it stays out of every tier
      const uint8_t tier = m.backup ? kBackup : kPrimary;
      where_[i] = Location{tier, static_cast<uint32_t>(tiers[tier].size())};
      tiers[tier].push_back(TierMember{i, m.weight, m.id});
    }
    for (int t = 0; t < kTierCount; ++t) {
      if (!tiers[t].empty()) schedulers_[t] = make_scheduler(algorithm, tiers[t]);
    }
  }

  int pick(const PickContext& ctx, EligibleFn eligible) override {
    for (const auto& scheduler : schedulers_) {
      if (!scheduler) continue;
      const int picked = scheduler->pick(ctx, eligible);
      if (picked >= 0) return picked;
    }
    return -1;
  }

  void on_connection_open(uint32_t member_index) override {
    if (const Location* at = locate(member_index)) schedulers_[at->tier]->on_connection_open(at->slot);
  }

  void on_connection_close(uint32_t member_index) override {
    if (const Location* at = locate(member_index)) schedulers_[at->tier]->on_connection_close(at->slot);
  }

 private:
  static constexpr uint8_t kPrimary = 0;  // tried first
  static constexpr uint8_t kBackup = 1;
  static constexpr int kTierCount = 2;
  static constexpr uint8_t kNoTier = 0xff;

  struct Location {
    uint8_t tier = kNoTier;
    uint32_t slot = 0;
  };

  static std::unique_ptr<Scheduler> make_scheduler(config::LbAlgorithm algorithm,
                                                   std::span<const TierMember> tier) {
    switch (algorithm) {
      case config::LbAlgorithm::kRoundRobin:
        return make_round_robin(tier);
      case config::LbAlgorithm::kLeastConnections:
        return make_least_connections(tier);
      case config::LbAlgorithm::kSourceIp:
      case config::LbAlgorithm::kSourceIpPort:
        // The two differ only in what the caller hashes into PickContext::client_hash.
        return make_source_hash(tier);
    }
    std::abort();  // a value outside the enum: the config layer let garbage through
  }

  const Location* locate(uint32_t member_index) const {
    if (member_index >= where_.size() || where_[member_index].tier == kNoTier) return nullptr;
    return &where_[member_index];
  }

  std::vector<Location> where_;  // by member index
  std::unique_ptr<Scheduler> schedulers_[kTierCount];
};

}  // namespace

std::unique_ptr<Balancer> make_balancer(config::LbAlgorithm algorithm,
                                        std::span<const MemberSpec> members) {
  return std::make_unique<TieredBalancer>(algorithm, members);
}

}  // namespace pharos::lb
