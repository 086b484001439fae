#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "engine/lb/balancer.h"
#include "tests/engine/lb/lb_test_util.h"

namespace pharos::lb {
namespace {

using config::LbAlgorithm;
using testing::all_eligible;
using testing::count_picks;
using testing::members_with_weights;

std::unique_ptr<Balancer> round_robin(const std::vector<uint32_t>& weights) {
  return make_balancer(LbAlgorithm::kRoundRobin, members_with_weights(weights));
}

// Picks as letters: member 0 is 'a'.
std::string sequence(Balancer& b, int picks, EligibleFn eligible = all_eligible) {
  std::string out;
  for (int i = 0; i < picks; ++i) out += static_cast<char>('a' + b.pick(PickContext{}, eligible));
  return out;
}

TEST(RoundRobinTest, SmoothSequenceInterleaves) {
  auto b = round_robin({5, 1, 1});
  EXPECT_EQ(sequence(*b, 21), "aabacaa" "aabacaa" "aabacaa");
}

size_t longest_run(const std::string& s, char c) {
  size_t longest = 0;
  size_t run = 0;
  for (char x : s) {
    run = (x == c) ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return longest;
}

TEST(RoundRobinTest, HeavyMemberNeverRunsAway) {
  // Plain weighted round robin would give 5 (or 10) in a row; the smooth one spreads the light
  // members' turns: runs stay within what the ratio forces, across cycle boundaries too.
  auto b = round_robin({5, 1, 1});
  EXPECT_LE(longest_run(sequence(*b, 70), 'a'), 4u);
  auto c = round_robin({10, 1});
  EXPECT_LE(longest_run(sequence(*c, 110), 'a'), 10u);
  auto d = round_robin({4, 4, 1});
  const std::string s = sequence(*d, 90);
  EXPECT_LE(longest_run(s, 'a'), 1u) << s;
  EXPECT_LE(longest_run(s, 'b'), 1u) << s;
}

TEST(RoundRobinTest, FullCycleGivesExactWeights) {
  const std::vector<uint32_t> weights = {3, 7, 1, 4, 256, 2};
  int total = 0;
  for (uint32_t w : weights) total += w;
  auto b = round_robin(weights);
  for (int cycle = 1; cycle <= 5; ++cycle) {
    const std::vector<int> counts = count_picks(*b, weights.size(), total);
    for (size_t i = 0; i < weights.size(); ++i) {
      EXPECT_EQ(counts[i], static_cast<int>(weights[i])) << "member " << i << " cycle " << cycle;
    }
  }
}

TEST(RoundRobinTest, SkippingAMemberKeepsTheOthersExactProportions) {
  auto b = round_robin({4, 2, 1});
  const auto without_a = [](uint32_t m) { return m != 0; };
  // b:c = 2:1, exactly, over every 3 picks.
  for (int cycle = 0; cycle < 10; ++cycle) {
    std::string s = sequence(*b, 3, without_a);
    std::sort(s.begin(), s.end());
    EXPECT_EQ(s, "bbc") << "cycle " << cycle;
  }
}

TEST(RoundRobinTest, IntermittentlyIneligibleMemberDoesNotSkewTheOthers) {
  auto b = round_robin({3, 2, 1});
  std::vector<int> counts(3, 0);
  for (int i = 0; i < 60000; ++i) {
    // Member 0 is out one pick in two (say, it is the one already tried).
    const bool odd = i % 2;
    ++counts[b->pick(PickContext{}, [odd](uint32_t m) { return !(odd && m == 0); })];
  }
  EXPECT_NEAR(static_cast<double>(counts[1]) / counts[2], 2.0, 0.05);
}

TEST(RoundRobinTest, ReturningMemberGetsNoBurst) {
  auto b = round_robin({2, 1, 1});
  for (int i = 0; i < 1000; ++i) b->pick(PickContext{}, [](uint32_t m) { return m != 0; });
  // Member 0 back: it gets its share, not 1000 picks of backlog.
  EXPECT_EQ(sequence(*b, 8).find("aaa"), std::string::npos);
  const std::vector<int> counts = count_picks(*b, 3, 400);
  EXPECT_EQ(counts[0], 200);
  EXPECT_EQ(counts[1], 100);
  EXPECT_EQ(counts[2], 100);
}

TEST(RoundRobinTest, EqualWeightsRotate) {
  auto ones = round_robin({1, 1, 1});
  EXPECT_EQ(sequence(*ones, 9), "abcabcabc");
  auto fives = round_robin({5, 5, 5, 5});
  EXPECT_EQ(sequence(*fives, 8), "abcdabcd");
}

TEST(RoundRobinTest, EqualWeightsSkipIneligibleAndStayEven) {
  auto b = round_robin({1, 1, 1, 1});
  EXPECT_EQ(sequence(*b, 6, [](uint32_t m) { return m != 1; }), "acdacd");
  std::vector<int> counts(4, 0);
  for (int i = 0; i < 3000; ++i) {
    ++counts[b->pick(PickContext{}, [i](uint32_t m) { return m != static_cast<uint32_t>(i % 4); })];
  }
  for (int c : counts) EXPECT_NEAR(c, 750, 10);
}

TEST(RoundRobinTest, MembersRoundRobinWithinTheirTier) {
  std::vector<MemberSpec> members = {
      {"a", 2, false}, {"b", 9, true}, {"c", 1, false}, {"d", 1, true}};
  auto b = make_balancer(LbAlgorithm::kRoundRobin, members);
  std::string s;
  for (int i = 0; i < 6; ++i) s += std::to_string(b->pick(PickContext{}, all_eligible));
  EXPECT_EQ(s, "020020");
  std::vector<int> counts(4, 0);
  for (int i = 0; i < 100; ++i) {
    ++counts[b->pick(PickContext{}, [](uint32_t m) { return m == 1 || m == 3; })];
  }
  EXPECT_EQ(counts[1], 90);
  EXPECT_EQ(counts[3], 10);
}

}  // namespace
}  // namespace pharos::lb
