#include "engine/proxy/member_state.h"

#include <set>

namespace pharos::proxy {

const char* member_status_name(MemberStatus status) {
  switch (status) {
    case MemberStatus::kUp: return "UP";
    case MemberStatus::kDown: return "DOWN";
    case MemberStatus::kDraining: return "DRAINING";
  }
  return "UNKNOWN";
}

std::optional<MemberStatus> parse_member_status(std::string_view text) {
  if (text == "UP") return MemberStatus::kUp;
  if (text == "DOWN") return MemberStatus::kDown;
  if (text == "DRAINING") return MemberStatus::kDraining;
  return std::nullopt;
}

std::shared_ptr<MemberRuntimeState> MemberStatusRegistry::get_or_create(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto& entry = states_[id];
  if (!entry) entry = std::make_shared<MemberRuntimeState>();
  return entry;
}

bool MemberStatusRegistry::set(const std::string& id, MemberStatus status) {
  std::lock_guard lock(mutex_);
  auto it = states_.find(id);
  if (it == states_.end()) return false;
  it->second->status.store(status, std::memory_order_relaxed);
  return true;
}

void MemberStatusRegistry::retain_only(const std::vector<std::string>& ids) {
  std::lock_guard lock(mutex_);
  std::set<std::string> wanted(ids.begin(), ids.end());
  std::erase_if(states_, [&](const auto& entry) { return !wanted.count(entry.first); });
}

std::map<std::string, MemberStatus> MemberStatusRegistry::all() const {
  std::lock_guard lock(mutex_);
  std::map<std::string, MemberStatus> out;
  for (const auto& [id, state] : states_) out[id] = state->status.load(std::memory_order_relaxed);
  return out;
}

}  // namespace pharos::proxy
