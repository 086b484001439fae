// Session persistence state: which member a client was sent to, by a key (the client address
// for SOURCE_IP, the application cookie's value for APP_COOKIE). One table per pool, shared by
// every worker and kept across config applies, so a client stays on its member when a config
// changes something else. Members are named by id, not index: indexes move between configs.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pharos::persistence {

class StickTable {
 public:
  // capacity: entries kept, the least recently used goes first; idle_timeout_s: an entry not
  // used for that long is gone (0: only capacity evicts).
  StickTable(size_t capacity, uint32_t idle_timeout_s);
  StickTable(const StickTable&) = delete;
  StickTable& operator=(const StickTable&) = delete;

  // The member id stored for `key`, refreshing its use; nullopt when absent or expired.
  std::optional<std::string> find(std::string_view key, uint64_t now_s);
  // Stores (or moves) `key` to `member_id`; an existing entry is refreshed.
  void store(std::string_view key, std::string_view member_id, uint64_t now_s);
  size_t size() const;
  uint32_t idle_timeout_s() const { return idle_timeout_s_; }

 private:
  struct Entry {
    std::string key;
    std::string member_id;
    uint64_t last_used_s = 0;
  };
  using Lru = std::list<Entry>;  // most recently used first

  mutable std::mutex mutex_;
  const size_t capacity_;
  const uint32_t idle_timeout_s_;
  Lru lru_;
  std::unordered_map<std::string_view, Lru::iterator> index_;  // views into lru_ entries' keys
};

// The tables of a config's pools, by pool id. A table is replaced when the pool's persistence
// settings change (its entries may no longer mean the same thing) and dropped with its pool.
class StickTableRegistry {
 public:
  static constexpr size_t kDefaultCapacity = 10000;  // HAProxy's stick-table size in Octavia

  // settings: "type|cookie|timeout", whatever identifies what the entries mean.
  std::shared_ptr<StickTable> get_or_create(const std::string& pool_id, const std::string& settings,
                                            uint32_t idle_timeout_s);
  void retain_only(const std::vector<std::string>& pool_ids);

 private:
  struct Slot {
    std::string settings;
    std::shared_ptr<StickTable> table;
  };
  std::mutex mutex_;
  std::map<std::string, Slot> tables_;
};

}  // namespace pharos::persistence
