#include "amphora_agent/agent/api/router.h"

namespace pharos::agent::api {

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> segments;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (slash > start) segments.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return segments;
}

void Router::add(std::string method, const std::string& pattern, Handler handler,
                 RouteOptions options) {
  routes_.push_back({std::move(method), split_path(pattern), std::move(handler), options});
}

Router::Match Router::match(const std::string& method, const std::string& path) const {
  Match result;
  const std::vector<std::string> segments = split_path(path);
  for (const Route& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    std::map<std::string, std::string> params;
    bool matched = true;
    for (size_t i = 0; i < segments.size() && matched; ++i) {
      const std::string& want = route.segments[i];
      if (want.size() > 2 && want.front() == '{' && want.back() == '}') {
        params[want.substr(1, want.size() - 2)] = segments[i];
      } else {
        matched = want == segments[i];
      }
    }
    if (!matched) continue;
    if (route.method != method) {
      result.status = 405;
      continue;
    }
    result.handler = &route.handler;
    result.options = route.options;
    result.params = std::move(params);
    return result;
  }
  return result;
}

}  // namespace pharos::agent::api
