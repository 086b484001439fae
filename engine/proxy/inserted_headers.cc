#include "engine/proxy/inserted_headers.h"

#include "engine/proxy/header_rules.h"
#include "engine/tls/client_certificate_info.h"

namespace pharos::proxy {
namespace {

// HAProxy's %{+Q}: the value in double quotes.
std::string quoted(const std::string& value) { return "\"" + value + "\""; }

}  // namespace

HeaderList client_certificate_headers(const config::InsertHeaders& in, const SSL* ssl) {
  HeaderList out;
  if (ssl == nullptr || !in.any_client_certificate_header()) return out;
  const tls::ClientCertificateInfo info = tls::client_certificate_info(ssl);
  if (in.x_ssl_client_verify) out.emplace_back("X-SSL-Client-Verify", std::to_string(info.verify_result));
  if (in.x_ssl_client_has_cert) out.emplace_back("X-SSL-Client-Has-Cert", info.has_certificate ? "1" : "0");
  if (!info.has_certificate) return out;  // HAProxy sends the rest empty; absent is clearer
  if (in.x_ssl_client_dn) out.emplace_back("X-SSL-Client-DN", quoted(info.subject_dn));
  if (in.x_ssl_client_cn) out.emplace_back("X-SSL-Client-CN", quoted(info.subject_cn));
  if (in.x_ssl_issuer) out.emplace_back("X-SSL-Issuer", quoted(info.issuer_dn));
  if (in.x_ssl_client_sha1) out.emplace_back("X-SSL-Client-SHA1", quoted(info.sha1_hex));
  if (in.x_ssl_client_not_before) out.emplace_back("X-SSL-Client-Not-Before", quoted(info.not_before));
  if (in.x_ssl_client_not_after) out.emplace_back("X-SSL-Client-Not-After", quoted(info.not_after));
  return out;
}

bool replaced_by_inserted_header(const config::InsertHeaders& in, std::string_view name) {
  const std::pair<const char*, bool> headers[] = {
      {"X-Forwarded-Port", in.x_forwarded_port},
      {"X-Forwarded-Proto", in.x_forwarded_proto},
      {"X-SSL-Client-Verify", in.x_ssl_client_verify},
      {"X-SSL-Client-Has-Cert", in.x_ssl_client_has_cert},
      {"X-SSL-Client-DN", in.x_ssl_client_dn},
      {"X-SSL-Client-CN", in.x_ssl_client_cn},
      {"X-SSL-Issuer", in.x_ssl_issuer},
      {"X-SSL-Client-SHA1", in.x_ssl_client_sha1},
      {"X-SSL-Client-Not-Before", in.x_ssl_client_not_before},
      {"X-SSL-Client-Not-After", in.x_ssl_client_not_after},
  };
  for (const auto& [header, on] : headers) {
    if (on && iequals(name, header)) return true;
  }
  return false;
}

void append_inserted_headers(std::string* out, const ListenerRuntime& listener,
                             std::string_view client_address, const HeaderList& certificate_headers) {
  const auto& inserts = listener.config->insert_headers;
  if (inserts.x_forwarded_for) append_header(out, "X-Forwarded-For", client_address);
  if (inserts.x_forwarded_port) append_header(out, "X-Forwarded-Port", listener.port_text);
  if (inserts.x_forwarded_proto) {
    bool tls = listener.config->protocol == config::ListenerProtocol::kTerminatedHttps;
    append_header(out, "X-Forwarded-Proto", tls ? "https" : "http");
  }
  for (const auto& [name, value] : certificate_headers) append_header(out, name, value);
}

}  // namespace pharos::proxy
