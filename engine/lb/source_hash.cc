// SOURCE_IP and SOURCE_IP_PORT: consistent hashing on a ring. Each member owns points placed by
// hashing its id (never its position in the pool), as many as its weight times a per-tier
// factor; a client goes to the owner of the first point at or after its hash, or, when that
// member is not eligible, of the next point whose owner is. Adding a member therefore moves only
// the clients that land on its new points (about 1/(N+1) of them) and removing one moves only
// its own clients.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <vector>

#include "engine/lb/hash.h"
#include "engine/lb/scheduler.h"

namespace pharos::lb {
namespace {

// Points per unit of weight: as many as fit in kRingBudget points, at most kMaxPointsPerWeight,
// at least 1, rounded down to a power of two so the factor (and with it the ring) only changes
// when the tier's total weight crosses a power of two; a change keeps every member's first
// points, so even then only part of the clients move. 256 points per member keep a weight-1
// member's share within ~10% of fair. The ring holds at most max(64K, total weight) points at
// 12 bytes each: 768 KiB for 64K, 3 MiB for the worst Octavia pool (1000 members x 256).
constexpr uint64_t kRingBudget = uint64_t{1} << 16;
constexpr uint64_t kMaxPointsPerWeight = 256;
// Octavia caps weights at 256; this only guards against a caller passing far larger ones.
constexpr uint64_t kMaxRingPoints = uint64_t{1} << 20;

// Ring points scanned before asking about every member at once: beyond this the walk is most
// likely crossing a large outage, and without the sweep a tier with no eligible member would
// walk the whole ring.
constexpr size_t kWalkBeforeSweep = 32;

class ConsistentHashRing final : public Scheduler {
 public:
  explicit ConsistentHashRing(std::span<const TierMember> tier) : memo_(tier.size(), 0) {
    uint64_t total_weight = 0;
    for (const TierMember& m : tier) total_weight += m.weight;
    const uint64_t per_weight =
        std::clamp<uint64_t>(std::bit_floor(kRingBudget / total_weight), 1, kMaxPointsPerWeight);

    struct Point {
      uint64_t hash;
      uint32_t slot;
    };
    std::vector<Point> points;
    const auto points_for = [&](uint64_t weight) {
      if (total_weight * per_weight <= kMaxRingPoints) return weight * per_weight;
      return std::max<uint64_t>(1, weight * kMaxRingPoints / total_weight);
    };
    points.reserve(std::min(total_weight * per_weight, kMaxRingPoints + tier.size()));
    indexes_.reserve(tier.size());
    for (uint32_t slot = 0; slot < tier.size(); ++slot) {
      const TierMember& m = tier[slot];
      indexes_.push_back(m.index);
      const uint64_t count = points_for(m.weight);
      for (uint64_t replica = 0; replica < count; ++replica) {
        points.push_back(Point{hash_bytes(m.id.data(), m.id.size(), replica), slot});
      }
    }
    // Equal hashes (practically never) are ordered by member id, so the ring still does not
    // depend on member order.
    std::sort(points.begin(), points.end(), [&tier](const Point& a, const Point& b) {
      if (a.hash != b.hash) return a.hash < b.hash;
      if (tier[a.slot].id != tier[b.slot].id) return tier[a.slot].id < tier[b.slot].id;
      return a.slot < b.slot;
    });
    hashes_.reserve(points.size());
    owners_.reserve(points.size());
    for (const Point& p : points) {
      hashes_.push_back(p.hash);
      owners_.push_back(p.slot);
    }
  }

  // O(log points) to find the client's place, then a short walk past ineligible owners.
  int pick(const PickContext& ctx, EligibleFn eligible) override {
    // Re-mixed so that callers passing raw or sequential values still spread over the ring.
    const uint64_t key = mix64(ctx.client_hash);
    const size_t size = hashes_.size();
    size_t at = std::lower_bound(hashes_.begin(), hashes_.end(), key) - hashes_.begin();
    if (at == size) at = 0;
    start_memo();
    for (size_t walked = 0; walked < size; ++walked) {
      const uint32_t slot = owners_[at];
      if (is_eligible(slot, eligible)) return static_cast<int>(indexes_[slot]);
      if (++at == size) at = 0;
      if (walked + 1 == kWalkBeforeSweep) {
        bool any = false;
        for (uint32_t s = 0; s < indexes_.size(); ++s) any |= is_eligible(s, eligible);
        if (!any) return -1;
      }
    }
    return -1;
  }

 private:
  // Asks the caller about each member at most once per pick: memo_[slot] is 2 * generation_
  // plus the answer when it was asked during this pick.
  void start_memo() {
    if (++generation_ == UINT32_MAX / 2) {
      std::fill(memo_.begin(), memo_.end(), 0);
      generation_ = 1;
    }
  }
  bool is_eligible(uint32_t slot, EligibleFn& eligible) {
    const uint32_t mark = generation_ * 2;
    if ((memo_[slot] & ~1u) == mark) return memo_[slot] & 1u;
    const bool ok = eligible(indexes_[slot]);
    memo_[slot] = mark | (ok ? 1u : 0u);
    return ok;
  }

  std::vector<uint64_t> hashes_;   // sorted ring points
  std::vector<uint32_t> owners_;   // slot owning each point, parallel to hashes_
  std::vector<uint32_t> indexes_;  // slot -> pool member index
  std::vector<uint32_t> memo_;     // by slot
  uint32_t generation_ = 0;
};

}  // namespace

std::unique_ptr<Scheduler> make_source_hash(std::span<const TierMember> tier) {
  return std::make_unique<ConsistentHashRing>(tier);
}

}  // namespace pharos::lb
