#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

#include "engine/lb/balancer.h"
#include "tests/engine/lb/lb_test_util.h"

namespace pharos::lb {
namespace {

using config::LbAlgorithm;
using testing::all_eligible;
using testing::members_with_weights;

std::unique_ptr<Balancer> least_connections(const std::vector<uint32_t>& weights) {
  return make_balancer(LbAlgorithm::kLeastConnections, members_with_weights(weights));
}

int pick(Balancer& b, EligibleFn eligible = all_eligible) { return b.pick(PickContext{}, eligible); }

TEST(LeastConnectionsTest, PicksTheLeastLoaded) {
  auto b = least_connections({1, 1, 1});
  b->on_connection_open(0);
  b->on_connection_open(0);
  b->on_connection_open(1);
  EXPECT_EQ(pick(*b), 2);
  b->on_connection_open(2);
  b->on_connection_open(2);
  EXPECT_EQ(pick(*b), 1);
}

TEST(LeastConnectionsTest, ClosesFreeCapacity) {
  auto b = least_connections({1, 1});
  for (int i = 0; i < 3; ++i) b->on_connection_open(0);
  b->on_connection_open(1);
  EXPECT_EQ(pick(*b), 1);
  b->on_connection_close(0);
  b->on_connection_close(0);
  b->on_connection_close(0);  // member 0 now idle, member 1 has one
  EXPECT_EQ(pick(*b), 0);
}

TEST(LeastConnectionsTest, ClosesWithoutOpenDoNotUnderflow) {
  auto b = least_connections({1, 1});
  for (int i = 0; i < 5; ++i) b->on_connection_close(0);
  b->on_connection_open(1);
  EXPECT_EQ(pick(*b), 0);  // 0 active, not 2^32 - 5
  b->on_connection_open(0);
  b->on_connection_open(0);
  EXPECT_EQ(pick(*b), 1);
}

TEST(LeastConnectionsTest, TiesShareLoadRoundRobin) {
  auto b = least_connections({1, 1, 1});
  std::string s;
  for (int i = 0; i < 9; ++i) {
    const int m = pick(*b);
    s += static_cast<char>('a' + m);
    b->on_connection_open(m);  // short-lived: closed before the next one arrives
    b->on_connection_close(m);
  }
  EXPECT_EQ(s, "abcabcabc");
}

TEST(LeastConnectionsTest, LongLivedConnectionsFollowTheWeights) {
  const std::vector<uint32_t> weights = {1, 2, 3, 10};
  auto b = least_connections(weights);
  std::vector<int> active(weights.size(), 0);
  for (int i = 0; i < 1600; ++i) {
    const int m = pick(*b);
    ++active[m];
    b->on_connection_open(m);
  }
  // 1600 / 16 = 100 per unit of weight; the scheme keeps every member within one connection.
  for (size_t i = 0; i < weights.size(); ++i) EXPECT_NEAR(active[i], 100 * weights[i], 1) << i;
}

TEST(LeastConnectionsTest, WeightsCompareExactlyWithoutOverflow) {
  auto b = least_connections({256, 1});
  for (int i = 0; i < 256; ++i) b->on_connection_open(0);
  EXPECT_EQ(pick(*b), 1);  // 0 / 1 < 256 / 256
  b->on_connection_open(1);
  EXPECT_EQ(pick(*b), 0);  // 256 / 256 == 1 / 1: a tie, and member 0 has the weight
  b->on_connection_open(0);
  EXPECT_EQ(pick(*b), 1);  // 257 / 256 > 1 / 1
  auto heavy = least_connections({UINT32_MAX, UINT32_MAX - 1});
  for (int i = 0; i < 3; ++i) heavy->on_connection_open(0);
  for (int i = 0; i < 3; ++i) heavy->on_connection_open(1);
  // 3 / (2^32 - 1) < 3 / (2^32 - 2): integer division would call it a tie at 0 and rotate.
  for (int i = 0; i < 4; ++i) EXPECT_EQ(pick(*heavy), 0);
}

TEST(LeastConnectionsTest, IdleMembersShareByWeight) {
  auto b = least_connections({3, 1});
  std::string s;
  for (int i = 0; i < 8; ++i) {
    const int m = pick(*b);
    s += static_cast<char>('a' + m);
    b->on_connection_open(m);
    b->on_connection_close(m);
  }
  EXPECT_EQ(s, "aabaaaba");
}

TEST(LeastConnectionsTest, SkipsIneligibleLeastLoaded) {
  auto b = least_connections({1, 1, 1});
  b->on_connection_open(0);
  b->on_connection_open(0);
  b->on_connection_open(1);
  EXPECT_EQ(pick(*b, [](uint32_t m) { return m != 2; }), 1);
  EXPECT_EQ(pick(*b, [](uint32_t m) { return m == 0; }), 0);
}

TEST(LeastConnectionsTest, ChurnKeepsLoadBalanced) {
  auto b = least_connections({1, 1, 1, 1, 1});
  std::vector<int> active(5, 0);
  std::deque<int> open;
  for (int i = 0; i < 10000; ++i) {
    const int m = pick(*b);
    b->on_connection_open(m);
    ++active[m];
    open.push_back(m);
    if (open.size() > 50) {
      b->on_connection_close(open.front());
      --active[open.front()];
      open.pop_front();
    }
    for (int a : active) ASSERT_LE(a, 11);
  }
}

TEST(LeastConnectionsTest, BackupTierKeepsItsOwnCounts) {
  std::vector<MemberSpec> members = {{"p", 1, false}, {"b0", 1, true}, {"b1", 1, true}};
  auto b = make_balancer(LbAlgorithm::kLeastConnections, members);
  const auto primary_down = [](uint32_t m) { return m != 0; };
  b->on_connection_open(1);
  b->on_connection_open(1);
  EXPECT_EQ(pick(*b, primary_down), 2);
  b->on_connection_open(2);
  b->on_connection_open(2);
  b->on_connection_open(2);
  EXPECT_EQ(pick(*b, primary_down), 1);
  EXPECT_EQ(pick(*b), 0);
}

}  // namespace
}  // namespace pharos::lb
