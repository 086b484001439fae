// Shared by the agent tests: certificates made at test time with the OpenSSL API, a raw
// HTTP(S) client that can present any (or no) client certificate, free ports, polling.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace pharos::agent::testing {

struct Pem {
  std::string cert;
  std::string key;
};

// A self-signed CA, and leaf certificates signed by a CA (EC P-256, valid for a day).
Pem make_ca(const std::string& common_name);
Pem make_leaf(const Pem& ca, const std::string& common_name, bool server);

void write_file(const std::string& path, const std::string& data);
std::string make_temp_dir(const std::string& prefix);
uint16_t free_tcp_port();

struct HttpResult {
  bool tls_ok = false;     // handshake finished from the client's point of view
  int status = 0;          // 0: no HTTP response at all
  std::string body;
  std::string raw;
};

struct ClientTls {
  bool enabled = true;
  std::string ca_pem;     // to verify the server
  std::string cert_pem;   // client certificate; empty: none
  std::string key_pem;
  int max_version = 0;    // e.g. TLS1_1_VERSION to test refusal; 0: library default
};

// One request with Connection: close; reads until EOF (bounded by 10 s).
HttpResult http_request(uint16_t port, const std::string& method, const std::string& path,
                        const std::string& body, const std::string& content_type,
                        const ClientTls& tls, const std::string& extra_headers = "");

// Polls cond every 10 ms until it holds or the deadline passes.
bool eventually(const std::function<bool()>& cond,
                std::chrono::milliseconds deadline = std::chrono::seconds(10));

}  // namespace pharos::agent::testing
