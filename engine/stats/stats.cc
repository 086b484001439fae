#include "engine/stats/stats.h"

#include <algorithm>
#include <set>

namespace pharos::stats {

ResponseClass classify_status(uint16_t status) {
  if (status >= 100 && status < 600) return static_cast<ResponseClass>(status / 100 - 1);
  return ResponseClass::kOther;
}

const char* response_class_name(ResponseClass c) {
  static const char* const kNames[] = {"1xx", "2xx", "3xx", "4xx", "5xx", "other"};
  return kNames[static_cast<int>(c)];
}

void TrafficTotals::add(const TrafficSlot& slot) {
  bytes_in += slot.bytes_in.get();
  bytes_out += slot.bytes_out.get();
  active_connections += slot.active_connections.get();
  total_connections += slot.total_connections.get();
  request_errors += slot.request_errors.get();
}

TrafficTotals ListenerStats::totals() const {
  TrafficTotals out;
  for (const auto& slot : slots_) out.add(slot);
  return out;
}

MemberTotals MemberStats::totals() const {
  MemberTotals out;
  for (const auto& slot : slots_) {
    out.traffic.add(slot.traffic);
    for (int i = 0; i < static_cast<int>(ResponseClass::kCount); ++i) {
      out.responses[i] += slot.responses[i].get();
    }
    out.connect_failures += slot.connect_failures.get();
  }
  return out;
}

namespace {

template <typename T>
std::shared_ptr<T> get_or_create(std::map<std::string, std::shared_ptr<T>>& map,
                                 const std::string& id, uint32_t workers) {
  auto& entry = map[id];
  if (!entry) entry = std::make_shared<T>(workers);
  return entry;
}

template <typename T>
void erase_absent(std::map<std::string, std::shared_ptr<T>>& map,
                  const std::vector<std::string>& keep) {
  std::set<std::string> wanted(keep.begin(), keep.end());
  std::erase_if(map, [&](const auto& entry) { return !wanted.count(entry.first); });
}

}  // namespace

std::shared_ptr<ListenerStats> StatsRegistry::listener(const std::string& id) {
  std::lock_guard lock(mutex_);
  return get_or_create(listeners_, id, workers_);
}

std::shared_ptr<MemberStats> StatsRegistry::member(const std::string& id) {
  std::lock_guard lock(mutex_);
  return get_or_create(members_, id, workers_);
}

void StatsRegistry::retain_only(const std::vector<std::string>& listener_ids,
                                const std::vector<std::string>& member_ids) {
  std::lock_guard lock(mutex_);
  erase_absent(listeners_, listener_ids);
  erase_absent(members_, member_ids);
}

std::map<std::string, TrafficTotals> StatsRegistry::listener_totals() const {
  std::lock_guard lock(mutex_);
  std::map<std::string, TrafficTotals> out;
  for (const auto& [id, stats] : listeners_) out[id] = stats->totals();
  return out;
}

std::map<std::string, MemberTotals> StatsRegistry::member_totals() const {
  std::lock_guard lock(mutex_);
  std::map<std::string, MemberTotals> out;
  for (const auto& [id, stats] : members_) out[id] = stats->totals();
  return out;
}

}  // namespace pharos::stats
