// Log reducer throughput (decode + reduce, one core) and reduction ratio on synthetic traffic.
//
// BM_ReductionRatio/<error ppm>/<requests per second> replays 5 simulated minutes through the
// codec and the reducer and reports:
//   ratio       raw encoded bytes / (encoded significant records + encoded aggregates)
//   bound       raw bytes / encoded significant records: the best ratio possible while keeping
//               every significant record whole, whatever the aggregates cost
//   err_kept_%  errors the reducer kept / errors generated (must be 100)
//   exact       1 when aggregate counts and byte sums equal the raw stream's
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <vector>

#include "amphora_agent/log_reducer/aggregate_codec.h"
#include "amphora_agent/log_reducer/log_reducer.h"
#include "amphora_agent/log_reducer/reduced_sink.h"
#include "engine/records/record_codec.h"
#include "traffic_generator.h"

namespace pharos::log_reducer::bench {
namespace {

using records::TransactionRecord;

class NullSink : public ReducedSink {
 public:
  void on_significant(const TransactionRecord&, Reason) override { ++significant; }
  void on_aggregate(const Aggregate&) override { ++aggregates; }
  uint64_t significant = 0;
  uint64_t aggregates = 0;
};

// Measures what a storage backend would keep, by encoding it.
class SizingSink : public ReducedSink {
 public:
  void on_significant(const TransactionRecord& record, Reason reasons) override {
    significant_bytes += records::encoded_size(record);
    ++significant;
    if (has(reasons, Reason::kStatusError) || has(reasons, Reason::kAbnormalTermination)) {
      ++errors;
    }
    if (has(reasons, Reason::kSlow)) ++slow;
  }
  void on_aggregate(const Aggregate& aggregate) override {
    scratch.clear();
    aggregate_bytes += encode_aggregate(aggregate, &scratch);
    ++aggregates;
    count += aggregate.count;
    bytes_in += aggregate.bytes_in;
    bytes_out += aggregate.bytes_out;
  }
  std::string scratch;
  uint64_t significant = 0, errors = 0, slow = 0, aggregates = 0;
  uint64_t significant_bytes = 0, aggregate_bytes = 0;
  uint64_t count = 0, bytes_in = 0, bytes_out = 0;
};

std::vector<std::string> datagrams(const TrafficMix& mix, size_t n) {
  TrafficGenerator generator(mix);
  records::BatchWriter writer;
  std::vector<std::string> out;
  TransactionRecord r;
  for (size_t i = 0; i < n; ++i) {
    generator.next(&r);
    if (!writer.add(r)) {
      out.push_back(writer.datagram());
      writer.clear();
      writer.add(r);
    }
  }
  if (!writer.empty()) out.push_back(writer.datagram());
  return out;
}

// The agent's loop: one datagram at a time into a reused record, flushing on the stream clock.
void BM_DecodeReduce(benchmark::State& state) {
  TrafficMix mix;
  mix.error_rate = state.range(0) / 1e6;
  const auto batches = datagrams(mix, 500'000);
  size_t records = 0;
  for (auto _ : state) {
    NullSink sink;
    LogReducer reducer(ReducerConfig{}, &sink);
    TransactionRecord r;
    for (const std::string& d : batches) {
      records::BatchReader reader(d);
      while (reader.next(&r)) reducer.add(r);
      reducer.flush(r.start_unix_us);
    }
    reducer.flush_all();
    records += reducer.stats().records;
    benchmark::DoNotOptimize(sink.aggregates);
  }
  state.SetItemsProcessed(static_cast<int64_t>(records));
  state.counters["datagrams"] = static_cast<double>(batches.size());
}
BENCHMARK(BM_DecodeReduce)->Arg(10'000)->Arg(100)->Unit(benchmark::kMillisecond);

void BM_ReduceOnly(benchmark::State& state) {
  TrafficMix mix;
  TrafficGenerator generator(mix);
  std::vector<TransactionRecord> input(200'000);
  for (auto& r : input) generator.next(&r);
  for (auto _ : state) {
    NullSink sink;
    LogReducer reducer(ReducerConfig{}, &sink);
    for (size_t i = 0; i < input.size(); ++i) {
      reducer.add(input[i]);
      if (i % 180 == 179) reducer.flush(input[i].start_unix_us);
    }
    reducer.flush_all();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * input.size()));
}
BENCHMARK(BM_ReduceOnly)->Unit(benchmark::kMillisecond);

void BM_ReductionRatio(benchmark::State& state) {
  TrafficMix mix;
  mix.error_rate = state.range(0) / 1e6;
  mix.requests_per_second = static_cast<double>(state.range(1));
  constexpr double kSeconds = 300;
  for (auto _ : state) {
    TrafficGenerator generator(mix);
    SizingSink sink;
    LogReducer reducer(ReducerConfig{}, &sink);
    records::BatchWriter writer;
    TransactionRecord r, decoded;
    uint64_t raw_bytes = 0, raw_count = 0, raw_in = 0, raw_out = 0, errors = 0;
    const uint64_t end = mix.start_unix_us + static_cast<uint64_t>(kSeconds * 1e6);
    auto drain = [&] {
      records::BatchReader reader(writer.datagram());
      while (reader.next(&decoded)) reducer.add(decoded);
      reducer.flush(decoded.start_unix_us);
      writer.clear();
    };
    for (;;) {
      generator.next(&r);
      if (r.start_unix_us >= end) break;
      raw_bytes += records::encoded_size(r);
      ++raw_count;
      raw_in += r.bytes_in;
      raw_out += r.bytes_out;
      errors += generator.last_was_error() ? 1 : 0;
      if (!writer.add(r)) {
        drain();
        writer.add(r);
      }
    }
    drain();
    reducer.flush_all();

    const uint64_t kept = sink.significant_bytes + sink.aggregate_bytes;
    const bool exact = sink.count == raw_count && sink.bytes_in == raw_in &&
                       sink.bytes_out == raw_out;
    state.counters["records"] = static_cast<double>(raw_count);
    state.counters["raw_MB"] = raw_bytes / 1e6;
    state.counters["kept_KB"] = kept / 1e3;
    state.counters["sig_KB"] = sink.significant_bytes / 1e3;
    state.counters["agg_KB"] = sink.aggregate_bytes / 1e3;
    state.counters["aggregates"] = static_cast<double>(sink.aggregates);
    state.counters["sig_%"] = 100.0 * sink.significant / raw_count;
    state.counters["slow"] = static_cast<double>(sink.slow);
    state.counters["ratio"] = static_cast<double>(raw_bytes) / kept;
    state.counters["bound"] = static_cast<double>(raw_bytes) / sink.significant_bytes;
    state.counters["err_kept_%"] = errors ? 100.0 * sink.errors / errors : 100.0;
    state.counters["exact"] = exact ? 1 : 0;
    if (!exact || sink.errors != errors) state.SkipWithError("invariant violated");
  }
}
BENCHMARK(BM_ReductionRatio)
    ->ArgNames({"err_ppm", "rps"})
    ->Args({10'000, 1'000})
    ->Args({10'000, 10'000})
    ->Args({100, 1'000})
    ->Args({100, 10'000})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace pharos::log_reducer::bench
