// Loads and validates one engine config document. Validation is whole-document: every problem
// is reported, each with the JSON pointer of the offending field, and nothing is returned
// unless the document is entirely valid. This is the validator the agent and pharos._core call.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "engine/config/config_types.h"

namespace pharos::config {

struct ConfigError {
  std::string path;     // JSON pointer, e.g. "/listeners/0/protocol_port"; "" for the root
  std::string message;  // why, in words an operator understands
};

struct LoadResult {
  std::shared_ptr<const Config> config;  // set only when errors is empty
  std::vector<ConfigError> errors;
  bool ok() const { return errors.empty() && config != nullptr; }
};

struct LoadOptions {
  // Where relative certificate `file` paths point; empty: relative paths are an error. A config
  // loaded from a file resolves them against the file's directory.
  std::string base_directory;
};

// Parses JSON text, checks it against schema/engine-config.schema.json, then checks what a
// schema cannot say (references between ids, unique bind addresses, protocol pairs, which TLS
// fields a protocol takes). Certificate contents are the engine's TLS code's to check.
LoadResult load_config_json(std::string_view json_text, const LoadOptions& options = {});
LoadResult load_config(const nlohmann::json& document, const LoadOptions& options = {});
LoadResult load_config_file(const std::string& path);
// The options load_config_file uses: relative paths resolve against the file's directory.
LoadOptions options_for_file(const std::string& path);

// "path: message" lines, one per error, for stderr and for control-socket replies.
std::string format_errors(const std::vector<ConfigError>& errors);

}  // namespace pharos::config
