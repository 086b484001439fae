// Session persistence for one transaction (Octavia's pool session_persistence, as its HAProxy
// template does it): SOURCE_IP keeps a client address on the member it first got, HTTP_COOKIE
// inserts SRV=<member id> and follows it back, APP_COOKIE learns which member set the
// application's cookie and sends that cookie's value back to it. The sessions call these three
// steps; none of them knows the wire format (HTTP/1 or HTTP/2) the cookies came in.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/proxy/header_rules.h"
#include "engine/proxy/runtime_config.h"

namespace pharos::proxy {

inline constexpr std::string_view kHttpCookieName = "SRV";  // Octavia's HAProxy template's

// The value of cookie `name` among Cookie header values ("a=1; b=2"); nullopt when absent.
std::optional<std::string_view> find_cookie(std::span<const std::string_view> cookie_headers,
                                            std::string_view name);
// The cookie name and value a Set-Cookie header value sets; nullopt when malformed.
std::optional<std::pair<std::string_view, std::string_view>> set_cookie_pair(std::string_view value);

// The Cookie field values of a request head (HTTP/1's or the version-neutral model's headers).
template <class Headers>
std::vector<std::string_view> cookie_fields(const Headers& headers) {
  std::vector<std::string_view> cookies;
  for (const auto& header : headers) {
    if (iequals(header.name, "cookie")) cookies.emplace_back(header.value);
  }
  return cookies;
}

// One transaction's session persistence, in the order a session calls it. Costs nothing for a
// pool without persistence.
class Stickiness {
 public:
  // Before the member is chosen: the member index the client is stuck to, or -1 (the balancer
  // chooses; so does the connector when that member is not eligible).
  // `headers`: the request's (HTTP/1's or the version-neutral model's); TCP passes none.
  template <class Headers>
  int sticky_member(const PoolRuntime& pool, std::string_view client_address, const Headers& headers,
                    uint64_t now_s) {
    reset();
    if (!pool.config->session_persistence) return -1;  // the common case: nothing to read
    return find_sticky_member(pool, client_address, cookie_fields(headers), now_s);
  }
  // The member was chosen: SOURCE_IP remembers it; HTTP_COOKIE prepares the cookie to insert
  // when the request's did not name this member.
  void member_chosen(const PoolRuntime& pool, int member_index, uint64_t now_s);
  // Each header of the member's response: APP_COOKIE learns the member from its Set-Cookie.
  void response_header(const PoolRuntime& pool, int member_index, std::string_view name,
                       std::string_view value, uint64_t now_s);
  // What sticky_member() found for the current transaction (a retry reuses it).
  int member() const { return sticky_member_; }
  // Set-Cookie value to add to the response; empty: none.
  const std::string& set_cookie() const { return set_cookie_; }

 private:
  void reset() {
    sticky_member_ = -1;
    key_.clear();
    set_cookie_.clear();
  }
  int find_sticky_member(const PoolRuntime& pool, std::string_view client_address,
                         std::span<const std::string_view> cookie_headers, uint64_t now_s);

  int sticky_member_ = -1;
  std::string key_;  // SOURCE_IP: the client address; APP_COOKIE: a known cookie's value
  std::string set_cookie_;
};

}  // namespace pharos::proxy
