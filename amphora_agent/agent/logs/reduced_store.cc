#include "amphora_agent/agent/logs/reduced_store.h"

#include "amphora_agent/agent/log.h"
#include "amphora_agent/log_reducer/aggregate_codec.h"

namespace pharos::agent::logs {

using log_reducer::Reason;

const char* termination_name(records::Termination t) {
  switch (t) {
    case records::Termination::kNormal: return "normal";
    case records::Termination::kClientReset: return "client_reset";
    case records::Termination::kMemberReset: return "member_reset";
    case records::Termination::kClientTimeout: return "client_timeout";
    case records::Termination::kMemberTimeout: return "member_timeout";
    case records::Termination::kConnectFailed: return "connect_failed";
    case records::Termination::kNoMember: return "no_member";
    case records::Termination::kBadRequest: return "bad_request";
    case records::Termination::kBadResponse: return "bad_response";
    case records::Termination::kDenied: return "denied";
    case records::Termination::kInternal: return "internal";
  }
  return "unknown";
}

std::string reason_names(Reason reasons) {
  static constexpr std::pair<Reason, const char*> kNames[] = {
      {Reason::kStatusError, "status_error"},
      {Reason::kAbnormalTermination, "abnormal_termination"},
      {Reason::kSlow, "slow"},
      {Reason::kMemberFirstError, "member_first_error"},
      {Reason::kMemberRecovered, "member_recovered"},
  };
  std::string out;
  for (const auto& [bit, name] : kNames) {
    if (!log_reducer::has(reasons, bit)) continue;
    if (!out.empty()) out += ',';
    out += name;
  }
  return out;
}

nlohmann::json record_to_json(const records::TransactionRecord& r, Reason reasons) {
  nlohmann::json reason_list = nlohmann::json::array();
  const std::string names = reason_names(reasons);
  for (size_t start = 0; start < names.size();) {
    const size_t comma = names.find(',', start);
    const size_t end = comma == std::string::npos ? names.size() : comma;
    reason_list.push_back(names.substr(start, end - start));
    start = end + 1;
  }
  return {{"kind", r.kind == records::RecordKind::kHttp ? "HTTP" : "TCP"},
          {"reasons", std::move(reason_list)},
          {"termination", termination_name(r.termination)},
          {"status", r.status},
          {"start_unix_us", r.start_unix_us},
          {"listener_id", r.listener_id},
          {"pool_id", r.pool_id},
          {"member_id", r.member_id},
          {"client_address", r.client_address},
          {"client_port", r.client_port},
          {"method", r.method},
          {"host", r.host},
          {"path", r.path},
          {"user_agent", r.user_agent},
          {"sni", r.sni},
          {"tls", r.tls},
          {"http2", r.http2},
          {"retries", r.retries},
          {"client_rtt_us", r.client_rtt_us},
          {"connect_us", r.connect_us},
          {"ttfb_us", r.ttfb_us},
          {"transfer_us", r.transfer_us},
          {"total_us", r.total_us},
          {"bytes_in", r.bytes_in},
          {"bytes_out", r.bytes_out}};
}

std::string merge_encoded_aggregates(std::string_view stored, std::string_view added) {
  log_reducer::Aggregate a;
  log_reducer::Aggregate b;
  size_t used = 0;
  if (log_reducer::decode_aggregate(stored, &a, &used) != log_reducer::AggregateDecodeError::kOk ||
      log_reducer::decode_aggregate(added, &b, &used) != log_reducer::AggregateDecodeError::kOk) {
    return "";
  }
  a.merge(b);
  std::string out;
  log_reducer::encode_aggregate(a, &out);
  return out;
}

void ReducedStore::on_significant(const records::TransactionRecord& r, Reason reasons) {
  state::SignificantRecord row;
  row.at_unix_us = static_cast<int64_t>(r.start_unix_us);
  row.listener_id = r.listener_id;
  row.pool_id = r.pool_id;
  row.member_id = r.member_id;
  row.reason = reason_names(reasons);
  row.status = r.status;
  row.total_us = r.total_us;
  row.record_json = record_to_json(r, reasons).dump(-1, ' ', false,
                                                    nlohmann::json::error_handler_t::replace);
  row.method = r.method;
  row.path = r.path;
  row.client_address = r.client_address;
  records_.push_back(std::move(row));
}

void ReducedStore::on_aggregate(const log_reducer::Aggregate& a) {
  state::AggregateRow row;
  row.interval_start_us = static_cast<int64_t>(a.key.interval_start_us);
  row.interval_us = a.interval_us;
  row.listener_id = a.key.listener_id;
  row.pool_id = a.key.pool_id;
  row.member_id = a.key.member_id;
  row.status_class = static_cast<int>(a.key.status_class);
  row.method = a.key.method;
  row.count = static_cast<int64_t>(a.count);
  row.bytes_in = static_cast<int64_t>(a.bytes_in);
  row.bytes_out = static_cast<int64_t>(a.bytes_out);
  log_reducer::encode_aggregate(a, &row.encoded);
  aggregates_.push_back(std::move(row));
}

bool ReducedStore::commit() {
  bool ok = true;
  if (auto s = store_.add_significant_records(records_); !s) {
    log::error("dropping " + std::to_string(records_.size()) +
               " kept transaction records: " + s.error().message);
    ok = false;
  }
  if (auto s = store_.merge_aggregates(aggregates_, &merge_encoded_aggregates); !s) {
    log::error("dropping " + std::to_string(aggregates_.size()) +
               " traffic aggregates: " + s.error().message);
    ok = false;
  }
  records_.clear();
  aggregates_.clear();
  return ok;
}

}  // namespace pharos::agent::logs
