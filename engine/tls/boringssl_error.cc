#include "engine/tls/boringssl_error.h"

#include <openssl/err.h>

namespace pharos::tls {

std::string take_boringssl_errors() {
  std::string out;
  while (uint32_t code = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(code);
    if (!out.empty()) out += "; ";
    out += reason != nullptr ? reason : "error " + std::to_string(code);
  }
  return out;
}

void clear_boringssl_errors() { ERR_clear_error(); }

}  // namespace pharos::tls
