// Run-time operating status of members, set by the agent (health checks, drain) through the
// control socket, read by workers when they pick a member. Outlives config snapshots so that a
// member keeps its status across config changes.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pharos::proxy {

enum class MemberStatus : uint8_t { kUp, kDown, kDraining };
const char* member_status_name(MemberStatus status);
std::optional<MemberStatus> parse_member_status(std::string_view text);

struct MemberRuntimeState {
  std::atomic<MemberStatus> status{MemberStatus::kUp};
};

class MemberStatusRegistry {
 public:
  std::shared_ptr<MemberRuntimeState> get_or_create(const std::string& member_id);
  // False when no member has that id in the current config.
  bool set(const std::string& member_id, MemberStatus status);
  void retain_only(const std::vector<std::string>& member_ids);
  std::map<std::string, MemberStatus> all() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<MemberRuntimeState>> states_;
};

}  // namespace pharos::proxy
