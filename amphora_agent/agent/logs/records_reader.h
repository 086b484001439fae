// The agent's end of the engine's records socket (schema/transaction-record.md): binds the unix
// datagram socket, and on its own thread decodes each batch into the LogReducer, flushes it
// into SQLite (ReducedStore) every flush interval and enforces retention periodically.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "amphora_agent/log_reducer/log_reducer.h"

namespace pharos::agent::state {
class StateStore;
}

namespace pharos::agent::logs {

class ReducedStore;

struct RecordsReaderOptions {
  std::string socket_path;
  log_reducer::ReducerConfig reducer;
  std::chrono::milliseconds flush_interval{1000};
  std::chrono::seconds retention_interval{60};
};

struct RecordsReaderStats {
  uint64_t datagrams = 0;
  uint64_t records = 0;
  uint64_t decode_errors = 0;  // datagrams that ended in a record that did not decode
  uint64_t significant = 0;
  uint64_t aggregates = 0;
};

class RecordsReader {
 public:
  RecordsReader(RecordsReaderOptions options, state::StateStore& store);
  ~RecordsReader();
  RecordsReader(const RecordsReader&) = delete;
  RecordsReader& operator=(const RecordsReader&) = delete;

  // Binds the socket (replacing a stale one) and starts the thread; "" or why not.
  std::string start();
  // Reads what is queued, hands every open aggregate to the store and stops.
  void stop();

  RecordsReaderStats stats() const;

 private:
  void run();
  void drain_socket();
  void flush(bool all);

  const RecordsReaderOptions options_;
  state::StateStore& store_;
  std::unique_ptr<ReducedStore> sink_;
  std::unique_ptr<log_reducer::LogReducer> reducer_;
  int fd_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;
  std::atomic<uint64_t> datagrams_{0};
  std::atomic<uint64_t> records_{0};
  std::atomic<uint64_t> decode_errors_{0};
  std::atomic<uint64_t> significant_{0};
  std::atomic<uint64_t> aggregates_{0};
};

}  // namespace pharos::agent::logs
