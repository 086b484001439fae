#include "engine/tls/client_context.h"

#include <arpa/inet.h>
#include <openssl/x509_vfy.h>

#include <map>
#include <mutex>

#include "engine/tls/boringssl_error.h"
#include "engine/tls/certificate_material.h"
#include "engine/tls/tls_parameters.h"

namespace pharos::tls {
namespace {

constexpr size_t kMaxCachedSessions = 4096;

// Sessions to reuse, by member. Owned by the SSL_CTX (ex_data) like the server state.
struct SessionCache {
  std::mutex mu;
  std::map<std::string, bssl::UniquePtr<SSL_SESSION>> sessions;

  // TLS 1.3 tickets are single-use: handed out once, then replaced by the next ticket.
  bssl::UniquePtr<SSL_SESSION> take(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = sessions.find(key);
    if (it == sessions.end()) return nullptr;
    if (SSL_SESSION_get_protocol_version(it->second.get()) >= TLS1_3_VERSION) {
      bssl::UniquePtr<SSL_SESSION> session = std::move(it->second);
      sessions.erase(it);
      return session;
    }
    SSL_SESSION_up_ref(it->second.get());
    return bssl::UniquePtr<SSL_SESSION>(it->second.get());
  }

  void put(const std::string& key, SSL_SESSION* session) {
    std::lock_guard<std::mutex> lock(mu);
    if (sessions.size() >= kMaxCachedSessions && sessions.find(key) == sessions.end()) {
      sessions.erase(sessions.begin());
    }
    sessions[key].reset(session);
  }
};

void free_cache(void* parent, void* ptr, CRYPTO_EX_DATA* ad, int index, long argl, void* argp) {
  delete static_cast<SessionCache*>(ptr);
}

void free_key(void* parent, void* ptr, CRYPTO_EX_DATA* ad, int index, long argl, void* argp) {
  delete static_cast<std::string*>(ptr);
}

int cache_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, &free_cache);
  return index;
}

int session_key_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, &free_key);
  return index;
}

int on_new_session(SSL* ssl, SSL_SESSION* session) {
  const auto* key = static_cast<const std::string*>(SSL_get_ex_data(ssl, session_key_index()));
  auto* cache =
      static_cast<SessionCache*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), cache_index()));
  if (key == nullptr || cache == nullptr) return 0;
  cache->put(*key, session);
  return 1;  // the cache holds the reference
}

bool is_ip_literal(const std::string& name) {
  uint8_t buf[16];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

TlsStatus configure_client_certificate(SSL_CTX* ctx, const config::PoolTls& tls) {
  if (!tls.client_certificate) return Done{};
  auto key = load_certified_key(*tls.client_certificate);
  if (!key) return key.error();
  std::vector<CRYPTO_BUFFER*> chain;
  for (const auto& buffer : key.value()->chain) chain.push_back(buffer.get());
  if (!SSL_CTX_set_chain_and_key(ctx, chain.data(), chain.size(), key.value()->private_key.get(),
                                 nullptr)) {
    return TlsError{tls.client_certificate->path,
                    "BoringSSL refused the client certificate: " + take_boringssl_errors()};
  }
  return Done{};
}

}  // namespace

TlsResult<std::shared_ptr<const ClientTlsContext>> ClientTlsContext::create(
    const config::PoolTls& tls) {
  std::shared_ptr<ClientTlsContext> context(new ClientTlsContext());
  context->ctx_.reset(SSL_CTX_new(TLS_method()));
  SSL_CTX* ctx = context->ctx_.get();
  if (ctx == nullptr) return TlsError{tls.path, "SSL_CTX_new: " + take_boringssl_errors()};

  if (auto s = apply_versions_and_ciphers(ctx, tls.versions, tls.ciphers, tls.path, &context->warnings_); !s) {
    return s.error();
  }
  if (!tls.alpn_protocols.empty()) {
    auto wire = alpn_wire(tls.alpn_protocols, tls.path + "/alpn_protocols");
    if (!wire) return wire.error();
    if (SSL_CTX_set_alpn_protos(ctx, wire->data(), wire->size()) != 0) {  // 0 is success
      return TlsError{tls.path + "/alpn_protocols", "BoringSSL refused the ALPN list"};
    }
  }
  if (auto s = configure_client_certificate(ctx, tls); !s) return s.error();

  if (!tls.ca_pem.empty()) {
    auto trust = load_trust_anchors(tls.ca_pem, tls.path + "/ca_tls_container", tls.crl_pem,
                                    tls.path + "/crl_container");
    if (!trust) return trust.error();
    SSL_CTX_set_cert_store(ctx, trust->store.release());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    context->verifies_ = true;
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }

  auto* cache = new SessionCache();
  if (!SSL_CTX_set_ex_data(ctx, cache_index(), cache)) {
    delete cache;
    return TlsError{tls.path, "SSL_CTX_set_ex_data failed"};
  }
  // Sessions live in SessionCache, keyed by member; BoringSSL's own cache stays off.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
  SSL_CTX_sess_set_new_cb(ctx, &on_new_session);
  clear_boringssl_errors();
  return std::shared_ptr<const ClientTlsContext>(std::move(context));
}

bssl::UniquePtr<SSL> ClientTlsContext::new_connection(const std::string& server_name,
                                                      const std::string& session_key) const {
  bssl::UniquePtr<SSL> ssl(SSL_new(ctx_.get()));
  if (!ssl) return nullptr;
  SSL_set_connect_state(ssl.get());
  if (!server_name.empty()) {
    const bool ip = is_ip_literal(server_name);
    if (!ip && !SSL_set_tlsext_host_name(ssl.get(), server_name.c_str())) return nullptr;
    if (verifies_) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
      const int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, server_name.c_str())
                        : X509_VERIFY_PARAM_set1_host(param, server_name.c_str(),
                                                      server_name.size());
      if (!ok) return nullptr;
    }
  }
  if (!session_key.empty()) {
    auto* cache = static_cast<SessionCache*>(SSL_CTX_get_ex_data(ctx_.get(), cache_index()));
    if (auto session = cache->take(session_key)) SSL_set_session(ssl.get(), session.get());
    auto* key = new std::string(session_key);
    if (!SSL_set_ex_data(ssl.get(), session_key_index(), key)) delete key;
  }
  return ssl;
}

}  // namespace pharos::tls
