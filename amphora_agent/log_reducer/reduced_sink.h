// Where the log reducer hands what it keeps. The agent implements it over SQLite.
#pragma once

#include "amphora_agent/log_reducer/aggregate.h"
#include "engine/records/transaction_record.h"

namespace pharos::log_reducer {

class ReducedSink {
 public:
  virtual ~ReducedSink() = default;

  // A record kept in full, with every reason that applies. Records arrive in input order.
  // The reference is valid only during the call.
  virtual void on_significant(const records::TransactionRecord& record, Reason reasons) = 0;

  // One key of a closed (or spilled) interval. The same key can arrive again later; the sink
  // adds such aggregates together (Aggregate::merge). Valid only during the call.
  virtual void on_aggregate(const Aggregate& aggregate) = 0;
};

}  // namespace pharos::log_reducer
