// The agent's log reducer: keeps significant transactions whole and folds every transaction
// into per-interval aggregates, within a fixed memory budget. Rules: schema/transaction-record.md,
// "Log reduction". Single-threaded; the agent feeds it from the thread reading the datagrams.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "amphora_agent/log_reducer/aggregate.h"
#include "amphora_agent/log_reducer/latency_histogram.h"
#include "engine/records/transaction_record.h"

namespace pharos::log_reducer {

class ReducedSink;

struct ReducerConfig {
  uint64_t interval_us = 60'000'000;
  // An interval closes at flush(now) once now >= start + interval_us + close_grace_us, leaving
  // time for records of requests that started in it and ended (were sent) after it.
  uint64_t close_grace_us = 5'000'000;
  // Slow: latency > sla_total_us AND (listener has < slow_min_samples in its window OR
  // latency > the listener's running slow_quantile), latency as slow_latency_us() defines it.
  // 0 makes the SLA pass every record (the percentile alone decides).
  uint32_t sla_total_us = 1'000'000;
  double slow_quantile = 0.99;
  uint64_t slow_min_samples = 1000;
  // Anomalies, per member, on member-attributable errors only (see is_member_error).
  uint32_t member_error_streak = 1000;  // successes before an error is "first after a streak"
  uint32_t member_recovery_errors = 3;  // errors before a success is kept as the recovery
  // Memory bounds.
  size_t max_keys = 1024;                 // open aggregate keys, all intervals together
  size_t max_pending_significant = 4096;  // buffered significant records
  size_t max_listeners = 256;             // listeners with an adaptive threshold
  size_t max_members = 4096;              // members with anomaly state
};

struct ReducerStats {
  uint64_t records = 0;
  uint64_t significant = 0;
  uint64_t slow = 0;
  uint64_t anomalies = 0;              // records kept (or flagged) by an anomaly rule
  uint64_t aggregates_emitted = 0;
  uint64_t spills = 0;                 // key table full: every open aggregate handed over early
  uint64_t significant_early_flushes = 0;  // pending buffer full: handed over before flush()
};

// True for errors a member is to blame for: 5xx, member reset/timeout, connect failure, bad
// response. Client-side failures (4xx, client reset/timeout, bad request, denied) are not.
bool is_member_error(const records::TransactionRecord& record);

// The latency the slow rule judges: total_us for HTTP; connect_us for TCP, whose total_us is
// the connection's lifetime (the client's session length, not the service's speed).
uint32_t slow_latency_us(const records::TransactionRecord& record);

// The reasons `record` is significant on its own (error rules only; slow and anomalies need
// the reducer's state). kNone when it is not.
Reason error_reasons(const records::TransactionRecord& record);

class LogReducer {
 public:
  // `sink` must outlive the reducer.
  LogReducer(const ReducerConfig& config, ReducedSink* sink);
  ~LogReducer();
  LogReducer(const LogReducer&) = delete;
  LogReducer& operator=(const LogReducer&) = delete;

  // Accounts one record: always into its aggregate; also kept whole if significant.
  void add(const records::TransactionRecord& record);

  // Hands pending significant records, then every aggregate of an interval closed at
  // `now_unix_us`, to the sink.
  void flush(uint64_t now_unix_us);
  // Hands everything over, open intervals included (shutdown, tests).
  void flush_all();

  const ReducerStats& stats() const { return stats_; }
  size_t open_keys() const { return aggregates_.size(); }
  size_t pending_significant() const { return pending_.size(); }
  // Current heap use of the reducer's state (approximate, but counting every container).
  size_t memory_bytes() const;
  // Upper bound of memory_bytes() implied by `config` (record strings at their wire caps).
  static size_t memory_bound(const ReducerConfig& config);

  // Slow threshold of `listener_id` in use now; 0 when it has too few samples.
  uint32_t slow_threshold_us(std::string_view listener_id) const;

 private:
  struct KeyView {
    uint64_t interval_start_us;
    std::string_view listener_id;
    std::string_view pool_id;
    std::string_view member_id;
    std::string_view method;
    StatusClass status_class;
    bool operator==(const KeyView&) const = default;
  };
  struct KeyHash {
    size_t operator()(const KeyView& k) const;
  };
  struct ListenerState;
  struct MemberState {
    uint32_t ok_streak = 0;
    uint32_t error_streak = 0;
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  Reason slow_and_anomaly_reasons(const records::TransactionRecord& record, Reason reasons);
  void aggregate(const records::TransactionRecord& record);
  void emit(Aggregate& aggregate);
  void spill();
  void flush_significant();

  ReducerConfig config_;
  ReducedSink* sink_;
  ReducerStats stats_;
  // Keys view into their own Aggregate (heap-stable through unique_ptr).
  std::unordered_map<KeyView, std::unique_ptr<Aggregate>, KeyHash> aggregates_;
  std::unordered_map<std::string, std::unique_ptr<ListenerState>, StringHash, std::equal_to<>>
      listeners_;
  std::unordered_map<std::string, MemberState, StringHash, std::equal_to<>> members_;
  struct Pending {
    records::TransactionRecord record;
    Reason reasons;
  };
  std::vector<Pending> pending_;
};

}  // namespace pharos::log_reducer
