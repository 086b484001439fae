#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/lb/balancer.h"
#include "tests/engine/lb/lb_test_util.h"

namespace pharos::lb {
namespace {

using config::LbAlgorithm;
using testing::all_eligible;

constexpr int kClients = 20000;

// Members with UUID-like ids, as Octavia gives them.
std::vector<MemberSpec> uuid_members(int count, uint32_t weight = 1) {
  std::vector<MemberSpec> members;
  for (int i = 0; i < count; ++i) {
    char id[48];
    std::snprintf(id, sizeof id, "5d3c%04x-9a1e-4b7c-8f00-%012x", i * 7919, i * 104729 + 17);
    members.push_back(MemberSpec{id, weight, false});
  }
  return members;
}

// Client keys as hash_client() would give them: the ring re-mixes them anyway.
uint64_t client(int i) { return 0x1000 + static_cast<uint64_t>(i) * 0x9e3779b1; }

// Which member id each client lands on.
std::vector<std::string> assign(const std::vector<MemberSpec>& members,
                                EligibleFn eligible = all_eligible) {
  auto b = make_balancer(LbAlgorithm::kSourceIp, members);
  std::vector<std::string> out;
  out.reserve(kClients);
  for (int i = 0; i < kClients; ++i) {
    const int m = b->pick(PickContext{client(i)}, eligible);
    out.push_back(m < 0 ? std::string() : members[m].id);
  }
  return out;
}

TEST(SourceHashTest, SameClientSameMember) {
  const auto members = uuid_members(10);
  auto b = make_balancer(LbAlgorithm::kSourceIp, members);
  auto other_worker = make_balancer(LbAlgorithm::kSourceIpPort, members);
  for (int i = 0; i < 1000; ++i) {
    const int first = b->pick(PickContext{client(i)}, all_eligible);
    ASSERT_GE(first, 0);
    for (int again = 0; again < 3; ++again) {
      EXPECT_EQ(b->pick(PickContext{client(i)}, all_eligible), first);
    }
    EXPECT_EQ(other_worker->pick(PickContext{client(i)}, all_eligible), first);
  }
}

TEST(SourceHashTest, RingDoesNotDependOnMemberOrder) {
  auto members = uuid_members(12);
  members[3].weight = 3;
  const auto before = assign(members);
  std::reverse(members.begin(), members.end());
  std::rotate(members.begin(), members.begin() + 5, members.end());
  EXPECT_EQ(assign(members), before);
}

TEST(SourceHashTest, AddingAMemberMovesOnlyItsShare) {
  auto members = uuid_members(11);
  const MemberSpec added = members.back();
  members.pop_back();
  const auto before = assign(members);
  members.insert(members.begin() + 4, added);  // anywhere: order does not matter
  const auto after = assign(members);
  int moved = 0;
  for (int i = 0; i < kClients; ++i) {
    if (before[i] == after[i]) continue;
    ++moved;
    EXPECT_EQ(after[i], added.id) << "client " << i << " moved between old members";
  }
  const double fraction = static_cast<double>(moved) / kClients;
  EXPECT_GT(fraction, 0.0);
  EXPECT_LE(fraction, 1.0 / 11 + 0.05);
  std::printf("10 -> 11 members: %.4f of clients moved (ideal %.4f)\n", fraction, 1.0 / 11);
}

TEST(SourceHashTest, RemovingAMemberMovesOnlyItsClients) {
  auto members = uuid_members(10);
  const auto before = assign(members);
  const std::string removed = members[6].id;
  members.erase(members.begin() + 6);
  const auto after = assign(members);
  std::set<std::string> receivers;
  for (int i = 0; i < kClients; ++i) {
    if (before[i] == removed) {
      receivers.insert(after[i]);
    } else {
      EXPECT_EQ(after[i], before[i]) << "client " << i;
    }
  }
  EXPECT_GE(receivers.size(), 5u);  // its clients spread out, not all onto one neighbour
}

TEST(SourceHashTest, IneligibleMemberLosesOnlyItsClients) {
  const auto members = uuid_members(10);
  const auto before = assign(members);
  const auto after = assign(members, [](uint32_t m) { return m != 2; });
  std::set<std::string> receivers;
  for (int i = 0; i < kClients; ++i) {
    if (before[i] == members[2].id) {
      receivers.insert(after[i]);
      EXPECT_NE(after[i], members[2].id);
    } else {
      EXPECT_EQ(after[i], before[i]) << "client " << i;
    }
  }
  EXPECT_GE(receivers.size(), 5u);
  // Back up: everyone returns.
  EXPECT_EQ(assign(members), before);
}

std::map<std::string, double> shares(const std::vector<MemberSpec>& members) {
  std::map<std::string, double> out;
  for (const std::string& id : assign(members)) out[id] += 1.0 / kClients;
  return out;
}

TEST(SourceHashTest, EqualWeightsShareEvenly) {
  const auto members = uuid_members(10);
  const auto got = shares(members);
  for (const MemberSpec& m : members) {
    EXPECT_NEAR(got.at(m.id), 0.1, 0.1 * 0.2) << m.id;
  }
}

TEST(SourceHashTest, SharesFollowWeights) {
  auto members = uuid_members(4);
  const std::vector<uint32_t> weights = {1, 2, 3, 4};
  for (size_t i = 0; i < 4; ++i) members[i].weight = weights[i];
  const auto got = shares(members);
  for (size_t i = 0; i < 4; ++i) {
    const double want = weights[i] / 10.0;
    EXPECT_NEAR(got.at(members[i].id), want, want * 0.2) << i;
  }
}

TEST(SourceHashTest, LargeTierWithOneEligibleMember) {
  const auto members = uuid_members(1000);
  auto b = make_balancer(LbAlgorithm::kSourceIp, members);
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(b->pick(PickContext{client(i)}, [](uint32_t m) { return m == 617; }), 617);
  }
  int asked = 0;
  EXPECT_EQ(b->pick(PickContext{client(1)}, [&asked](uint32_t) { return ++asked, false; }), -1);
  EXPECT_EQ(asked, 1000);  // each member asked once, not once per ring point
}

TEST(SourceHashTest, HugeWeightsKeepTheRingBounded) {
  auto members = uuid_members(3);
  members[0].weight = UINT32_MAX;
  members[1].weight = UINT32_MAX / 2;
  members[2].weight = 1;
  const auto got = shares(members);
  EXPECT_NEAR(got.at(members[0].id), 2.0 / 3, 0.1);
}

}  // namespace
}  // namespace pharos::lb
