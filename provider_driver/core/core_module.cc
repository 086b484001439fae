// pharos._core: what the Python side needs from the C++ parts, so the layers cannot drift.
// C++ errors become the module's own exceptions; the GIL is released around C++ work.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "amphora_agent/heartbeat/heartbeat_codec.h"
#include "engine/config/config_loader.h"
#include "engine/config/engine_config_schema.h"
#include "engine/octavia/octavia_compiler.h"

namespace py = pybind11;

namespace {

using ErrorList = std::vector<std::pair<std::string, std::string>>;

struct Compiled {
  std::string config;       // engine config JSON, when ok
  ErrorList unsupported;    // (path, message)
  ErrorList invalid;
};

Compiled compile(const std::string& tree_text) {
  Compiled out;
  auto tree = nlohmann::json::parse(tree_text, nullptr, false);
  if (tree.is_discarded()) {
    out.invalid.emplace_back("", "the load balancer tree is not valid JSON");
    return out;
  }
  auto result = pharos::octavia::compile_tree(tree);
  for (auto& error : result.errors) {
    auto& list = error.kind == pharos::octavia::CompileErrorKind::kUnsupported ? out.unsupported : out.invalid;
    list.emplace_back(std::move(error.path), std::move(error.message));
  }
  if (result.ok()) out.config = result.config.dump();
  return out;
}

ErrorList validate(const std::string& config_text) {
  auto result = pharos::config::load_config_json(config_text);
  ErrorList out;
  for (auto& error : result.errors) out.emplace_back(std::move(error.path), std::move(error.message));
  return out;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "Pharos engine internals for the provider driver and controller";
  static py::exception<std::runtime_error> compile_error(m, "CompileError");
  static py::exception<std::logic_error> unsupported_error(m, "UnsupportedOption", compile_error.ptr());
  static py::exception<std::invalid_argument> invalid_error(m, "InvalidConfig", compile_error.ptr());
  static py::exception<std::range_error> heartbeat_error(m, "HeartbeatError");

  m.def(
      "compile_loadbalancer",
      [](const std::string& tree) {
        Compiled compiled;
        {
          py::gil_scoped_release release;
          compiled = compile(tree);
        }
        if (!compiled.unsupported.empty() || !compiled.invalid.empty()) {
          bool unsupported = !compiled.unsupported.empty();
          const ErrorList& errors = unsupported ? compiled.unsupported : compiled.invalid;
          py::object type = unsupported ? py::object(unsupported_error) : py::object(invalid_error);
          std::string message;
          py::list items;
          for (const auto& [path, text] : errors) {
            message += (message.empty() ? "" : "; ") + (path.empty() ? text : path + ": " + text);
            items.append(py::make_tuple(path, text));
          }
          py::object exc = type(message);
          exc.attr("errors") = items;
          PyErr_SetObject(type.ptr(), exc.ptr());
          throw py::error_already_set();
        }
        return compiled.config;
      },
      py::arg("tree"),
      "Compile a load balancer tree (JSON, octavia-lib names) into the engine config (JSON).\n"
      "Raises UnsupportedOption or InvalidConfig; both carry .errors, a list of (path, message).");

  m.def(
      "validate_engine_config",
      [](const std::string& config) {
        py::gil_scoped_release release;
        return validate(config);
      },
      py::arg("config"), "Every problem of an engine config document, as (path, message) pairs.");

  m.def("engine_config_schema", [] { return std::string(pharos::config::engine_config_schema_text()); },
        "The engine config JSON Schema the C++ validator embeds.");

  m.def(
      "decode_heartbeat",
      [](const py::bytes& datagram, const py::bytes& key, uint64_t last_sequence) {
        std::string data = datagram, secret = key;
        pharos::heartbeat::DecodeResult result;
        {
          py::gil_scoped_release release;
          result = pharos::heartbeat::decode_and_verify(data, secret, last_sequence);
        }
        if (!result.ok()) {
          PyErr_SetString(heartbeat_error.ptr(), pharos::heartbeat::to_string(result.error));
          throw py::error_already_set();
        }
        return pharos::heartbeat::payload_to_json(result.payload).dump();
      },
      py::arg("datagram"), py::arg("key"), py::arg("last_sequence"),
      "Verify a signed heartbeat (HMAC-SHA256, sequence, timestamp) and return its payload JSON.\n"
      "Raises HeartbeatError with the reason (bad_signature, replay, malformed, wrong_version).");

  m.def(
      "encode_heartbeat",
      [](const std::string& payload_json, const py::bytes& key) {
        pharos::heartbeat::HeartbeatPayload payload;
        auto document = nlohmann::json::parse(payload_json, nullptr, false);
        if (document.is_discarded() || !pharos::heartbeat::payload_from_json(document, payload)) {
          PyErr_SetString(heartbeat_error.ptr(), "malformed");
          throw py::error_already_set();
        }
        auto encoded = pharos::heartbeat::encode(payload, std::string(key));
        return py::bytes(encoded.datagram);
      },
      py::arg("payload_json"), py::arg("key"),
      "Sign a heartbeat payload as the agent does (for tools and tests of the controller).");
}
