#include "amphora_agent/agent/logs/traffic_summary.h"

#include <tuple>

#include "amphora_agent/log_reducer/aggregate_codec.h"

namespace pharos::agent::logs {
namespace {

bool decode(const state::AggregateRow& row, log_reducer::Aggregate* out) {
  size_t used = 0;
  return log_reducer::decode_aggregate(row.encoded, out, &used) ==
         log_reducer::AggregateDecodeError::kOk;
}

double ms(uint32_t us) { return static_cast<double>(us) / 1000.0; }

nlohmann::json percentiles(const log_reducer::LatencyHistogram& h) {
  return {{"p50", ms(h.quantile(0.50))},
          {"p90", ms(h.quantile(0.90))},
          {"p95", ms(h.quantile(0.95))},
          {"p99", ms(h.quantile(0.99))},
          {"max", ms(h.max())}};
}

heartbeat::TrafficQuality to_quality(const log_reducer::Aggregate& a, uint64_t errors) {
  heartbeat::TrafficQuality q;
  q.requests = a.count;
  q.error_rate = a.count ? static_cast<double>(errors) / static_cast<double>(a.count) : 0.0;
  q.p50_ms = ms(a.total_us.quantile(0.50));
  q.p95_ms = ms(a.total_us.quantile(0.95));
  q.p99_ms = ms(a.total_us.quantile(0.99));
  return q;
}

}  // namespace

std::string status_class_name(int status_class) {
  if (status_class >= 1 && status_class <= 5) return std::to_string(status_class) + "xx";
  return "other";
}

int parse_status_class(const std::string& name) {
  if (name == "other") return 0;
  if (name.size() == 3 && name[0] >= '1' && name[0] <= '5' && (name[1] == 'x' || name[1] == 'X') &&
      (name[2] == 'x' || name[2] == 'X')) {
    return name[0] - '0';
  }
  return -1;
}

nlohmann::json summarize_aggregates(const std::vector<state::AggregateRow>& rows) {
  using Key = std::tuple<int64_t, std::string, std::string, std::string, int>;
  std::map<Key, log_reducer::Aggregate> groups;
  std::map<Key, int64_t> interval_of;
  for (const state::AggregateRow& row : rows) {
    log_reducer::Aggregate a;
    if (!decode(row, &a)) continue;
    const Key key{row.interval_start_us, row.listener_id, row.pool_id, row.member_id,
                  row.status_class};
    groups[key].merge(a);
    interval_of[key] = row.interval_us;
  }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [key, a] : groups) {
    out.push_back({{"interval_start_us", std::get<0>(key)},
                   {"interval_us", interval_of[key]},
                   {"listener_id", std::get<1>(key)},
                   {"pool_id", std::get<2>(key)},
                   {"member_id", std::get<3>(key)},
                   {"status_class", status_class_name(std::get<4>(key))},
                   {"count", a.count},
                   {"bytes_in", a.bytes_in},
                   {"bytes_out", a.bytes_out},
                   {"total_ms", percentiles(a.total_us)},
                   {"ttfb_ms", percentiles(a.ttfb_us)}});
  }
  return out;
}

Quality quality_of(const std::vector<state::AggregateRow>& rows) {
  std::map<std::string, std::pair<log_reducer::Aggregate, uint64_t>> listeners;
  std::map<std::string, std::pair<log_reducer::Aggregate, uint64_t>> pools;
  for (const state::AggregateRow& row : rows) {
    log_reducer::Aggregate a;
    if (!decode(row, &a)) continue;
    const uint64_t errors = row.status_class == 5 ? a.count : 0;
    auto& l = listeners[row.listener_id];
    l.first.merge(a);
    l.second += errors;
    if (row.pool_id.empty()) continue;
    auto& p = pools[row.pool_id];
    p.first.merge(a);
    p.second += errors;
  }
  Quality q;
  for (const auto& [id, g] : listeners) q.listeners[id] = to_quality(g.first, g.second);
  for (const auto& [id, g] : pools) q.pools[id] = to_quality(g.first, g.second);
  return q;
}

}  // namespace pharos::agent::logs
