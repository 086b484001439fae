// The listener's L7 policies applied to one request, for both sessions: the L7 view
// (l7::RequestFacts) of HTTP/1's parsed head (string_view fields) or HTTP/2's http::RequestHead
// (h2 may split Cookie into several fields; each is searched), and what the decision means for
// the session. The client certificate comes from the connection, described once.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "engine/l7/cookie.h"
#include "engine/l7/policy_table.h"
#include "engine/l7/request_facts.h"
#include "engine/proxy/header_rules.h"
#include "engine/proxy/runtime_config.h"
#include "engine/records/transaction_record.h"
#include "engine/tls/client_certificate_info.h"

namespace pharos::proxy {

template <typename Head>
class L7RequestFacts final : public l7::RequestFacts {
 public:
  // `certificate`: null when the connection has no TLS or no rule looks at it.
  L7RequestFacts(const Head& head, std::string_view host, std::string_view target,
                 const tls::ClientCertificateInfo* certificate)
      : head_(head), host_(host), target_(target), certificate_(certificate) {}

  std::string_view host() const override { return host_; }
  std::string_view target() const override { return target_; }
  std::optional<std::string_view> header(std::string_view name) const override {
    for (const auto& h : head_.headers) {
      if (iequals(h.name, name)) return std::string_view(h.value);
    }
    return std::nullopt;
  }
  std::optional<std::string_view> cookie(std::string_view name) const override {
    for (const auto& h : head_.headers) {
      if (!iequals(h.name, "cookie")) continue;
      if (auto value = l7::find_cookie(h.value, name)) return value;
    }
    return std::nullopt;
  }
  bool has_client_certificate() const override {
    return certificate_ != nullptr && certificate_->has_certificate;
  }
  long client_verify_result() const override {
    return certificate_ != nullptr ? certificate_->verify_result : 0;
  }
  std::optional<std::string_view> client_subject_field(std::string_view key) const override {
    if (certificate_ == nullptr || !certificate_->has_certificate) return std::nullopt;
    return certificate_->subject_field(key);
  }

 private:
  const Head& head_;
  std::string_view host_;
  std::string_view target_;
  const tls::ClientCertificateInfo* certificate_;
};

// A response the engine gives itself instead of asking a member (status 0: none).
struct LocalAnswer {
  uint16_t status = 0;
  records::Termination why = records::Termination::kNormal;
  std::string location;  // a redirect's Location; empty: none
};

// The pool index for a request on `listener` (its default pool unless a REDIRECT_TO_POOL policy
// matches; -1 when there is none), or -1 with `*local` set when a REJECT or redirect policy
// answers it. `certificate()` gives the connection's tls::ClientCertificateInfo, asked for only
// when a rule looks at it. Listeners without policies return at once.
template <typename Head, typename CertificateFn>
int route_request(const ListenerRuntime& listener, const Head& head, std::string_view host,
                  std::string_view target, CertificateFn certificate, LocalAnswer* local) {
  if (!listener.l7) return listener.default_pool;
  const l7::PolicyTable& table = *listener.l7;
  const tls::ClientCertificateInfo* described = table.uses_client_certificate() ? certificate() : nullptr;
  l7::Decision decision = table.evaluate(L7RequestFacts<Head>(head, host, target, described));
  switch (decision.kind) {
    case l7::Decision::Kind::kReject:
      local->status = decision.status;
      local->why = records::Termination::kDenied;
      return -1;
    case l7::Decision::Kind::kRedirect:
      local->status = decision.status;
      local->location = std::move(decision.location);
      return -1;
    case l7::Decision::Kind::kPool: return decision.pool_index;
    case l7::Decision::Kind::kDefault: break;
  }
  return listener.default_pool;
}

}  // namespace pharos::proxy
