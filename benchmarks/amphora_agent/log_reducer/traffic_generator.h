// Deterministic synthetic traffic for the log reducer: a realistic mix of listeners, pools and
// members, long-tailed latencies, Zipf-distributed paths and clients, a chosen error rate.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/records/transaction_record.h"

namespace pharos::log_reducer::bench {

struct TrafficMix {
  uint64_t seed = 42;
  double requests_per_second = 5000;
  double error_rate = 0.01;             // 4xx/5xx/abnormal terminations, of all records
  double heavy_tail_fraction = 0.001;   // Pareto(250 ms, alpha 1.5) instead of log-normal
  uint64_t start_unix_us = 1'699'999'980'000'000ULL;  // on a minute boundary
};

class TrafficGenerator {
 public:
  explicit TrafficGenerator(const TrafficMix& mix);

  // Overwrites `*out` with the next record; start_unix_us increases (Poisson arrivals).
  void next(records::TransactionRecord* out);
  // Whether the last record was generated as an error (the reducer must keep it).
  bool last_was_error() const { return last_error_; }

 private:
  struct Member {
    std::string id;
  };
  struct Listener {
    std::string id;
    std::string pool_id;
    std::vector<std::string> members;
    std::string host;
    bool tls;
    bool tcp;
    double share;            // of all records
    double median_total_us;  // log-normal median
  };

  uint64_t u64();
  double uniform();
  double normal();
  size_t zipf(const std::vector<double>& cdf);
  std::string uuid();

  TrafficMix mix_;
  uint64_t state_;
  double now_us_;
  bool last_error_ = false;
  std::vector<Listener> listeners_;
  std::vector<std::string> paths_;
  std::vector<double> path_cdf_;
  std::vector<std::string> clients_;
  std::vector<double> client_cdf_;
};

}  // namespace pharos::log_reducer::bench
