#include "engine/l7/request_facts.h"

namespace pharos::l7 {

std::string_view path_and_query_of(std::string_view target) {
  if (target.empty() || target.front() == '/') return target;
  const size_t scheme_end = target.find("://");
  if (scheme_end == std::string_view::npos) return target;  // "*" or authority-form
  const size_t path_start = target.find_first_of("/?", scheme_end + 3);
  return path_start == std::string_view::npos ? std::string_view("/") : target.substr(path_start);
}

std::string_view path_of(std::string_view target) {
  if (!target.empty() && target.front() != '/' && target.find("://") != std::string_view::npos) {
    target = path_and_query_of(target);
    if (target.front() == '?') return "/";
  }
  return target.substr(0, target.find('?'));
}

}  // namespace pharos::l7
