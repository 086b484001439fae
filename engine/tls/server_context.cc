#include "engine/tls/server_context.h"

#include <openssl/digest.h>
#include <openssl/sha.h>

#include <cstring>

#include "engine/tls/boringssl_error.h"
#include "engine/tls/certificate_material.h"
#include "engine/tls/certificate_selector.h"
#include "engine/tls/client_key_support.h"
#include "engine/tls/tls_parameters.h"

namespace pharos::tls {
namespace {

// What the handshake callbacks need. Owned by the SSL_CTX (ex_data), so it lives exactly as
// long as the last connection made from it, whatever happens to the ServerTlsContext.
struct ServerState {
  ServerState(CertificateSelector s, ServerSuites su, std::vector<uint8_t> a,
              std::shared_ptr<TicketKeyRing> k)
      : selector(std::move(s)), suites(std::move(su)), alpn(std::move(a)),
        ticket_keys(std::move(k)) {}
  CertificateSelector selector;
  ServerSuites suites;
  std::vector<uint8_t> alpn;  // wire form, in preference order
  std::shared_ptr<TicketKeyRing> ticket_keys;
};

void free_server_state(void* parent, void* ptr, CRYPTO_EX_DATA* ad, int index, long argl,
                       void* argp) {
  delete static_cast<ServerState*>(ptr);
}

int server_state_index() {
  static const int index =
      SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, &free_server_state);
  return index;
}

const ServerState* state_of(const SSL* ssl) {
  return static_cast<const ServerState*>(
      SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), server_state_index()));
}

ssl_select_cert_result_t select_certificate(const SSL_CLIENT_HELLO* hello) {
  SSL* ssl = hello->ssl;
  const ServerState* state = state_of(ssl);
  const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  const ClientKeySupport support = read_client_key_support(hello, state->suites);
  const CertifiedKey* key = state->selector.select(sni != nullptr ? sni : "", support);
  std::vector<CRYPTO_BUFFER*> chain;
  chain.reserve(key->chain.size());
  for (const auto& buffer : key->chain) chain.push_back(buffer.get());
  if (!SSL_set_chain_and_key(ssl, chain.data(), chain.size(), key->private_key.get(), nullptr)) {
    return ssl_select_cert_error;
  }
  return ssl_select_cert_success;
}

// Server preference: the first of our protocols the client offers; none in common goes on
// without ALPN (HTTP/1.1) rather than failing the handshake.
int select_alpn(SSL* ssl, const uint8_t** out, uint8_t* out_len, const uint8_t* in,
                unsigned in_len, void* arg) {
  const auto* state = static_cast<const ServerState*>(arg);
  const std::vector<uint8_t>& ours = state->alpn;
  for (size_t i = 0; i < ours.size(); i += 1 + ours[i]) {
    const uint8_t len = ours[i];
    for (unsigned j = 0; j < in_len; j += 1 + in[j]) {
      if (in[j] == len && j + 1 + len <= in_len && std::memcmp(&in[j + 1], &ours[i + 1], len) == 0) {
        *out = &in[j + 1];
        *out_len = len;
        return SSL_TLSEXT_ERR_OK;
      }
    }
  }
  return SSL_TLSEXT_ERR_NOACK;
}

int ticket_key(SSL* ssl, uint8_t* key_name, uint8_t* iv, EVP_CIPHER_CTX* cipher_ctx,
               HMAC_CTX* hmac_ctx, int encrypt) {
  const ServerState* state = state_of(ssl);
  return state->ticket_keys->handle_ticket(key_name, iv, cipher_ctx, hmac_ctx, encrypt);
}

// Sessions resume only on the listener, and under the client-auth settings, that made them.
void set_session_context(SSL_CTX* ctx, const config::ListenerTls& tls) {
  SHA256_CTX sha;
  SHA256_Init(&sha);
  auto add = [&](const std::string& s) {
    SHA256_Update(&sha, s.data(), s.size());
    SHA256_Update(&sha, "", 1);
  };
  add("pharos-listener");
  add(tls.path);
  add(std::to_string(static_cast<int>(tls.client_authentication)));
  add(tls.client_ca_pem);
  add(tls.client_crl_pem);
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256_Final(digest, &sha);
  SSL_CTX_set_session_id_context(ctx, digest, sizeof(digest));
}

