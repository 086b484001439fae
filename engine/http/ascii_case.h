// ASCII lower case for protocol text (field names, host names): no locale, no call per byte.
#pragma once

#include <string>
#include <string_view>

namespace pharos::http {

inline char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

inline std::string ascii_lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

}  // namespace pharos::http
