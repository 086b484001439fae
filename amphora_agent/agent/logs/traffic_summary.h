// Sums of stored aggregates: grouped for GET /v1/logs/aggregates and per listener / per pool
// for the heartbeat's quality fields. Histograms merge exactly, so a group's percentiles are
// those of all its requests (within the histogram's 1.6%).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "amphora_agent/heartbeat/heartbeat_payload.h"
#include "amphora_agent/log_reducer/aggregate.h"
#include "amphora_agent/state/state_store.h"

namespace pharos::agent::logs {

// "1xx".."5xx", or "other"; and back (-1 for anything else).
std::string status_class_name(int status_class);
int parse_status_class(const std::string& name);

// One row per (interval, listener, pool, member, status class): methods merged.
nlohmann::json summarize_aggregates(const std::vector<state::AggregateRow>& rows);

struct Quality {
  std::map<std::string, heartbeat::TrafficQuality> listeners;
  std::map<std::string, heartbeat::TrafficQuality> pools;
};
// Per listener and per pool: requests, p50/p95/p99 of total latency, and error_rate, the share
// of 5xx responses (aggregates keep the status class, not the termination of TCP connections).
Quality quality_of(const std::vector<state::AggregateRow>& rows);

}  // namespace pharos::agent::logs
