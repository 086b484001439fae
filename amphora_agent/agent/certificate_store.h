// PEM bundles the engine needs (listener certificates, client CAs), stored as
// <state_dir>/certs/<id>.pem with mode 0600, metadata in the state database.
#pragma once

#include <string>
#include <string_view>

#include "amphora_agent/state/state_store.h"

namespace pharos::agent {

// [A-Za-z0-9][A-Za-z0-9._-]{0,127}: safe as a file name, never "." or "..", no separators.
bool is_safe_certificate_id(std::string_view id);

enum class CertErrc { kOk, kBadId, kBadPem, kKeyMismatch, kNotFound, kIo };

struct CertResult {
  CertErrc errc = CertErrc::kOk;
  std::string message;
  state::CertificateMeta meta;  // on kOk from put
};

class CertificateStore {
 public:
  CertificateStore(std::string directory, state::StateStore& store)
      : directory_(std::move(directory)), store_(store) {}

  // Creates the directory (0700) if needed; "" or an error message.
  std::string prepare();

  // Validates the bundle (at least one certificate; any private key must match the first
  // certificate; no other PEM blocks), then replaces the file atomically.
  CertResult put(std::string_view id, std::string_view pem);
  CertResult remove(std::string_view id);

  std::string path_of(std::string_view id) const { return directory_ + "/" + std::string(id) + ".pem"; }

 private:
  std::string directory_;
  state::StateStore& store_;
};

}  // namespace pharos::agent
