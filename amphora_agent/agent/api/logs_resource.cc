// GET /v1/logs: search the transactions the log reducer kept whole. GET /v1/logs/aggregates:
// the per-interval aggregates of every transaction. Filters are query parameters; see
// schema/agent-api/README.md.
#include <charconv>
#include <cmath>
#include <set>

#include "amphora_agent/agent/api/resources.h"
#include "amphora_agent/agent/logs/traffic_summary.h"
#include "amphora_agent/state/state_store.h"

namespace pharos::agent::api {
namespace {

constexpr int64_t kDefaultLimit = 100;
constexpr int64_t kMaxLimit = 1000;
constexpr int64_t kMaxAggregates = 10000;

struct QueryError {
  std::string parameter;
  std::string message;
};

bool parse_int(const std::string& text, int64_t min, int64_t max, int64_t* out) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < min || v > max) return false;
  *out = v;
  return true;
}

// Unix seconds, fractions allowed, as microseconds.
bool parse_time(const std::string& text, int64_t* out_us) {
  double seconds = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(seconds) ||
      seconds < 0 || seconds > 1e11) {
    return false;
  }
  *out_us = static_cast<int64_t>(std::llround(seconds * 1e6));
  return true;
}

// Reads the parameters every search shares; fills `error` on the first bad one.
template <typename Query>
bool common_filters(const ApiRequest& request, const std::set<std::string>& allowed, Query& q,
                    QueryError& error) {
  for (const auto& [name, value] : request.query) {
    if (!allowed.contains(name)) {
      error = {name, "unknown query parameter"};
      return false;
    }
  }
  auto get = [&](const char* name) -> const std::string* {
    auto it = request.query.find(name);
    return it == request.query.end() ? nullptr : &it->second;
  };
  if (const auto* v = get("since"); v && !parse_time(*v, &q.since_us)) {
    error = {"since", "must be unix seconds"};
    return false;
  }
  if (const auto* v = get("until"); v && !parse_time(*v, &q.until_us)) {
    error = {"until", "must be unix seconds"};
    return false;
  }
  if (const auto* v = get("listener_id")) q.listener_id = *v;
  if (const auto* v = get("pool_id")) q.pool_id = *v;
  if (const auto* v = get("member_id")) q.member_id = *v;
  if (const auto* v = get("status_class")) {
    q.status_class = logs::parse_status_class(*v);
    if (q.status_class < 0) {
      error = {"status_class", "must be 1xx, 2xx, 3xx, 4xx, 5xx or other"};
      return false;
    }
  }
  return true;
}

ApiResponse bad_query(const QueryError& e) {
  return error_response(400, "invalid_query", e.parameter + ": " + e.message);
}

}  // namespace

ApiResponse get_logs(const AgentContext& ctx, const ApiRequest& request) {
  static const std::set<std::string> kAllowed = {
      "since",  "until",       "listener_id",    "pool_id", "member_id", "status",
      "status_class", "path_prefix", "client_address", "limit",   "marker",    "offset"};
  state::RecordQuery q;
  QueryError error;
  if (!common_filters(request, kAllowed, q, error)) return bad_query(error);
  if (auto it = request.query.find("status"); it != request.query.end()) {
    // An exact status, or a class written the same way ("5xx").
    const int cls = logs::parse_status_class(it->second);
    if (cls >= 0) {
      q.status_class = cls;
    } else if (!parse_int(it->second, 100, 599, &q.status)) {
      return bad_query({"status", "must be an HTTP status (100..599) or a class such as 5xx"});
    }
  }
  if (auto it = request.query.find("path_prefix"); it != request.query.end()) {
    q.path_prefix = it->second;
  }
  if (auto it = request.query.find("client_address"); it != request.query.end()) {
    q.client_address = it->second;
  }
  q.limit = kDefaultLimit;
  if (auto it = request.query.find("limit");
      it != request.query.end() && !parse_int(it->second, 1, kMaxLimit, &q.limit)) {
    return bad_query({"limit", "must be an integer in 1.." + std::to_string(kMaxLimit)});
  }
  if (auto it = request.query.find("marker");
      it != request.query.end() && !parse_int(it->second, 1, INT64_MAX, &q.before_id)) {
    return bad_query({"marker", "must be the next_marker of a previous page"});
  }
  if (auto it = request.query.find("offset");
      it != request.query.end() && !parse_int(it->second, 0, INT64_MAX, &q.offset)) {
    return bad_query({"offset", "must be a non-negative integer"});
  }

  auto found = ctx.store->search_significant_records(q);
  if (!found) return error_response(500, "storage_error", found.error().message);
  nlohmann::json records = nlohmann::json::array();
  for (const state::SignificantRecord& r : found.value()) {
    nlohmann::json entry = nlohmann::json::parse(r.record_json, nullptr, false);
    if (!entry.is_object()) entry = nlohmann::json::object();
    entry["id"] = r.id;
    records.push_back(std::move(entry));
  }
  nlohmann::json body = {{"records", records}, {"next_marker", nullptr}};
  if (static_cast<int64_t>(found.value().size()) == q.limit) {
    body["next_marker"] = found.value().back().id;
  }
  return json_response(200, body);
}

ApiResponse get_log_aggregates(const AgentContext& ctx, const ApiRequest& request) {
  static const std::set<std::string> kAllowed = {"since",     "until",       "listener_id",
                                                 "pool_id",   "member_id",   "status_class"};
  state::AggregateQuery q;
  QueryError error;
  if (!common_filters(request, kAllowed, q, error)) return bad_query(error);
  q.limit = kMaxAggregates + 1;
  auto rows = ctx.store->query_aggregates(q);
  if (!rows) return error_response(500, "storage_error", rows.error().message);
  const bool truncated = static_cast<int64_t>(rows.value().size()) > kMaxAggregates;
  if (truncated) rows.value().resize(kMaxAggregates);
  return json_response(200, {{"aggregates", logs::summarize_aggregates(rows.value())},
                             {"truncated", truncated}});
}

}  // namespace pharos::agent::api
