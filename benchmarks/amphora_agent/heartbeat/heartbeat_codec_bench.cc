// Encode and verify cost of a heartbeat for an amphora with many listeners and members, the
// controller's per-datagram budget.
#include <benchmark/benchmark.h>

#include "amphora_agent/heartbeat/heartbeat_codec.h"

namespace {

using namespace pharos::heartbeat;

HeartbeatPayload payload(int listeners, int members) {
  HeartbeatPayload p;
  p.seq = 1;
  p.timestamp_ms = 1'700'000'000'000;
  p.amphora_id = "5c9a2b1e-6f0d-4a8e-9b3c-2d7e8f1a4b60";
  for (int i = 0; i < listeners; ++i) {
    p.listeners["listener-" + std::to_string(i)] = {1u << 30, 1u << 31, 100, 100000, 3};
    p.listener_quality["listener-" + std::to_string(i)] = {1000, 0.01, 1.0, 5.0, 20.0};
  }
  for (int i = 0; i < members; ++i) p.members["member-" + std::to_string(i)] = "ONLINE";
  return p;
}

void BM_Encode(benchmark::State& state) {
  const HeartbeatPayload p = payload(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  for (auto _ : state) benchmark::DoNotOptimize(encode(p, "0123456789abcdef"));
}
BENCHMARK(BM_Encode)->Args({1, 2})->Args({10, 100})->Args({50, 500});

void BM_DecodeAndVerify(benchmark::State& state) {
  const std::string d =
      encode(payload(static_cast<int>(state.range(0)), static_cast<int>(state.range(1))),
             "0123456789abcdef").datagram;
  DecodeOptions o;
  o.now_ms = 1'700'000'000'000;
  for (auto _ : state) benchmark::DoNotOptimize(decode_and_verify(d, "0123456789abcdef", 0, o));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * d.size()));
}
BENCHMARK(BM_DecodeAndVerify)->Args({1, 2})->Args({10, 100})->Args({50, 500});

void BM_RejectBadSignature(benchmark::State& state) {
  std::string d = encode(payload(10, 100), "0123456789abcdef").datagram;
  d[10] ^= 1;
  for (auto _ : state) benchmark::DoNotOptimize(decode_and_verify(d, "0123456789abcdef", 0));
}
BENCHMARK(BM_RejectBadSignature);

}  // namespace
