#include "engine/l7/cookie.h"

namespace pharos::l7 {

namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

std::optional<std::string_view> find_cookie(std::string_view field_value, std::string_view name) {
  while (!field_value.empty()) {
    const size_t semicolon = field_value.find(';');
    std::string_view pair = field_value.substr(0, semicolon);
    field_value = semicolon == std::string_view::npos ? std::string_view() : field_value.substr(semicolon + 1);
    const size_t equals = pair.find('=');
    if (equals == std::string_view::npos) continue;  // not a cookie-pair
    if (trim(pair.substr(0, equals)) == name) return trim(pair.substr(equals + 1));
  }
  return std::nullopt;
}

}  // namespace pharos::l7
