#include "engine/stats/stats.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace pharos::stats {
namespace {

TEST(ClassifyStatus, MapsCodesToClasses) {
  EXPECT_EQ(classify_status(100), ResponseClass::k1xx);
  EXPECT_EQ(classify_status(204), ResponseClass::k2xx);
  EXPECT_EQ(classify_status(302), ResponseClass::k3xx);
  EXPECT_EQ(classify_status(404), ResponseClass::k4xx);
  EXPECT_EQ(classify_status(599), ResponseClass::k5xx);
  EXPECT_EQ(classify_status(0), ResponseClass::kOther);
  EXPECT_EQ(classify_status(600), ResponseClass::kOther);
  EXPECT_STREQ(response_class_name(ResponseClass::k5xx), "5xx");
}

TEST(ListenerStats, SumsEveryWorkerSlot) {
  ListenerStats stats(4);
  for (uint32_t w = 0; w < 4; ++w) {
    stats.slot(w).bytes_in.add(10 * (w + 1));
    stats.slot(w).total_connections.add(1);
    stats.slot(w).active_connections.add(2);
    stats.slot(w).active_connections.sub(1);
  }
  auto totals = stats.totals();
  EXPECT_EQ(totals.bytes_in, 100u);
  EXPECT_EQ(totals.total_connections, 4u);
  EXPECT_EQ(totals.active_connections, 4u);
}

// Each thread writes its own slot while a reader sums: no update is lost.
TEST(ListenerStats, ConcurrentSingleWriterSlotsLoseNothing) {
  constexpr uint32_t kWorkers = 4;
  constexpr uint64_t kAdds = 200000;
  ListenerStats stats(kWorkers);
  std::vector<std::thread> writers;
  for (uint32_t w = 0; w < kWorkers; ++w) {
    writers.emplace_back([&, w] {
      for (uint64_t i = 0; i < kAdds; ++i) stats.slot(w).bytes_out.add(1);
    });
  }
  uint64_t last = 0;
  for (int i = 0; i < 1000; ++i) {
    uint64_t now = stats.totals().bytes_out;
    EXPECT_GE(now, last);  // monotonic while writers only add
    last = now;
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(stats.totals().bytes_out, kWorkers * kAdds);
}

TEST(MemberStats, CountsResponsesAndConnectFailures) {
  MemberStats stats(2);
  stats.slot(0).responses[static_cast<int>(ResponseClass::k2xx)].add(3);
  stats.slot(1).responses[static_cast<int>(ResponseClass::k2xx)].add(2);
  stats.slot(1).responses[static_cast<int>(ResponseClass::k5xx)].add(1);
  stats.slot(0).connect_failures.add(1);
  auto totals = stats.totals();
  EXPECT_EQ(totals.responses[static_cast<int>(ResponseClass::k2xx)], 5u);
  EXPECT_EQ(totals.responses[static_cast<int>(ResponseClass::k5xx)], 1u);
  EXPECT_EQ(totals.connect_failures, 1u);
}

TEST(StatsRegistry, KeepsCountersOfIdsThatStayAndForgetsOthers) {
  StatsRegistry registry(1);
  auto kept = registry.listener("keep");
  kept->slot(0).bytes_in.add(7);
  auto dropped = registry.listener("drop");
  registry.member("m1");
  registry.retain_only({"keep"}, {});
  EXPECT_EQ(registry.listener("keep").get(), kept.get());
  EXPECT_EQ(registry.listener_totals().at("keep").bytes_in, 7u);
  EXPECT_EQ(registry.member_totals().count("m1"), 0u);
  // A snapshot that still holds the dropped object can keep counting safely.
  dropped->slot(0).bytes_in.add(1);
  EXPECT_NE(registry.listener("drop").get(), dropped.get());
}

}  // namespace
}  // namespace pharos::stats
