// ROUND_ROBIN: smooth weighted round robin. Each pick, every eligible member earns its weight in
// credit; the richest is picked and pays the total earned. Over sum(weights) picks each member
// gets exactly its weight, interleaved (5,1,1 -> a a b a c a a), never in bursts. A member that
// is ineligible neither earns nor pays, so the others keep their proportions among themselves
// and it returns without a backlog of credit.
#include <cstdint>
#include <vector>

#include "engine/lb/scheduler.h"

namespace pharos::lb {
namespace {

class SmoothWeightedRoundRobin final : public Scheduler {
 public:
  explicit SmoothWeightedRoundRobin(std::span<const TierMember> tier) {
    entries_.reserve(tier.size());
    for (const TierMember& m : tier) entries_.push_back(Entry{m.index, m.weight, 0});
  }

  // O(members): every eligible member's credit moves on every pick.
  int pick(const PickContext&, EligibleFn eligible) override {
    int64_t earned = 0;
    Entry* best = nullptr;
    for (Entry& e : entries_) {
      if (!eligible(e.index)) continue;
      e.credit += e.weight;
      earned += e.weight;
      if (best == nullptr || e.credit > best->credit) best = &e;
    }
    if (best == nullptr) return -1;
    best->credit -= earned;
    return static_cast<int>(best->index);
  }

 private:
  struct Entry {
    uint32_t index;
    int64_t weight;
    int64_t credit;  // stays within [-sum(weights), sum(weights)]
  };
  std::vector<Entry> entries_;
};

// The same schedule when all weights are equal (Octavia's default of weight 1 everywhere): a
// rotating cursor, O(1) per pick instead of O(members).
class EqualWeightRoundRobin final : public Scheduler {
 public:
  explicit EqualWeightRoundRobin(std::span<const TierMember> tier) {
    indexes_.reserve(tier.size());
    for (const TierMember& m : tier) indexes_.push_back(m.index);
  }

  int pick(const PickContext&, EligibleFn eligible) override {
    const size_t size = indexes_.size();
    size_t at = next_;
    for (size_t tried = 0; tried < size; ++tried) {
      const uint32_t index = indexes_[at];
      if (++at == size) at = 0;
      if (eligible(index)) {
        next_ = at;
        return static_cast<int>(index);
      }
    }
    return -1;
  }

 private:
  std::vector<uint32_t> indexes_;
  size_t next_ = 0;  // slot to try first on the next pick
};

}  // namespace

std::unique_ptr<Scheduler> make_round_robin(std::span<const TierMember> tier) {
  for (const TierMember& m : tier) {
    if (m.weight != tier.front().weight) return std::make_unique<SmoothWeightedRoundRobin>(tier);
  }
  return std::make_unique<EqualWeightRoundRobin>(tier);
}

}  // namespace pharos::lb