TlsStatus configure_client_authentication(SSL_CTX* ctx, const config::ListenerTls& tls) {
  if (tls.client_authentication == config::ClientAuthentication::kNone) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    return Done{};
  }
  const std::string ca_path = tls.path + "/client_ca_tls_container";
  if (tls.client_ca_pem.empty()) {
    return TlsError{ca_path, "client_authentication OPTIONAL or MANDATORY needs a CA"};
  }
  auto trust = load_trust_anchors(tls.client_ca_pem, ca_path, tls.client_crl_pem,
                                  tls.path + "/client_crl_container");
  if (!trust) return trust.error();
  SSL_CTX_set_cert_store(ctx, trust->store.release());
  SSL_CTX_set_client_CA_list(ctx, trust->ca_names.release());
  // OPTIONAL: no certificate is fine, but one that is presented must verify.
  int mode = SSL_VERIFY_PEER;
  if (tls.client_authentication == config::ClientAuthentication::kMandatory) {
    mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  }
  SSL_CTX_set_verify(ctx, mode, nullptr);
  return Done{};
}

void configure_sessions(SSL_CTX* ctx, const config::TlsSessions& sessions, bool tickets) {
  if (sessions.session_cache_size == 0) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  } else {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx, sessions.session_cache_size);
  }
  const uint32_t timeout = sessions.session_timeout_s > 0 ? sessions.session_timeout_s : 300;
  SSL_CTX_set_timeout(ctx, timeout);
  SSL_CTX_set_session_psk_dhe_timeout(ctx, timeout);
  if (tickets) {
    SSL_CTX_set_tlsext_ticket_key_cb(ctx, &ticket_key);
  } else {
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  }
}

}  // namespace

TlsResult<std::shared_ptr<const ServerTlsContext>> ServerTlsContext::create(
    const config::ListenerTls& tls, const config::TlsSessions& sessions,
    std::shared_ptr<TicketKeyRing> ticket_keys) {
  auto default_key = load_certified_key(tls.default_container);
  if (!default_key) return default_key.error();
  std::vector<std::shared_ptr<const CertifiedKey>> sni_keys;
  for (const auto& container : tls.sni_containers) {
    auto key = load_certified_key(container);
    if (!key) return key.error();
    sni_keys.push_back(std::move(key.value()));
  }

  std::shared_ptr<ServerTlsContext> context(new ServerTlsContext());
  context->ctx_.reset(SSL_CTX_new(TLS_method()));
  SSL_CTX* ctx = context->ctx_.get();
  if (ctx == nullptr) return TlsError{tls.path, "SSL_CTX_new: " + take_boringssl_errors()};

  if (auto s = apply_versions_and_ciphers(ctx, tls.versions, tls.ciphers, tls.path, &context->warnings_); !s) {
    return s.error();
  }
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);

  std::vector<std::string> protocols = tls.alpn_protocols;
  if (protocols.empty()) protocols.push_back("http/1.1");
  auto alpn = alpn_wire(protocols, tls.path + "/alpn_protocols");
  if (!alpn) return alpn.error();

  if (auto s = configure_client_authentication(ctx, tls); !s) return s.error();
  set_session_context(ctx, tls);
  const bool tickets = ticket_keys != nullptr && sessions.ticket_key_rotation_s > 0;
  configure_sessions(ctx, sessions, tickets);

  auto* state = new ServerState(CertificateSelector(default_key.value(), sni_keys),
                                ServerSuites::of(ctx, SSL_CTX_get_max_proto_version(ctx)),
                                std::move(alpn.value()), tickets ? std::move(ticket_keys) : nullptr);
  if (!SSL_CTX_set_ex_data(ctx, server_state_index(), state)) {
    delete state;
    return TlsError{tls.path, "SSL_CTX_set_ex_data failed"};
  }
  SSL_CTX_set_select_certificate_cb(ctx, &select_certificate);
  SSL_CTX_set_alpn_select_cb(ctx, &select_alpn, state);
  clear_boringssl_errors();
  return std::shared_ptr<const ServerTlsContext>(std::move(context));
}

bssl::UniquePtr<SSL> ServerTlsContext::new_connection() const {
  bssl::UniquePtr<SSL> ssl(SSL_new(ctx_.get()));
  if (ssl) SSL_set_accept_state(ssl.get());
  return ssl;
}

}  // namespace pharos::tls
