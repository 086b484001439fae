// Cookie field parsing (RFC 6265 5.4 form: "a=1; b=2"), without allocation.
#pragma once

#include <optional>
#include <string_view>

namespace pharos::l7 {

// The value of the first cookie named `name` (case-sensitive, as cookie names are) in one Cookie
// field value; nullopt when that field does not carry it. Surrounding double quotes are kept.
std::optional<std::string_view> find_cookie(std::string_view field_value, std::string_view name);

}  // namespace pharos::l7
