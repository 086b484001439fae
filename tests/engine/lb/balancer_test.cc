// Behaviour every algorithm shares through make_balancer(): empty pools, weight 0, backups,
// ineligible members.
#include "engine/lb/balancer.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "tests/engine/lb/lb_test_util.h"

namespace pharos::lb {
namespace {

using config::LbAlgorithm;
using testing::all_eligible;
using testing::members_with_weights;

class AnyAlgorithmTest : public ::testing::TestWithParam<LbAlgorithm> {
 protected:
  std::unique_ptr<Balancer> make(const std::vector<MemberSpec>& members) {
    return make_balancer(GetParam(), members);
  }
  // Distinct client hashes, so SOURCE_IP* spreads like the others; every pick opens a
  // connection that stays open, so LEAST_CONNECTIONS spreads too.
  int pick(Balancer& b, EligibleFn eligible) {
    const int picked = b.pick(PickContext{next_client_++}, eligible);
    if (picked >= 0) b.on_connection_open(picked);
    return picked;
  }
  uint64_t next_client_ = 1;
};

TEST_P(AnyAlgorithmTest, EmptyPoolPicksNothing) {
  auto balancer = make({});
  EXPECT_EQ(pick(*balancer, all_eligible), -1);
  balancer->on_connection_open(0);  // ignored, not a crash
  balancer->on_connection_close(0);
}

TEST_P(AnyAlgorithmTest, NoEligibleMemberPicksNothing) {
  auto balancer = make(members_with_weights({1, 2, 3}));
  EXPECT_EQ(pick(*balancer, [](uint32_t) { return false; }), -1);
}

TEST_P(AnyAlgorithmTest, WeightZeroIsNeverPicked) {
  auto balancer = make(members_with_weights({0, 1, 0, 3, 0}));
  std::set<int> seen;
  for (int i = 0; i < 2000; ++i) seen.insert(pick(*balancer, all_eligible));
  EXPECT_EQ(seen, (std::set<int>{1, 3}));
}

TEST_P(AnyAlgorithmTest, WeightZeroIsNeverPickedEvenWhenAloneEligible) {
  auto balancer = make(members_with_weights({0, 1}));
  for (int i = 0; i < 100; ++i) EXPECT_EQ(pick(*balancer, [](uint32_t m) { return m == 0; }), -1);
  auto all_zero = make(members_with_weights({0, 0}));
  EXPECT_EQ(pick(*all_zero, all_eligible), -1);
}

TEST_P(AnyAlgorithmTest, IneligibleMembersAreSkipped) {
  auto balancer = make(members_with_weights({1, 2, 3, 4}));
  for (uint32_t only = 0; only < 4; ++only) {
    for (int i = 0; i < 50; ++i) {
      EXPECT_EQ(pick(*balancer, [only](uint32_t m) { return m == only; }), static_cast<int>(only));
    }
  }
  std::set<int> seen;
  for (int i = 0; i < 2000; ++i) seen.insert(pick(*balancer, [](uint32_t m) { return m != 2; }));
  EXPECT_EQ(seen, (std::set<int>{0, 1, 3}));
}

TEST_P(AnyAlgorithmTest, PredicateOnlySeesPoolIndexes) {
  auto balancer = make(members_with_weights({1, 0, 5, 2}));
  for (int i = 0; i < 500; ++i) {
    pick(*balancer, [](uint32_t m) {
      EXPECT_LT(m, 4u);
      EXPECT_NE(m, 1u);  // weight 0 is not even asked about
      return m % 2 == 0;
    });
  }
}

TEST_P(AnyAlgorithmTest, BackupOnlyWhenNoPrimaryIsEligible) {
  std::vector<MemberSpec> members = {
      {"p0", 1, false}, {"b1", 5, true}, {"p2", 2, false}, {"b3", 1, true}};
  auto balancer = make(members);
  for (int i = 0; i < 1000; ++i) {
    const int picked = pick(*balancer, all_eligible);
    EXPECT_TRUE(picked == 0 || picked == 2) << picked;
  }
  // One primary left: still no backup.
  for (int i = 0; i < 200; ++i) EXPECT_EQ(pick(*balancer, [](uint32_t m) { return m != 0; }), 2);
  // Every primary out: backups, both of them.
  std::set<int> seen;
  for (int i = 0; i < 1000; ++i) {
    const int picked = pick(*balancer, [](uint32_t m) { return m == 1 || m == 3; });
    seen.insert(picked);
  }
  EXPECT_EQ(seen, (std::set<int>{1, 3}));
  // Backups ineligible too: nothing.
  EXPECT_EQ(pick(*balancer, [](uint32_t m) { return false; }), -1);
}

TEST_P(AnyAlgorithmTest, PrimariesWithWeightZeroLeaveTheWayToBackups) {
  std::vector<MemberSpec> members = {{"p0", 0, false}, {"b1", 1, true}};
  auto balancer = make(members);
  EXPECT_EQ(pick(*balancer, all_eligible), 1);
}

TEST_P(AnyAlgorithmTest, BackupOnlyPoolIsUsed) {
  std::vector<MemberSpec> members = {{"b0", 1, true}, {"b1", 1, true}};
  auto balancer = make(members);
  std::set<int> seen;
  for (int i = 0; i < 200; ++i) seen.insert(pick(*balancer, all_eligible));
  EXPECT_EQ(seen, (std::set<int>{0, 1}));
}

TEST_P(AnyAlgorithmTest, BookkeepingOnUnknownIndexesIsIgnored) {
  auto balancer = make(members_with_weights({0, 1}));
  balancer->on_connection_open(0);  // weight 0
  balancer->on_connection_open(7);  // out of range
  balancer->on_connection_close(7);
  balancer->on_connection_close(1);  // close without open
  EXPECT_EQ(pick(*balancer, all_eligible), 1);
}

INSTANTIATE_TEST_SUITE_P(Algorithms, AnyAlgorithmTest,
                         ::testing::Values(LbAlgorithm::kRoundRobin,
                                           LbAlgorithm::kLeastConnections,
                                           LbAlgorithm::kSourceIp, LbAlgorithm::kSourceIpPort),
                         [](const ::testing::TestParamInfo<LbAlgorithm>& info) {
                           switch (info.param) {
                             case LbAlgorithm::kRoundRobin: return "RoundRobin";
                             case LbAlgorithm::kLeastConnections: return "LeastConnections";
                             case LbAlgorithm::kSourceIp: return "SourceIp";
                             case LbAlgorithm::kSourceIpPort: return "SourceIpPort";
                           }
                           return "Unknown";
                         });

}  // namespace
}  // namespace pharos::lb
