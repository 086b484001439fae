// Sends transaction records from one worker to the agent over a unix datagram socket, in
// batches. Never blocks: when nobody reads (no socket, or its queue is full) the batch is
// dropped and counted.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "engine/net/event_handles.h"
#include "engine/net/socket_ops.h"
#include "engine/records/transaction_record.h"

namespace pharos::core {

class RecordWriter {
 public:
  RecordWriter(event_base* base, std::string socket_path);
  void emit(const records::TransactionRecord& record);
  void flush();
  uint64_t written() const { return written_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  static void on_flush_timer(evutil_socket_t, short, void* arg);

  std::string path_;
  net::UniqueFd fd_;
  std::string batch_;
  uint32_t batch_records_ = 0;
  net::EventPtr timer_;
  bool timer_armed_ = false;
  std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace pharos::core
