#include "engine/tls/pem_reader.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/mem.h>
#include <openssl/pem.h>

#include <climits>
#include <memory>

#include "engine/tls/boringssl_error.h"

namespace pharos::tls {
namespace {

struct OpenSslFree {
  void operator()(void* p) const { OPENSSL_free(p); }
};

}  // namespace

bool is_certificate_label(std::string_view label) {
  return label == "CERTIFICATE" || label == "X509 CERTIFICATE" || label == "TRUSTED CERTIFICATE";
}

bool is_private_key_label(std::string_view label) {
  return label == "PRIVATE KEY" || label == "RSA PRIVATE KEY" || label == "EC PRIVATE KEY";
}

bool is_crl_label(std::string_view label) { return label == "X509 CRL"; }

TlsResult<std::vector<PemBlock>> read_pem_blocks(std::string_view text, const std::string& path) {
  if (text.size() > INT_MAX) return TlsError{path, "PEM text too large"};
  clear_boringssl_errors();
  bssl::UniquePtr<BIO> bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  std::vector<PemBlock> blocks;
  for (;;) {
    char* name = nullptr;
    char* header = nullptr;
    uint8_t* data = nullptr;
    long len = 0;
    if (!PEM_read_bio(bio.get(), &name, &header, &data, &len)) {
      const uint32_t code = ERR_peek_last_error();
      const bool end_of_input =
          ERR_GET_LIB(code) == ERR_LIB_PEM && ERR_GET_REASON(code) == PEM_R_NO_START_LINE;
      if (end_of_input) {
        clear_boringssl_errors();
        if (blocks.empty()) return TlsError{path, "not PEM: no -----BEGIN ...----- block found"};
        return blocks;
      }
      return TlsError{path, "malformed PEM block #" + std::to_string(blocks.size() + 1) + ": " +
                                take_boringssl_errors()};
    }
    std::unique_ptr<char, OpenSslFree> name_owner(name);
    std::unique_ptr<char, OpenSslFree> header_owner(header);
    std::unique_ptr<uint8_t, OpenSslFree> data_owner(data);
    const std::string_view label(name);
    if (label == "ENCRYPTED PRIVATE KEY" ||
        (header != nullptr && std::string_view(header).find("ENCRYPTED") != std::string_view::npos)) {
      return TlsError{path, "encrypted PEM block (" + std::string(label) +
                                ") is not supported: give the key unencrypted"};
    }
    blocks.push_back(PemBlock{std::string(label), std::vector<uint8_t>(data, data + len)});
  }
}

}  // namespace pharos::tls
