#include "engine/persistence/stick_table.h"

#include <algorithm>

namespace pharos::persistence {

StickTable::StickTable(size_t capacity, uint32_t idle_timeout_s)
    : capacity_(std::max<size_t>(capacity, 1)), idle_timeout_s_(idle_timeout_s) {}

std::optional<std::string> StickTable::find(std::string_view key, uint64_t now_s) {
  std::lock_guard lock(mutex_);
  auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  Lru::iterator entry = it->second;
  if (idle_timeout_s_ != 0 && now_s >= entry->last_used_s + idle_timeout_s_) {
    index_.erase(it);
    lru_.erase(entry);
    return std::nullopt;
  }
  entry->last_used_s = now_s;
  lru_.splice(lru_.begin(), lru_, entry);
  return entry->member_id;
}

void StickTable::store(std::string_view key, std::string_view member_id, uint64_t now_s) {
  std::lock_guard lock(mutex_);
  if (auto it = index_.find(key); it != index_.end()) {
    Lru::iterator entry = it->second;
    entry->member_id.assign(member_id);
    entry->last_used_s = now_s;
    lru_.splice(lru_.begin(), lru_, entry);
    return;
  }
  if (lru_.size() >= capacity_) {
    index_.erase(lru_.back().key);
    lru_.pop_back();
  }
  lru_.push_front(Entry{std::string(key), std::string(member_id), now_s});
  index_.emplace(lru_.front().key, lru_.begin());  // list nodes never move: the view stays valid
}

size_t StickTable::size() const {
  std::lock_guard lock(mutex_);
  return lru_.size();
}

std::shared_ptr<StickTable> StickTableRegistry::get_or_create(const std::string& pool_id,
                                                              const std::string& settings,
                                                              uint32_t idle_timeout_s) {
  std::lock_guard lock(mutex_);
  Slot& slot = tables_[pool_id];
  if (!slot.table || slot.settings != settings) {
    slot.settings = settings;
    slot.table = std::make_shared<StickTable>(kDefaultCapacity, idle_timeout_s);
  }
  return slot.table;
}

void StickTableRegistry::retain_only(const std::vector<std::string>& pool_ids) {
  std::lock_guard lock(mutex_);
  for (auto it = tables_.begin(); it != tables_.end();) {
    if (std::find(pool_ids.begin(), pool_ids.end(), it->first) == pool_ids.end()) {
      it = tables_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace pharos::persistence
