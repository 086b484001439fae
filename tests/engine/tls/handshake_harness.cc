#include "tests/engine/tls/handshake_harness.h"

#include <openssl/bio.h>
#include <openssl/err.h>

#include <cstring>

namespace pharos::tls::test {
namespace {

std::string describe(const char* side, SSL* ssl, int ret) {
  std::string out = std::string(side) + ": SSL error " + std::to_string(SSL_get_error(ssl, ret));
  while (uint32_t code = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(code);
    out += std::string(" ") + (reason != nullptr ? reason : "?");
  }
  return out;
}

bool retryable(SSL* ssl, int ret) {
  const int err = SSL_get_error(ssl, ret);
  return err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE;
}

// One message from `from` to `to`, pumping both until it arrives.
bool transfer(SSL* from, SSL* to, const char* message, std::string& error, const char* from_name,
              const char* to_name) {
  const int len = static_cast<int>(std::strlen(message));
  int wrote = 0;
  char buf[64];
  for (int round = 0; round < 50; ++round) {
    if (wrote == 0) {
      int r = SSL_write(from, message, len);
      if (r > 0) {
        wrote = r;
      } else if (!retryable(from, r)) {
        error = describe(from_name, from, r);
        return false;
      }
    }
    // Let the sender process anything pending (alerts, tickets) too.
    int r = SSL_read(to, buf, sizeof(buf));
    if (r > 0) return std::string(buf, r) == message;
    if (!retryable(to, r)) {
      error = describe(to_name, to, r);
      return false;
    }
    r = SSL_read(from, buf, sizeof(buf));
    if (r <= 0 && !retryable(from, r)) {
      error = describe(from_name, from, r);
      return false;
    }
  }
  error = "no progress";
  return false;
}

// TLS 1.3 tickets reach the client only through the new-session callback; keep the latest on the
// SSL itself.
void free_session(void* parent, void* ptr, CRYPTO_EX_DATA* ad, int index, long argl, void* argp) {
  SSL_SESSION_free(static_cast<SSL_SESSION*>(ptr));
}

int session_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, &free_session);
  return index;
}

int keep_new_session(SSL* ssl, SSL_SESSION* session) {
  SSL_SESSION_free(static_cast<SSL_SESSION*>(SSL_get_ex_data(ssl, session_index())));
  SSL_set_ex_data(ssl, session_index(), session);
  return 1;  // we took the reference
}

}  // namespace

config::ListenerTls make_listener_tls(const Credential& default_credential,
                                      const std::vector<const Credential*>& sni) {
  config::ListenerTls tls;
  tls.path = "/listeners/0";
  tls.default_container = container(default_credential, "/listeners/0/default_tls_container");
  for (size_t i = 0; i < sni.size(); ++i) {
    tls.sni_containers.push_back(
        container(*sni[i], "/listeners/0/sni_containers/" + std::to_string(i)));
  }
  return tls;
}

bssl::UniquePtr<SSL> make_client(const ClientOptions& options) {
  bssl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_method()));
  SSL_CTX_set_min_proto_version(ctx.get(), options.min_version);
  SSL_CTX_set_max_proto_version(ctx.get(), options.max_version);
  if (!options.ciphers.empty()) SSL_CTX_set_strict_cipher_list(ctx.get(), options.ciphers.c_str());
  if (!options.sigalgs.empty()) {
    SSL_CTX_set_verify_algorithm_prefs(ctx.get(), options.sigalgs.data(), options.sigalgs.size());
  }
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_CLIENT);
  SSL_CTX_sess_set_new_cb(ctx.get(), &keep_new_session);
  bssl::UniquePtr<SSL> ssl(SSL_new(ctx.get()));
  SSL_set_connect_state(ssl.get());
  if (!options.server_name.empty()) SSL_set_tlsext_host_name(ssl.get(), options.server_name.c_str());
  if (!options.alpn.empty()) {
    std::vector<uint8_t> wire;
    for (const auto& p : options.alpn) {
      wire.push_back(static_cast<uint8_t>(p.size()));
      wire.insert(wire.end(), p.begin(), p.end());
    }
    SSL_set_alpn_protos(ssl.get(), wire.data(), wire.size());
  }
  if (options.certificate != nullptr) {
    SSL_use_certificate(ssl.get(), load_certificate(options.certificate->certificate_pem).get());
    SSL_use_PrivateKey(ssl.get(), load_private_key(options.certificate->private_key_pem).get());
  }
  if (options.session != nullptr) SSL_set_session(ssl.get(), options.session);
  return ssl;
}

Handshake run_handshake(bssl::UniquePtr<SSL> client, bssl::UniquePtr<SSL> server) {
  ERR_clear_error();
  Handshake h;
  h.client = std::move(client);
  h.server = std::move(server);
  if (!h.client || !h.server) {
    h.error = "no SSL";
    return h;
  }
  BIO* client_bio = nullptr;
  BIO* server_bio = nullptr;
  BIO_new_bio_pair(&client_bio, 0, &server_bio, 0);
  SSL_set_bio(h.client.get(), client_bio, client_bio);
  SSL_set_bio(h.server.get(), server_bio, server_bio);

  bool client_done = false;
  bool server_done = false;
  for (int round = 0; round < 50 && !(client_done && server_done); ++round) {
    if (!client_done) {
      const int r = SSL_do_handshake(h.client.get());
      if (r == 1) {
        client_done = true;
      } else if (!retryable(h.client.get(), r)) {
        h.error = describe("client", h.client.get(), r);
        return h;
      }
    }
    if (!server_done) {
      const int r = SSL_do_handshake(h.server.get());
      if (r == 1) {
        server_done = true;
      } else if (!retryable(h.server.get(), r)) {
        h.error = describe("server", h.server.get(), r);
        return h;
      }
    }
  }
  if (!(client_done && server_done)) {
    h.error = "handshake made no progress";
    return h;
  }
  if (!transfer(h.client.get(), h.server.get(), "ping", h.error, "client", "server") ||
      !transfer(h.server.get(), h.client.get(), "pong", h.error, "server", "client")) {
    return h;
  }
  h.ok = true;
  auto* latest = static_cast<SSL_SESSION*>(SSL_get_ex_data(h.client.get(), session_index()));
  if (latest != nullptr) {
    SSL_SESSION_up_ref(latest);
    h.session.reset(latest);
  } else {
    h.session.reset(SSL_get1_session(h.client.get()));
  }
  return h;
}

Handshake run_handshake(const ClientOptions& options, bssl::UniquePtr<SSL> server) {
  return run_handshake(make_client(options), std::move(server));
}

std::string Handshake::server_common_name() const {
  if (!client) return {};
  bssl::UniquePtr<X509> peer(SSL_get_peer_certificate(client.get()));
  if (!peer) return {};
  char cn[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(peer.get()), NID_commonName, cn, sizeof(cn));
  return cn;
}

int Handshake::server_key_type() const {
  if (!client) return 0;
  bssl::UniquePtr<X509> peer(SSL_get_peer_certificate(client.get()));
  if (!peer) return 0;
  bssl::UniquePtr<EVP_PKEY> key(X509_get_pubkey(peer.get()));
  return key ? EVP_PKEY_id(key.get()) : 0;
}

std::string Handshake::alpn() const {
  const uint8_t* data = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(client.get(), &data, &len);
  return std::string(reinterpret_cast<const char*>(data), len);
}

}  // namespace pharos::tls::test
