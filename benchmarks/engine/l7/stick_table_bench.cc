// Cost of session persistence's shared table per request: find (hit) and store, with the
// table at HAProxy's 10000 entries, from one thread (the uncontended mutex) and from four.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "engine/persistence/stick_table.h"

namespace pharos::persistence {
namespace {

std::vector<std::string> keys(size_t count) {
  std::vector<std::string> out;
  for (size_t i = 0; i < count; ++i) out.push_back("10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256));
  return out;
}

StickTable& full_table() {
  static StickTable table(10000, 0);
  static bool filled = [] {
    for (const auto& k : keys(10000)) table.store(k, "5c9a2b1e-6f0d-4a8e-9b3c-2d7e8f1a4b60", 1);
    return true;
  }();
  (void)filled;
  return table;
}

void BM_FindHit(benchmark::State& state) {
  StickTable& table = full_table();
  const auto all = keys(10000);
  size_t i = static_cast<size_t>(state.thread_index()) * 2503;
  for (auto _ : state) {
    auto id = table.find(all[i++ % all.size()], 2);
    benchmark::DoNotOptimize(id);
  }
}

void BM_Store(benchmark::State& state) {
  StickTable& table = full_table();
  const auto all = keys(20000);  // half of them new: evictions included
  size_t i = static_cast<size_t>(state.thread_index()) * 4999;
  for (auto _ : state) table.store(all[i++ % all.size()], "5c9a2b1e-6f0d-4a8e-9b3c-2d7e8f1a4b60", 3);
}

BENCHMARK(BM_FindHit)->Threads(1)->Threads(4);
BENCHMARK(BM_Store)->Threads(1)->Threads(4);

}  // namespace
}  // namespace pharos::persistence
