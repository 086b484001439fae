// Transport-neutral request and response for the REST resources: the server converts
// cpprest's objects to these, so resources are plain functions that tests can call directly.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pharos::agent::api {

struct ApiRequest {
  std::string method;                         // GET, PUT, POST, DELETE
  std::string path;                           // decoded path, e.g. /v1/certificates/abc
  std::map<std::string, std::string> params;  // {name} segments matched by the route
  std::map<std::string, std::string> query;   // decoded query parameters (last one wins)
  std::string content_type;                   // media type without parameters, lowercase
  std::string body;                           // at most max_body_bytes
};

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

struct FieldError {
  std::string path;  // JSON pointer into the request body; "" for the whole body
  std::string message;
};

// {"code", "message", "path"} plus "errors" when there is more than one problem.
ApiResponse error_response(int status, const std::string& code, const std::string& message,
                           const std::string& path = "",
                           const std::vector<FieldError>& errors = {});
ApiResponse json_response(int status, const nlohmann::json& body);

}  // namespace pharos::agent::api
