// Matches (method, path) to a handler. Patterns are literal segments and {name} captures;
// a path that matches a pattern under another method is a 405, no match at all a 404.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "amphora_agent/agent/api/api_types.h"

namespace pharos::agent::api {

using Handler = std::function<ApiResponse(const ApiRequest&)>;

struct RouteOptions {
  bool reads_body = false;  // the server reads (bounded) and passes the body only then
};

class Router {
 public:
  void add(std::string method, const std::string& pattern, Handler handler,
           RouteOptions options = {});

  struct Match {
    const Handler* handler = nullptr;  // null: see status
    RouteOptions options;
    std::map<std::string, std::string> params;
    int status = 404;  // 404 or 405 when handler is null
  };
  Match match(const std::string& method, const std::string& path) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    Handler handler;
    RouteOptions options;
  };
  std::vector<Route> routes_;
};

std::vector<std::string> split_path(const std::string& path);

}  // namespace pharos::agent::api
