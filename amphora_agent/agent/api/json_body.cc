#include "amphora_agent/agent/api/json_body.h"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

namespace pharos::agent::api {

// Generated from schema/agent-api by amphora_agent/agent/CMakeLists.txt.
const std::map<std::string_view, std::string_view>& embedded_agent_api_schemas();

const pharos::config::JsonSchema& agent_api_schema(std::string_view name) {
  static std::mutex mu;
  static std::map<std::string, pharos::config::JsonSchema, std::less<>> compiled;
  std::lock_guard lock(mu);
  if (auto it = compiled.find(name); it != compiled.end()) return it->second;
  const auto& texts = embedded_agent_api_schemas();
  auto text = texts.find(name);
  if (text == texts.end()) {
    std::fprintf(stderr, "pharos-agent: no schema/agent-api/%.*s.schema.json\n",
                 static_cast<int>(name.size()), name.data());
    std::abort();
  }
  try {
    auto [it, inserted] = compiled.emplace(
        std::string(name), pharos::config::JsonSchema(nlohmann::json::parse(text->second)));
    return it->second;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pharos-agent: schema %.*s does not compile: %s\n",
                 static_cast<int>(name.size()), name.data(), e.what());
    std::abort();
  }
}

JsonBody parse_json_body(const ApiRequest& request, std::string_view schema_name,
                         bool allow_empty) {
  JsonBody result;
  if (request.body.empty() && allow_empty) {
    result.document = nlohmann::json::object();
  } else {
    if (request.content_type != "application/json") {
      result.error = error_response(415, "unsupported_media_type",
                                    "the body must be application/json");
      return result;
    }
    try {
      result.document = nlohmann::json::parse(request.body);
    } catch (const nlohmann::json::parse_error& e) {
      result.error = error_response(
          400, "malformed_json",
          "the body is not valid JSON (byte " + std::to_string(e.byte) + ")");
      return result;
    }
  }
  const auto errors = agent_api_schema(schema_name).validate(result.document);
  if (!errors.empty()) {
    std::vector<FieldError> fields;
    for (const auto& e : errors) fields.push_back({e.path, e.message});
    const std::string path = errors.front().path;
    result.error = error_response(400, "schema_violation",
                                  (path.empty() ? "body" : path) + ": " + errors.front().message,
                                  path, fields);
  }
  return result;
}

}  // namespace pharos::agent::api
