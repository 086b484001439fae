#include "engine/http1/field_lines.h"

namespace pharos::http1::detail {
namespace {

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(static_cast<uint8_t>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && is_ows(static_cast<uint8_t>(s.back()))) s.remove_suffix(1);
  return s;
}

// Calls fn on each OWS-trimmed element of a comma-separated list, empty ones included; stops
// and returns false as soon as fn does.
template <typename Fn>
bool for_each_element(std::string_view list, Fn&& fn) {
  for (;;) {
    const size_t comma = list.find(',');
    if (!fn(trim_ows(list.substr(0, comma)))) return false;
    if (comma == std::string_view::npos) return true;
    list.remove_prefix(comma + 1);
  }
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_tchar(static_cast<uint8_t>(c))) return false;
  }
  return true;
}

}  // namespace

bool merge_content_length(std::string_view value, bool* seen, uint64_t* length) {
  // The usual value, one number of up to 19 digits (no overflow possible), without the list
  // machinery below.
  if (!value.empty() && value.size() <= 19) {
    uint64_t n = 0;
    size_t i = 0;
    for (; i < value.size() && is_digit(static_cast<uint8_t>(value[i])); ++i) n = n * 10 + static_cast<uint64_t>(value[i] - '0');
    if (i == value.size()) {
      if (*seen && n != *length) return false;
      *seen = true;
      *length = n;
      return true;
    }
  }
  return for_each_element(value, [&](std::string_view element) {
    // Empty elements are refused too: "5," is more likely an attack than a sloppy sender.
    if (element.empty()) return false;
    uint64_t n = 0;
    for (char c : element) {
      if (!is_digit(static_cast<uint8_t>(c))) return false;
      const uint64_t digit = static_cast<uint64_t>(c - '0');
      if (n > (UINT64_MAX - digit) / 10) return false;
      n = n * 10 + digit;
    }
    if (*seen && n != *length) return false;
    *seen = true;
    *length = n;
    return true;
  });
}

void scan_connection(std::string_view value, ConnectionOptions* options) {
  for_each_element(value, [&](std::string_view token) {
    if (iequals(token, "close")) {
      options->close = true;
    } else if (iequals(token, "keep-alive")) {
      options->keep_alive = true;
    }
    return true;
  });
}

bool merge_response_transfer_encoding(std::string_view value, TransferCodings* codings) {
  return for_each_element(value, [&](std::string_view coding) {
    // Parameters (";q=...") and empty elements are refused; members do not send them.
    if (!is_token(coding)) return false;
    // chunked must be applied once and last (RFC 9112 6.1); anything after it is refused rather
    // than read until close, so there is no reading in which the body ends differently.
    if (codings->chunked_last) return false;
    codings->present = true;
    codings->chunked_last = iequals(coding, "chunked");
    return true;
  });
}

bool valid_host(std::string_view value) {
  for (char c : value) {
    if (!kHost[static_cast<uint8_t>(c)]) return false;
  }
  return true;
}

bool valid_authority_form(std::string_view target) {
  // authority-form = uri-host ":" port, with no userinfo, path, query or fragment.
  const size_t colon = target.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  const std::string_view port = target.substr(colon + 1);
  if (port.empty() || port.size() > 5) return false;
  for (char c : port) {
    if (!is_digit(static_cast<uint8_t>(c))) return false;
  }
  const std::string_view host = target.substr(0, colon);
  if (host.front() == '[') {
    if (host.back() != ']' || host.size() < 3) return false;
  } else if (host.find_first_of("[]:") != std::string_view::npos) {
    return false;
  }
  return valid_host(host);
}

bool valid_absolute_form(std::string_view target) {
  // Only http and https URIs with an authority: other schemes mean nothing to a load balancer,
  // and "host:port" would otherwise parse as an absolute-URI whose scheme is the host name.
  size_t scheme = 0;
  if (target.size() > 7 && iequals(target.substr(0, 7), "http://")) {
    scheme = 7;
  } else if (target.size() > 8 && iequals(target.substr(0, 8), "https://")) {
    scheme = 8;
  } else {
    return false;
  }
  const std::string_view rest = target.substr(scheme);
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  return !authority.empty() && valid_host(authority);
}

}  // namespace pharos::http1::detail
