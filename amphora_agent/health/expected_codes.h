// Octavia's expected_codes ("200", "200,202", "200-204") parsed into ranges of HTTP status codes.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pharos::health {

class ExpectedCodes {
 public:
  struct Range {
    int first = 0;
    int last = 0;  // inclusive
    bool operator==(const Range&) const = default;
  };

  // Accepts a comma-separated list of codes and "a-b" ranges (spaces around items allowed),
  // codes 100..599, a <= b. Returns nullopt and sets *error (when given) otherwise.
  static std::optional<ExpectedCodes> parse(std::string_view text, std::string* error = nullptr);

  // True when the status code is in one of the ranges.
  bool contains(int status_code) const;
  const std::vector<Range>& ranges() const { return ranges_; }

 private:
  std::vector<Range> ranges_;
};

}  // namespace pharos::health
