// In-process TLS handshakes over a memory BIO pair, with a plain BoringSSL test client, so the
// engine's contexts meet a real peer without sockets or threads.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/engine/tls/test_pki.h"

namespace pharos::tls::test {

struct ClientOptions {
  std::string server_name = {};  // SNI; empty: none
  uint16_t min_version = TLS1_VERSION;
  uint16_t max_version = TLS1_3_VERSION;
  std::string ciphers = {};             // TLS 1.2 and below; empty: BoringSSL's default
  std::vector<uint16_t> sigalgs = {};   // signature_algorithms offered; empty: default
  std::vector<std::string> alpn = {};   // offered protocols; empty: no ALPN
  const Credential* certificate = nullptr;  // client certificate
  SSL_SESSION* session = nullptr;       // offered for resumption
};

// A TERMINATED_HTTPS listener's TLS config at /listeners/0 with `default_credential` and the
// SNI credentials, every other field at its default.
config::ListenerTls make_listener_tls(const Credential& default_credential,
                                      const std::vector<const Credential*>& sni = {});

// A client-mode SSL from a fresh SSL_CTX that does not verify the server.
bssl::UniquePtr<SSL> make_client(const ClientOptions& options);

struct Handshake {
  bool ok = false;          // both sides finished and exchanged application data
  std::string error;        // first failure, with the side and BoringSSL's reason
  bssl::UniquePtr<SSL> client;
  bssl::UniquePtr<SSL> server;
  bssl::UniquePtr<SSL_SESSION> session;  // the client's resumable session afterwards

  bool resumed() const { return ok && SSL_session_reused(client.get()); }
  std::string server_common_name() const;  // CN of the certificate the server presented
  int server_key_type() const;             // EVP_PKEY_RSA or EVP_PKEY_EC; 0 when none
  std::string alpn() const;                // selected protocol, seen by the client
  uint16_t version() const { return static_cast<uint16_t>(SSL_version(client.get())); }
};

// Drives both ends to completion, then sends one message each way (so TLS 1.3 tickets and
// post-handshake alerts such as a rejected client certificate are seen).
Handshake run_handshake(bssl::UniquePtr<SSL> client, bssl::UniquePtr<SSL> server);

// Convenience: make_client(options) against `server`.
Handshake run_handshake(const ClientOptions& options, bssl::UniquePtr<SSL> server);

}  // namespace pharos::tls::test
