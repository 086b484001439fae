#include "engine/proxy/session_persistence.h"

#include "engine/l7/cookie.h"
#include "engine/persistence/stick_table.h"

namespace pharos::proxy {

namespace {

using Type = config::SessionPersistence::Type;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A cookie value may be quoted (RFC 6265 cookie-value).
std::string_view unquote(std::string_view value) {
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    return value.substr(1, value.size() - 2);
  }
  return value;
}

// APP_COOKIE keys are the application's session ids: HAProxy's table keeps 64 bytes of them.
constexpr size_t kMaxKeyBytes = 64;

}  // namespace

std::optional<std::string_view> find_cookie(std::span<const std::string_view> cookie_headers,
                                            std::string_view name) {
  for (std::string_view header : cookie_headers) {
    if (auto value = l7::find_cookie(header, name)) return unquote(*value);
  }
  return std::nullopt;
}

std::optional<std::pair<std::string_view, std::string_view>> set_cookie_pair(std::string_view value) {
  std::string_view pair = value.substr(0, value.find(';'));
  size_t eq = pair.find('=');
  if (eq == std::string_view::npos) return std::nullopt;
  std::string_view name = trim(pair.substr(0, eq));
  if (name.empty()) return std::nullopt;
  return std::make_pair(name, unquote(trim(pair.substr(eq + 1))));
}

int Stickiness::find_sticky_member(const PoolRuntime& pool, std::string_view client_address,
                                   std::span<const std::string_view> cookie_headers, uint64_t now_s) {
  const auto& persistence = pool.config->session_persistence;
  switch (persistence->type) {
    case Type::kSourceIp:
      key_.assign(client_address);
      if (auto id = pool.stick_table->find(key_, now_s)) sticky_member_ = pool.member_index(*id);
      break;
    case Type::kHttpCookie:
      if (auto id = find_cookie(cookie_headers, kHttpCookieName)) sticky_member_ = pool.member_index(*id);
      break;
    case Type::kAppCookie:
      if (auto value = find_cookie(cookie_headers, persistence->cookie_name)) {
        if (auto id = pool.stick_table->find(value->substr(0, kMaxKeyBytes), now_s)) {
          key_.assign(value->substr(0, kMaxKeyBytes));  // known: it moves if its member is gone
          sticky_member_ = pool.member_index(*id);
        }
      }
      break;
  }
  return sticky_member_;
}

void Stickiness::member_chosen(const PoolRuntime& pool, int member_index, uint64_t now_s) {
  const auto& persistence = pool.config->session_persistence;
  if (!persistence || member_index < 0 || member_index == sticky_member_) return;
  const std::string& member_id = pool.members[member_index].config->id;
  switch (persistence->type) {
    case Type::kSourceIp:
      pool.stick_table->store(key_, member_id, now_s);
      break;
    case Type::kHttpCookie:
      set_cookie_ = std::string(kHttpCookieName) + "=" + member_id + "; path=/";
      break;
    case Type::kAppCookie:
      // A known session whose member went away now lands here: remember that. Unknown values
      // are learnt only from the members' Set-Cookie, as HAProxy's stick store-response does.
      if (!key_.empty()) pool.stick_table->store(key_, member_id, now_s);
      break;
  }
}

void Stickiness::response_header(const PoolRuntime& pool, int member_index, std::string_view name,
                                 std::string_view value, uint64_t now_s) {
  const auto& persistence = pool.config->session_persistence;
  if (!persistence || persistence->type != Type::kAppCookie || member_index < 0) return;
  if (!iequals(name, "set-cookie")) return;
  auto pair = set_cookie_pair(value);
  if (!pair || pair->first != persistence->cookie_name || pair->second.empty()) return;
  pool.stick_table->store(pair->second.substr(0, kMaxKeyBytes), pool.members[member_index].config->id,
                          now_s);
}

}  // namespace pharos::proxy
