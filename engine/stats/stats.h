// Per-listener and per-member counters. Each worker thread writes only its own slot, with
// relaxed atomics and no read-modify-write; readers sum the slots. No lock on the hot path.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace pharos::stats {

// A counter with a single writer thread: load+store instead of a locked add.
class SingleWriterCounter {
 public:
  void add(uint64_t n) { value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void sub(uint64_t n) { value_.store(value_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed); }
  uint64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

enum class ResponseClass : uint8_t { k1xx, k2xx, k3xx, k4xx, k5xx, kOther, kCount };
ResponseClass classify_status(uint16_t status);
const char* response_class_name(ResponseClass c);

// Octavia's five listener statistics.
struct alignas(64) TrafficSlot {
  SingleWriterCounter bytes_in;
  SingleWriterCounter bytes_out;
  SingleWriterCounter active_connections;
  SingleWriterCounter total_connections;
  SingleWriterCounter request_errors;
};

struct alignas(64) MemberSlot {
  TrafficSlot traffic;
  SingleWriterCounter responses[static_cast<int>(ResponseClass::kCount)];
  SingleWriterCounter connect_failures;
};

struct TrafficTotals {
  uint64_t bytes_in = 0, bytes_out = 0, active_connections = 0, total_connections = 0,
           request_errors = 0;
  void add(const TrafficSlot& slot);
};

struct MemberTotals {
  TrafficTotals traffic;
  uint64_t responses[static_cast<int>(ResponseClass::kCount)] = {};
  uint64_t connect_failures = 0;
};

class ListenerStats {
 public:
  explicit ListenerStats(uint32_t workers) : slots_(workers) {}
  TrafficSlot& slot(uint32_t worker) { return slots_[worker]; }
  TrafficTotals totals() const;

 private:
  std::vector<TrafficSlot> slots_;
};

class MemberStats {
 public:
  explicit MemberStats(uint32_t workers) : slots_(workers) {}
  MemberSlot& slot(uint32_t worker) { return slots_[worker]; }
  MemberTotals totals() const;

 private:
  std::vector<MemberSlot> slots_;
};

// Owns the stats objects by id so that counters survive config changes for ids that stay.
// Used by the control thread only (config apply and stats reads); workers hold shared_ptrs.
class StatsRegistry {
 public:
  explicit StatsRegistry(uint32_t workers) : workers_(workers) {}
  std::shared_ptr<ListenerStats> listener(const std::string& id);
  std::shared_ptr<MemberStats> member(const std::string& id);
  // Forgets ids absent from the given sets (their objects live on while snapshots hold them).
  void retain_only(const std::vector<std::string>& listener_ids,
                   const std::vector<std::string>& member_ids);
  std::map<std::string, TrafficTotals> listener_totals() const;
  std::map<std::string, MemberTotals> member_totals() const;

 private:
  uint32_t workers_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<ListenerStats>> listeners_;
  std::map<std::string, std::shared_ptr<MemberStats>> members_;
};

}  // namespace pharos::stats
