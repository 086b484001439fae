// Cost of one Balancer::pick() per algorithm and pool size (time per iteration = ns per pick).
// Second argument: percent of members ineligible (down), spread evenly over the pool.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <deque>
#include <string>
#include <vector>

#include "engine/lb/balancer.h"

namespace pharos::lb {
namespace {

using config::LbAlgorithm;

std::vector<MemberSpec> pool(int64_t size, bool mixed_weights) {
  std::vector<MemberSpec> members;
  for (int64_t i = 0; i < size; ++i) {
    char id[48];
    std::snprintf(id, sizeof id, "%08llx-0000-4000-8000-000000000000",
                  static_cast<unsigned long long>(i * 2654435761u));
    members.push_back(MemberSpec{id, mixed_weights ? static_cast<uint32_t>(1 + i % 10) : 1, false});
  }
  return members;
}

// The engine's predicate reads a status array, so the benchmark does too.
std::vector<uint8_t> up_flags(int64_t size, int64_t percent_down) {
  std::vector<uint8_t> up(size, 1);
  for (int64_t i = 0; i < size; ++i) up[i] = (i * percent_down / 100) == ((i + 1) * percent_down / 100);
  return up;
}

void run(benchmark::State& state, LbAlgorithm algorithm, bool mixed_weights) {
  const auto members = pool(state.range(0), mixed_weights);
  const auto up = up_flags(state.range(0), state.range(1));
  auto balancer = make_balancer(algorithm, members);
  const auto eligible = [&up](uint32_t m) { return up[m] != 0; };
  const bool counts_connections = algorithm == LbAlgorithm::kLeastConnections;
  // Least connections needs live counts: keep ~8 connections per member open, closing the
  // oldest as each new one opens.
  std::deque<int> open;
  const size_t in_flight = static_cast<size_t>(state.range(0)) * 8;
  uint64_t client = 0x243f6a8885a308d3ULL;
  for (auto _ : state) {
    client = client * 6364136223846793005ULL + 1442695040888963407ULL;
    const int picked = balancer->pick(PickContext{client}, eligible);
    benchmark::DoNotOptimize(picked);
    if (counts_connections && picked >= 0) {
      balancer->on_connection_open(picked);
      open.push_back(picked);
      if (open.size() > in_flight) {
        balancer->on_connection_close(open.front());
        open.pop_front();
      }
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_RoundRobinEqualWeights(benchmark::State& s) { run(s, LbAlgorithm::kRoundRobin, false); }
void BM_RoundRobinMixedWeights(benchmark::State& s) { run(s, LbAlgorithm::kRoundRobin, true); }
void BM_LeastConnections(benchmark::State& s) { run(s, LbAlgorithm::kLeastConnections, true); }
void BM_SourceIp(benchmark::State& s) { run(s, LbAlgorithm::kSourceIp, true); }

void pool_sizes(benchmark::internal::Benchmark* b) {
  for (int64_t down : {0, 50}) {
    for (int64_t size : {2, 10, 100, 1000}) b->Args({size, down});
  }
  b->ArgNames({"members", "pct_down"});
}

BENCHMARK(BM_RoundRobinEqualWeights)->Apply(pool_sizes);
BENCHMARK(BM_RoundRobinMixedWeights)->Apply(pool_sizes);
BENCHMARK(BM_LeastConnections)->Apply(pool_sizes);
BENCHMARK(BM_SourceIp)->Apply(pool_sizes);

}  // namespace
}  // namespace pharos::lb
