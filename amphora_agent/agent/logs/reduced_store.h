// The log reducer's ReducedSink over the agent's SQLite state: kept records become searchable
// rows (their whole content as JSON), aggregates are merged into reduced_aggregates by key.
// Buffers what one flush hands over and writes it in one transaction per table on commit().
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "amphora_agent/log_reducer/reduced_sink.h"
#include "amphora_agent/state/state_store.h"

namespace pharos::agent::logs {

// "normal", "client_reset", ... (schema/transaction-record.md, termination).
const char* termination_name(records::Termination termination);
// "status_error,slow", ...; "" for kNone.
std::string reason_names(log_reducer::Reason reasons);
// The whole record as the API shows it.
nlohmann::json record_to_json(const records::TransactionRecord& record,
                              log_reducer::Reason reasons);

// Merges two aggregate_codec encodings of the same key; "" if either does not decode.
std::string merge_encoded_aggregates(std::string_view stored, std::string_view added);

class ReducedStore : public log_reducer::ReducedSink {
 public:
  explicit ReducedStore(state::StateStore& store) : store_(store) {}

  void on_significant(const records::TransactionRecord& record,
                      log_reducer::Reason reasons) override;
  void on_aggregate(const log_reducer::Aggregate& aggregate) override;

  // Writes what was handed over since the last commit; false (and logged) if the database
  // refused it, in which case it is dropped: the reducer has already let go of it.
  bool commit();

 private:
  state::StateStore& store_;
  std::vector<state::SignificantRecord> records_;
  std::vector<state::AggregateRow> aggregates_;
};

}  // namespace pharos::agent::logs
