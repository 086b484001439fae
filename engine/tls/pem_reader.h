// Splits PEM text into its blocks (label + DER), so callers can sort certificates, keys and CRLs
// found in any order in one bundle.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/tls/tls_error.h"

namespace pharos::tls {

struct PemBlock {
  std::string label;  // e.g. "CERTIFICATE", "PRIVATE KEY", "X509 CRL"
  std::vector<uint8_t> der;
};

// Every PEM block of `text`, in order. Errors (at `path`) when there is no PEM block at all, a
// block is malformed, or a block is encrypted (the engine has no passphrases).
TlsResult<std::vector<PemBlock>> read_pem_blocks(std::string_view text, const std::string& path);

// Labels by role.
bool is_certificate_label(std::string_view label);
bool is_private_key_label(std::string_view label);
bool is_crl_label(std::string_view label);

}  // namespace pharos::tls
