// An HTTP(S) listener (cpprestsdk) that turns requests into ApiRequests, dispatches them
// through a Router and writes ApiResponses. HTTPS here is always mutual TLS: TLS 1.2+, the
// agent's certificate, and a client certificate signed by the configured CA is required.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "amphora_agent/agent/api/router.h"

namespace web::http::experimental::listener {
class http_listener;
}

namespace pharos::agent::api {

struct TlsMaterial {
  std::string cert_chain_pem;  // the agent's certificate, then any intermediates
  std::string key_pem;
  std::string ca_pem;          // CA(s) that sign accepted client certificates
};

// Reads the three files; "" or a message naming the unreadable file.
std::string load_tls_material(const std::string& cert_file, const std::string& key_file,
                              const std::string& ca_file, TlsMaterial& out);

struct HttpServerOptions {
  std::string host;
  uint16_t port = 0;
  std::optional<TlsMaterial> tls;  // set: https with mutual TLS; unset: plain http
  uint64_t max_body_bytes = 4 * 1024 * 1024;
};

class HttpServer {
 public:
  HttpServer(Router router, HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Checks the TLS material, binds and starts serving. "" or why it could not.
  std::string open();
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pharos::agent::api
