#include "amphora_agent/agent/api/api_types.h"

namespace pharos::agent::api {

ApiResponse error_response(int status, const std::string& code, const std::string& message,
                           const std::string& path, const std::vector<FieldError>& errors) {
  nlohmann::json body = {{"code", code}, {"message", message}, {"path", path}};
  if (!errors.empty()) {
    nlohmann::json list = nlohmann::json::array();
    for (const FieldError& e : errors) list.push_back({{"path", e.path}, {"message", e.message}});
    body["errors"] = std::move(list);
  }
  return json_response(status, body);
}

ApiResponse json_response(int status, const nlohmann::json& body) {
  ApiResponse response;
  response.status = status;
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

}  // namespace pharos::agent::api
