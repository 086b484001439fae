#include "engine/persistence/stick_table.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace pharos::persistence {
namespace {

TEST(StickTable, StoresAndFindsMemberByKey) {
  StickTable table(10, 0);
  EXPECT_FALSE(table.find("10.0.0.1", 1));
  table.store("10.0.0.1", "member-a", 1);
  table.store("10.0.0.2", "member-b", 1);
  EXPECT_EQ(table.find("10.0.0.1", 2), "member-a");
  EXPECT_EQ(table.find("10.0.0.2", 2), "member-b");
  table.store("10.0.0.1", "member-c", 3);  // the client moved (its member went down)
  EXPECT_EQ(table.find("10.0.0.1", 3), "member-c");
  EXPECT_EQ(table.size(), 2u);
}

TEST(StickTable, LeastRecentlyUsedEntryMakesRoom) {
  StickTable table(2, 0);
  table.store("a", "m1", 1);
  table.store("b", "m2", 2);
  EXPECT_EQ(table.find("a", 3), "m1");  // a is now the most recent
  table.store("c", "m3", 4);            // evicts b
  EXPECT_EQ(table.find("a", 5), "m1");
  EXPECT_FALSE(table.find("b", 5));
  EXPECT_EQ(table.find("c", 5), "m3");
  EXPECT_EQ(table.size(), 2u);
}

TEST(StickTable, IdleEntriesExpireAndUseRefreshesThem) {
  StickTable table(10, 60);
  table.store("a", "m1", 100);
  table.store("b", "m2", 100);
  EXPECT_EQ(table.find("a", 150), "m1");  // used at 150: lives until 210
  EXPECT_FALSE(table.find("b", 160));     // idle since 100
  EXPECT_EQ(table.find("a", 209), "m1");
  EXPECT_FALSE(table.find("a", 269));
  EXPECT_EQ(table.size(), 0u);
}

TEST(StickTable, WorkersShareOneTable) {
  StickTable table(100000, 0);
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&table, w] {
      for (int i = 0; i < 2000; ++i) {
        const std::string key = std::to_string(w) + ":" + std::to_string(i);
        table.store(key, "m" + std::to_string(w), 1);
        ASSERT_EQ(table.find(key, 1), "m" + std::to_string(w));
      }
    });
  }
  for (auto& t : workers) t.join();
  EXPECT_EQ(table.size(), 8000u);
}

TEST(StickTableRegistry, KeepsTableWhileSettingsStayAndDropsRemovedPools) {
  StickTableRegistry registry;
  auto first = registry.get_or_create("pool-1", "APP_COOKIE|sid|0", 0);
  first->store("s1", "m1", 1);
  EXPECT_EQ(registry.get_or_create("pool-1", "APP_COOKIE|sid|0", 0), first);
  auto changed = registry.get_or_create("pool-1", "APP_COOKIE|other|0", 0);
  EXPECT_NE(changed, first);  // another cookie: old entries mean nothing
  EXPECT_FALSE(changed->find("s1", 2));
  auto second = registry.get_or_create("pool-2", "SOURCE_IP||0", 0);
  registry.retain_only({"pool-2"});
  EXPECT_EQ(registry.get_or_create("pool-2", "SOURCE_IP||0", 0), second);
  EXPECT_NE(registry.get_or_create("pool-1", "APP_COOKIE|other|0", 0), changed);
}

}  // namespace
}  // namespace pharos::persistence
