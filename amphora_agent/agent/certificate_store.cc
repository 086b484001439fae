#include "amphora_agent/agent/certificate_store.h"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

namespace pharos::agent {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct OpensslFree {
  void operator()(void* p) const { OPENSSL_free(p); }
};

struct ParsedBundle {
  std::unique_ptr<X509, X509Free> first_cert;
  std::unique_ptr<EVP_PKEY, PkeyFree> key;
  std::string error;
};

ParsedBundle parse_bundle(std::string_view pem) {
  ParsedBundle out;
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  int certs = 0;
  for (;;) {
    char* name_raw = nullptr;
    char* header_raw = nullptr;
    unsigned char* data_raw = nullptr;
    long len = 0;
    if (PEM_read_bio(bio.get(), &name_raw, &header_raw, &data_raw, &len) != 1) {
      ERR_clear_error();
      break;
    }
    std::unique_ptr<char, OpensslFree> name(name_raw);
    std::unique_ptr<char, OpensslFree> header(header_raw);
    std::unique_ptr<unsigned char, OpensslFree> data(data_raw);
    const std::string_view type(name.get());
    const unsigned char* cursor = data.get();
    if (type == "CERTIFICATE") {
      std::unique_ptr<X509, X509Free> cert(d2i_X509(nullptr, &cursor, len));
      if (!cert) {
        out.error = "certificate " + std::to_string(certs + 1) + " does not parse";
        return out;
      }
      if (certs++ == 0) out.first_cert = std::move(cert);
    } else if (type == "PRIVATE KEY" || type == "RSA PRIVATE KEY" || type == "EC PRIVATE KEY") {
      if (out.key) {
        out.error = "the bundle holds more than one private key";
        return out;
      }
      // Re-read this one block with the PEM key reader, which knows every key encoding.
      std::unique_ptr<BIO, BioFree> one(BIO_new(BIO_s_mem()));
      PEM_write_bio(one.get(), name.get(), header.get(), data.get(), len);
      out.key.reset(PEM_read_bio_PrivateKey(one.get(), nullptr, nullptr, nullptr));
      if (!out.key) {
        ERR_clear_error();
        out.error = "the private key does not parse (encrypted keys are not supported)";
        return out;
      }
    } else {
      out.error = "unexpected PEM block '" + std::string(type) + "'";
      return out;
    }
  }
  if (certs == 0) {
    out.error = "the bundle holds no PEM certificate";
    return out;
  }
  if (out.key && X509_check_private_key(out.first_cert.get(), out.key.get()) != 1) {
    ERR_clear_error();
    out.error = "key_mismatch";
  }
  return out;
}

std::string subject_of(X509* cert) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

int64_t not_after_of(X509* cert) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

std::string write_file_atomically(const std::string& path, std::string_view data) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return "cannot create " + tmp + ": " + std::strerror(errno);
  bool ok = ::fchmod(fd, 0600) == 0;
  size_t written = 0;
  while (ok && written < data.size()) {
    const ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) written += static_cast<size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return "cannot write " + path + ": " + std::strerror(ok ? errno : saved);
  }
  return "";
}

CertResult fail(CertErrc errc, std::string message) {
  CertResult r;
  r.errc = errc;
  r.message = std::move(message);
  return r;
}

}  // namespace

bool is_safe_certificate_id(std::string_view id) {
  if (id.empty() || id.size() > 128 || !std::isalnum(static_cast<unsigned char>(id[0]))) {
    return false;
  }
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

std::string CertificateStore::prepare() {
  if (::mkdir(directory_.c_str(), 0700) != 0 && errno != EEXIST) {
    return "cannot create " + directory_ + ": " + std::strerror(errno);
  }
  ::chmod(directory_.c_str(), 0700);
  return "";
}

CertResult CertificateStore::put(std::string_view id, std::string_view pem) {
  CertResult result;
  if (!is_safe_certificate_id(id)) {
    return fail(CertErrc::kBadId, "certificate id must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}");
  }
  ParsedBundle bundle = parse_bundle(pem);
  if (bundle.error == "key_mismatch") {
    return fail(CertErrc::kKeyMismatch, "the private key does not match the first certificate");
  }
  if (!bundle.error.empty()) return fail(CertErrc::kBadPem, bundle.error);

  if (std::string e = write_file_atomically(path_of(id), pem); !e.empty()) {
    return fail(CertErrc::kIo, e);
  }
  result.meta = {std::string(id), state::sha256_hex(pem), subject_of(bundle.first_cert.get()),
                 not_after_of(bundle.first_cert.get()), bundle.key != nullptr,
                 static_cast<int64_t>(pem.size()), static_cast<int64_t>(std::time(nullptr))};
  if (auto s = store_.put_certificate(result.meta); !s) return fail(CertErrc::kIo, s.error().message);
  return result;
}

CertResult CertificateStore::remove(std::string_view id) {
  if (!is_safe_certificate_id(id)) {
    return fail(CertErrc::kBadId, "certificate id must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}");
  }
  const bool had_file = ::unlink(path_of(id).c_str()) == 0;
  if (!had_file && errno != ENOENT) return fail(CertErrc::kIo, std::strerror(errno));
  auto had_meta = store_.delete_certificate(id);
  if (!had_meta) return fail(CertErrc::kIo, had_meta.error().message);
  if (!had_file && !had_meta.value()) return fail(CertErrc::kNotFound, "no certificate " + std::string(id));
  return {};
}

}  // namespace pharos::agent
