#include "amphora_agent/health/expected_codes.h"

#include <algorithm>

namespace pharos::health {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Exactly three digits, 100..599: Octavia's own validation accepts nothing else.
std::optional<int> parse_code(std::string_view s) {
  s = trim(s);
  if (s.size() != 3) return std::nullopt;
  int value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value < 100 || value > 599) return std::nullopt;
  return value;
}

}  // namespace

std::optional<ExpectedCodes> ExpectedCodes::parse(std::string_view text, std::string* error) {
  auto fail = [&](std::string message) -> std::optional<ExpectedCodes> {
    if (error) *error = std::move(message);
    return std::nullopt;
  };
  ExpectedCodes codes;
  if (trim(text).empty()) return fail("expected_codes is empty");
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = trim(text.substr(start, comma - start));
    size_t dash = item.find('-');
    std::optional<int> first, last;
    if (dash == std::string_view::npos) {
      first = last = parse_code(item);
    } else {
      first = parse_code(item.substr(0, dash));
      last = parse_code(item.substr(dash + 1));
    }
    if (!first || !last) {
      return fail("expected_codes item '" + std::string(item) + "' is not a code 100-599 or a range");
    }
    if (*first > *last) return fail("expected_codes range '" + std::string(item) + "' is reversed");
    codes.ranges_.push_back({*first, *last});
    start = comma + 1;
  }
  std::sort(codes.ranges_.begin(), codes.ranges_.end(),
            [](const Range& a, const Range& b) { return a.first < b.first; });
  return codes;
}

bool ExpectedCodes::contains(int status_code) const {
  return std::any_of(ranges_.begin(), ranges_.end(), [status_code](const Range& r) {
    return status_code >= r.first && status_code <= r.last;
  });
}

}  // namespace pharos::health
