// Compiles one load balancer's Octavia objects (octavia-lib provider data models as JSON, the
// "load balancer tree" of provider_driver/pharos/tree.py) into the engine config document of
// schema/engine-config.schema.json, then validates that document with the engine's own loader.
// This is what the provider driver calls at API time through pharos._core, so a request the
// engine cannot serve is refused before anything is accepted.
// TLS: the certificate data Octavia read from its certificate manager (*_container_data) becomes
// the engine's PEM fields (default_tls_container, sni_containers, client_ca_tls_container, ...);
// errors about it are reported under the *_ref field the user set. The compiler moves PEM text
// only: pharos.tls_material checks it at API time, the engine's BoringSSL code when it applies.
// L7: a listener's l7policies (with their rules) keep the tree's order and indexes, so loader
// errors map back onto /listeners/N/l7policies/M[/rules/K]/<field>; a policy carries only its
// action's target, a rule a key only when its type compares a named field.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/config/config_loader.h"

namespace pharos::octavia {

enum class CompileErrorKind {
  kUnsupported,  // valid for Octavia, not something Pharos does (UnsupportedOptionError)
  kInvalid,      // a value the engine rejects (DriverError)
};

struct CompileError {
  CompileErrorKind kind;
  std::string path;     // JSON pointer into the tree, e.g. "/listeners/0/protocol"
  std::string message;  // user-facing
};

struct CompileResult {
  nlohmann::json config;  // the engine config; meaningful only when errors is empty
  std::vector<CompileError> errors;
  bool ok() const { return errors.empty(); }
};

CompileResult compile_tree(const nlohmann::json& tree);

}  // namespace pharos::octavia
