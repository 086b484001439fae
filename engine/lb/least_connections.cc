// LEAST_CONNECTIONS: the member with the fewest open connections per unit of weight
// (min active / weight, compared by cross-multiplication: exact, no floats). Members tied at
// that minimum share the pick by smooth weighted round robin, so idle or equally loaded members
// take turns in proportion to their weights instead of the first one taking everything.
#include <cstdint>
#include <vector>

#include "engine/lb/scheduler.h"

namespace pharos::lb {
namespace {

class LeastConnections final : public Scheduler {
 public:
  explicit LeastConnections(std::span<const TierMember> tier) : eligible_(tier.size(), 0) {
    entries_.reserve(tier.size());
    for (const TierMember& m : tier) entries_.push_back(Entry{m.index, m.weight, 0, 0});
  }

  // O(members): one pass for the least load among eligible members, one over the tied ones.
  // The caller is asked only about members not already more loaded than the least so far (the
  // least only goes down, so they cannot end up among the tied).
  int pick(const PickContext&, EligibleFn eligible) override {
    const size_t size = entries_.size();
    const Entry* least = nullptr;
    for (size_t slot = 0; slot < size; ++slot) {
      const Entry& e = entries_[slot];
      eligible_[slot] = (least == nullptr || !less_loaded(*least, e)) && eligible(e.index);
      if (eligible_[slot] && (least == nullptr || less_loaded(e, *least))) least = &e;
    }
    if (least == nullptr) return -1;
    // Smooth weighted round robin among the tied: each earns its weight, the richest pays all.
    int64_t earned = 0;
    Entry* best = nullptr;
    for (size_t slot = 0; slot < size; ++slot) {
      Entry& e = entries_[slot];
      if (!eligible_[slot] || less_loaded(*least, e)) continue;
      e.credit += e.weight;
      earned += e.weight;
      if (best == nullptr || e.credit > best->credit) best = &e;
    }
    best->credit -= earned;
    return static_cast<int>(best->index);
  }

  void on_connection_open(uint32_t slot) override {
    if (slot < entries_.size() && entries_[slot].active != UINT32_MAX) ++entries_[slot].active;
  }

  void on_connection_close(uint32_t slot) override {
    // A close may outlive the balancer that counted its open (the pool was reconfigured).
    if (slot < entries_.size() && entries_[slot].active > 0) --entries_[slot].active;
  }

 private:
  struct Entry {
    uint32_t index;
    uint32_t weight;
    uint32_t active;  // open connections
    int64_t credit;   // tie-break round robin; within [-sum(weights), sum(weights)]
  };

  // a.active / a.weight < b.active / b.weight; each product fits in 64 bits.
  static bool less_loaded(const Entry& a, const Entry& b) {
    return uint64_t{a.active} * b.weight < uint64_t{b.active} * a.weight;
  }

  std::vector<Entry> entries_;
  std::vector<uint8_t> eligible_;  // scratch for one pick: the caller is asked once per member
};

}  // namespace

std::unique_ptr<Scheduler> make_least_connections(std::span<const TierMember> tier) {
  return std::make_unique<LeastConnections>(tier);
}

}  // namespace pharos::lb
