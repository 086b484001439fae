#include "amphora_agent/log_reducer/log_reducer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "amphora_agent/log_reducer/reduced_sink.h"

namespace pharos::log_reducer {
namespace {

using records::RecordKind;
using records::Termination;
using records::TransactionRecord;

constexpr uint64_t kT0 = 1'700'000'000'000'000ULL - 1'700'000'000'000'000ULL % 60'000'000;
constexpr uint64_t kMinute = 60'000'000;

class CollectingSink : public ReducedSink {
 public:
  void on_significant(const TransactionRecord& record, Reason reasons) override {
    significant.push_back({record, reasons});
  }
  void on_aggregate(const Aggregate& aggregate) override { aggregates.push_back(aggregate); }

  struct Kept {
    TransactionRecord record;
    Reason reasons;
  };
  std::vector<Kept> significant;
  std::vector<Aggregate> aggregates;
};

uint64_t next(uint64_t* s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
double uniform(uint64_t* s) { return (next(s) >> 11) * 0x1.0p-53; }

TransactionRecord ok_record(uint64_t start, uint32_t total_us, const std::string& listener = "L1",
                            const std::string& member = "M1") {
  TransactionRecord r;
  r.status = 200;
  r.start_unix_us = start;
  r.total_us = total_us;
  r.ttfb_us = total_us * 3 / 4;
  r.bytes_in = 300;
  r.bytes_out = 5000;
  r.listener_id = listener;
  r.pool_id = "P-" + listener;
  r.member_id = member;
  r.method = "GET";
  r.path = "/";
  return r;
}

// A mixed stream over several minutes with errors, a long tail, TCP records, odd methods and
// records arriving late. client_port + start make each record identifiable.
std::vector<TransactionRecord> mixed_stream(size_t n, uint64_t seed) {
  std::vector<TransactionRecord> out;
  static const char* kMethods[] = {"GET", "GET", "GET", "POST", "PUT", "DELETE", "BREW", ""};
  uint64_t t = kT0;
  for (size_t i = 0; i < n; ++i) {
    t += 1 + next(&seed) % 2000;
    const int listener = static_cast<int>(next(&seed) % 3);
    TransactionRecord r = ok_record(t, 0, "L" + std::to_string(listener),
                                    "M" + std::to_string(listener) + std::to_string(next(&seed) % 4));
    r.client_port = static_cast<uint16_t>(i);
    const double u1 = std::max(uniform(&seed), 1e-12), u2 = uniform(&seed);
    double total = 15'000 * std::exp(0.8 * std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2));
    if (uniform(&seed) < 0.003) total = 400'000 / std::pow(std::max(uniform(&seed), 1e-9), 0.7);
    r.total_us = static_cast<uint32_t>(std::min(total, 4.0e9));
    r.ttfb_us = r.total_us / 2;
    r.bytes_in = 200 + next(&seed) % 3000;
    r.bytes_out = next(&seed) % 200'000;
    r.method = kMethods[next(&seed) % 8];
    const uint64_t roll = next(&seed) % 1000;
    if (roll < 5) r.status = 500 + roll % 4;
    else if (roll < 10) r.status = 404;
    else if (roll < 13) r.termination = static_cast<Termination>(1 + roll % 10);
    else if (roll < 60) r.status = 301;
    if (listener == 2) {  // a TCP listener: no status, total is the connection lifetime
      r.kind = RecordKind::kTcp;
      r.status = 0;
      r.method.clear();
    }
    if (i % 97 == 0 && r.start_unix_us > kT0 + 2 * kMinute) {
      r.start_unix_us -= 2 * kMinute;  // a long request reported late
    }
    out.push_back(r);
  }
  return out;
}

struct Totals {
  uint64_t count = 0, bytes_in = 0, bytes_out = 0;
  bool operator==(const Totals&) const = default;
};

Totals totals_of(const std::vector<Aggregate>& aggregates) {
  Totals t;
  for (const Aggregate& a : aggregates) {
    t.count += a.count;
    t.bytes_in += a.bytes_in;
    t.bytes_out += a.bytes_out;
    EXPECT_EQ(a.count, a.total_us.count());
    EXPECT_EQ(a.count, a.ttfb_us.count());
  }
  return t;
}

Totals totals_of(const std::vector<TransactionRecord>& records) {
  Totals t;
  for (const TransactionRecord& r : records) {
    ++t.count;
    t.bytes_in += r.bytes_in;
    t.bytes_out += r.bytes_out;
  }
  return t;
}

// Feeds records in order, flushing as the agent would every simulated second.
void feed(LogReducer* reducer, const std::vector<TransactionRecord>& records) {
  uint64_t last_flush = 0;
  for (const TransactionRecord& r : records) {
    reducer->add(r);
    if (r.start_unix_us > last_flush + 1'000'000) {
      reducer->flush(r.start_unix_us);
      last_flush = r.start_unix_us;
    }
  }
  reducer->flush_all();
}

std::pair<uint64_t, uint16_t> id_of(const TransactionRecord& r) {
  return {r.start_unix_us, r.client_port};
}

TEST(LogReducer, AggregateTotalsEqualRawStreamExactly) {
  const auto records = mixed_stream(300'000, 11);
  CollectingSink sink;
  LogReducer reducer(ReducerConfig{}, &sink);
  feed(&reducer, records);
  EXPECT_EQ(totals_of(sink.aggregates), totals_of(records));
  EXPECT_EQ(reducer.stats().records, records.size());
  EXPECT_EQ(reducer.open_keys(), 0u);
  // Several minutes, late records included, each (key, interval) may appear more than once
  // but the sum is exact.
  std::set<uint64_t> intervals;
  for (const Aggregate& a : sink.aggregates) intervals.insert(a.key.interval_start_us);
  EXPECT_GE(intervals.size(), 4u);
}

TEST(LogReducer, EverySignificantRecordIsKept) {
  const auto records = mixed_stream(300'000, 12);
  CollectingSink sink;
  ReducerConfig config;
  config.max_pending_significant = 4;  // force early hand-overs too
  LogReducer reducer(config, &sink);
  feed(&reducer, records);

  std::map<std::pair<uint64_t, uint16_t>, Reason> kept;
  for (const auto& k : sink.significant) kept[id_of(k.record)] = k.reasons;
  EXPECT_EQ(kept.size(), sink.significant.size()) << "a record was handed over twice";
  EXPECT_EQ(sink.significant.size(), reducer.stats().significant);
  EXPECT_GT(reducer.stats().significant_early_flushes, 0u);

  size_t errors = 0;
  for (const TransactionRecord& r : records) {
    const Reason expected = error_reasons(r);
    const bool above_sla = slow_latency_us(r) > config.sla_total_us;
    auto it = kept.find(id_of(r));
    if (expected != Reason::kNone) {
      ++errors;
      ASSERT_NE(it, kept.end()) << "error record lost: status " << r.status;
      EXPECT_TRUE(has(it->second, expected));
    }
    if (it != kept.end()) {
      EXPECT_TRUE(expected != Reason::kNone || has(it->second, Reason::kSlow) ||
                  has(it->second, Reason::kMemberRecovered));
      if (has(it->second, Reason::kSlow)) {
        EXPECT_TRUE(above_sla);
      }
    }
  }
  EXPECT_GT(errors, 1000u);
  EXPECT_LT(sink.significant.size(), records.size() / 50);
}

TEST(LogReducer, SignificantRecordsAreKeptVerbatim) {
  CollectingSink sink;
  LogReducer reducer(ReducerConfig{}, &sink);
  TransactionRecord r = ok_record(kT0, 1000);
  r.status = 503;
  r.path = "/checkout?id=42";
  r.user_agent = "ua";
  r.client_address = "192.0.2.7";
  reducer.add(r);
  reducer.flush(kT0);
  ASSERT_EQ(sink.significant.size(), 1u);
  EXPECT_EQ(sink.significant[0].record.path, r.path);
  EXPECT_EQ(sink.significant[0].record.client_address, r.client_address);
  EXPECT_EQ(sink.significant[0].reasons, Reason::kStatusError);
}

TEST(LogReducer, SlowRuleUsesSlaThenListenerPercentile) {
  CollectingSink sink;
  ReducerConfig config;
  config.sla_total_us = 100'000;
  config.slow_min_samples = 1000;
  LogReducer reducer(config, &sink);
  // Fewer samples than slow_min_samples: the SLA alone decides.
  reducer.add(ok_record(kT0, 100'001));
  reducer.add(ok_record(kT0 + 1, 100'000));
  reducer.flush(kT0);
  ASSERT_EQ(sink.significant.size(), 1u);
  EXPECT_EQ(sink.significant[0].reasons, Reason::kSlow);

  // A listener whose whole distribution sits above the SLA (long-poll): only its own tail.
  sink.significant.clear();
  uint64_t seed = 5;
  for (int i = 0; i < 100'000; ++i) {
    reducer.add(ok_record(kT0 + 2 + i, 200'000 + static_cast<uint32_t>(next(&seed) % 800'000),
                          "LONGPOLL"));
  }
  reducer.flush(kT0);
  const double kept = static_cast<double>(sink.significant.size()) / 100'000;
  EXPECT_GT(kept, 0.005);
  EXPECT_LT(kept, 0.03);  // ~1% tail plus the first 1000 samples judged on the SLA alone
  const uint32_t threshold = reducer.slow_threshold_us("LONGPOLL");
  EXPECT_NEAR(threshold, 992'000, 992'000 * 0.02);
  // A fast listener keeps nothing below the SLA, even its p99.
  sink.significant.clear();
  for (int i = 0; i < 100'000; ++i) {
    reducer.add(ok_record(kT0 + i, 1000 + static_cast<uint32_t>(next(&seed) % 50'000), "FAST"));
  }
  reducer.flush(kT0);
  EXPECT_TRUE(sink.significant.empty());
}

TEST(LogReducer, TcpConnectionsAreJudgedOnConnectTimeNotLifetime) {
  CollectingSink sink;
  LogReducer reducer(ReducerConfig{}, &sink);
  TransactionRecord long_lived = ok_record(kT0, 3'600'000'000u, "TCP");
  long_lived.kind = RecordKind::kTcp;
  long_lived.status = 0;
  long_lived.connect_us = 500;
  reducer.add(long_lived);
  TransactionRecord slow_connect = long_lived;
  slow_connect.connect_us = 2'000'000;
  reducer.add(slow_connect);
  reducer.flush(kT0);
  ASSERT_EQ(sink.significant.size(), 1u);
  EXPECT_EQ(sink.significant[0].record.connect_us, 2'000'000u);
  EXPECT_EQ(sink.significant[0].reasons, Reason::kSlow);
}

TEST(LogReducer, ThresholdFollowsTheListenerAcrossIntervals) {
  CollectingSink sink;
  ReducerConfig config;
  config.sla_total_us = 1;
  LogReducer reducer(config, &sink);
  for (int i = 0; i < 20'000; ++i) reducer.add(ok_record(kT0 + i, 10'000 + i % 1000));
  const uint32_t before = reducer.slow_threshold_us("L1");
  EXPECT_NEAR(before, 10'990, 200);
  // Two intervals later the old distribution is forgotten.
  for (int i = 0; i < 20'000; ++i) {
    reducer.add(ok_record(kT0 + 2 * kMinute + i, 50'000 + i % 1000));
  }
  EXPECT_NEAR(reducer.slow_threshold_us("L1"), 50'990, 1000);
}

TEST(LogReducer, MemberAnomalies) {
  CollectingSink sink;
  ReducerConfig config;
  config.member_error_streak = 100;
  config.member_recovery_errors = 3;
  LogReducer reducer(config, &sink);
  uint64_t t = kT0;
  for (int i = 0; i < 100; ++i) reducer.add(ok_record(t++, 1000));
  TransactionRecord client_error = ok_record(t++, 1000);
  client_error.status = 404;  // the client's fault: neither flags nor breaks the member's streak
  reducer.add(client_error);
  TransactionRecord error = ok_record(t++, 1000);
  error.status = 502;
  reducer.add(error);
  error.status = 0;
  error.termination = Termination::kConnectFailed;
  reducer.add(error);
  reducer.add(error);
  reducer.add(ok_record(t++, 1000));  // recovery after 3 member errors: kept
  reducer.add(ok_record(t++, 1000));  // an ordinary success again
  reducer.flush(kT0);
  ASSERT_EQ(sink.significant.size(), 5u);
  EXPECT_EQ(sink.significant[0].reasons, Reason::kStatusError);
  EXPECT_EQ(sink.significant[1].reasons, Reason::kStatusError | Reason::kMemberFirstError);
  EXPECT_EQ(sink.significant[2].reasons, Reason::kAbnormalTermination);
  EXPECT_EQ(sink.significant[3].reasons, Reason::kAbnormalTermination);
  EXPECT_EQ(sink.significant[4].reasons, Reason::kMemberRecovered);
  EXPECT_EQ(reducer.stats().anomalies, 2u);
}

TEST(LogReducer, IntervalRolloverAndLateRecords) {
  CollectingSink sink;
  ReducerConfig config;
  config.close_grace_us = 5'000'000;
  LogReducer reducer(config, &sink);
  reducer.add(ok_record(kT0 + 10, 1000));
  reducer.add(ok_record(kT0 + kMinute - 1, 1000));
  reducer.add(ok_record(kT0 + kMinute, 1000));  // next interval
  reducer.flush(kT0 + kMinute + 4'999'999);     // within the grace: nothing closes
  EXPECT_TRUE(sink.aggregates.empty());
  reducer.flush(kT0 + kMinute + 5'000'000);
  ASSERT_EQ(sink.aggregates.size(), 1u);
  EXPECT_EQ(sink.aggregates[0].key.interval_start_us, kT0);
  EXPECT_EQ(sink.aggregates[0].count, 2u);
  EXPECT_EQ(sink.aggregates[0].interval_us, kMinute);
  EXPECT_EQ(reducer.open_keys(), 1u);
  // A record of the closed interval arrives late: its interval re-opens and is emitted again.
  reducer.add(ok_record(kT0 + 20, 1000));
  reducer.flush(kT0 + 2 * kMinute + 5'000'000);
  ASSERT_EQ(sink.aggregates.size(), 3u);
  EXPECT_EQ(sink.aggregates[1].key.interval_start_us, kT0);
  EXPECT_EQ(sink.aggregates[1].count, 1u);
  EXPECT_EQ(sink.aggregates[2].key.interval_start_us, kT0 + kMinute);
  EXPECT_EQ(reducer.open_keys(), 0u);
}

TEST(LogReducer, KeysSplitByStatusClassAndNormalisedMethod) {
  CollectingSink sink;
  LogReducer reducer(ReducerConfig{}, &sink);
  for (const char* method : {"GET", "GET", "POST", "BREW", "get", "X-CUSTOM"}) {
    TransactionRecord r = ok_record(kT0, 1000);
    r.method = method;
    reducer.add(r);
  }
  TransactionRecord redirect = ok_record(kT0, 1000);
  redirect.status = 302;
  reducer.add(redirect);
  reducer.flush_all();
  std::map<std::pair<std::string, StatusClass>, uint64_t> counts;
  for (const Aggregate& a : sink.aggregates) counts[{a.key.method, a.key.status_class}] += a.count;
  EXPECT_EQ((counts[{"GET", StatusClass::k2xx}]), 2u);
  EXPECT_EQ((counts[{"GET", StatusClass::k3xx}]), 1u);
  EXPECT_EQ((counts[{"POST", StatusClass::k2xx}]), 1u);
  EXPECT_EQ((counts[{"OTHER", StatusClass::k2xx}]), 3u);
  EXPECT_EQ(counts.size(), 4u);
}

TEST(LogReducer, PercentilesOfMergedAggregatesWithinBound) {
  const auto records = mixed_stream(200'000, 13);
  CollectingSink sink;
  LogReducer reducer(ReducerConfig{}, &sink);
  feed(&reducer, records);
  // Merge across every key and interval, and separately for one listener.
  Aggregate all, l0;
  std::vector<uint32_t> exact_all, exact_l0;
  for (const Aggregate& a : sink.aggregates) {
    all.merge(a);
    if (a.key.listener_id == "L0") l0.merge(a);
  }
  for (const TransactionRecord& r : records) {
    exact_all.push_back(r.total_us);
    if (r.listener_id == "L0") exact_l0.push_back(r.total_us);
  }
  for (auto [h, exact] : {std::pair{&all.total_us, &exact_all}, {&l0.total_us, &exact_l0}}) {
    std::sort(exact->begin(), exact->end());
    ASSERT_EQ(h->count(), exact->size());
    for (double q : {0.5, 0.9, 0.99, 0.999}) {
      const double e = (*exact)[static_cast<size_t>(std::ceil(q * exact->size())) - 1];
      EXPECT_LE(std::abs(h->quantile(q) - e), e * LatencyHistogram::kMaxRelativeError + 1)
          << "q=" << q;
    }
  }
}

TEST(LogReducer, MemoryStaysBoundedUnderKeyExplosion) {
  CollectingSink sink;
  ReducerConfig config;
  config.max_keys = 64;
  config.max_pending_significant = 256;
  config.max_listeners = 16;
  config.max_members = 32;
  LogReducer reducer(config, &sink);
  const size_t bound = LogReducer::memory_bound(config);
  std::vector<TransactionRecord> records;
  uint64_t seed = 9;
  size_t peak = 0;
  for (int i = 0; i < 50'000; ++i) {
    // Every record a new member and listener; some errors with maximal strings.
    TransactionRecord r = ok_record(kT0 + next(&seed) % (10 * kMinute), 1000,
                                    "listener-" + std::to_string(i % 1000),
                                    "member-" + std::to_string(i));
    if (i % 10 == 0) {
      r.status = 500;
      r.path = std::string(5000, 'p');
      r.user_agent = std::string(5000, 'u');
      r.host = std::string(5000, 'h');
      r.member_id = std::string(200, 'm');
    }
    reducer.add(r);
    records.push_back(r);
    EXPECT_LE(reducer.open_keys(), config.max_keys);
    if (i % 500 == 0) peak = std::max(peak, reducer.memory_bytes());
  }
  peak = std::max(peak, reducer.memory_bytes());
  EXPECT_LE(peak, bound);
  EXPECT_GT(reducer.stats().spills, 0u);
  reducer.flush_all();
  EXPECT_EQ(totals_of(sink.aggregates), totals_of(records));
  EXPECT_EQ(sink.significant.size(), 5000u);
  // Kept copies are cut to the wire caps.
  for (const auto& k : sink.significant) EXPECT_LE(k.record.path.size(), 1024u);
  std::printf("peak memory %zu bytes, bound %zu bytes\n", peak, bound);
}

TEST(LogReducer, NormalizeMethod) {
  EXPECT_EQ(normalize_method("GET"), "GET");
  EXPECT_EQ(normalize_method("PATCH"), "PATCH");
  EXPECT_EQ(normalize_method(""), "");
  EXPECT_EQ(normalize_method("get"), "OTHER");
  EXPECT_EQ(normalize_method(std::string(100, 'G')), "OTHER");
}

}  // namespace
}  // namespace pharos::log_reducer
