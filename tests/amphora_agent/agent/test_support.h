// Shared by the agent tests: certificates made at test time with the OpenSSL API, a raw
// HTTP(S) client that can present any (or no) client certificate, free ports, polling.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <sys/types.h>

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

// A child process the test owns: started with fork/exec, killed (SIGKILL) and reaped by its pid
// in kill() or the destructor, so no test leaves a process behind.
class ChildProcess {
 public:
  ChildProcess() = default;
  explicit ChildProcess(const std::vector<std::string>& argv) { start(argv); }
  ~ChildProcess() { kill(); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  void start(const std::vector<std::string>& argv);
  void kill();
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = 0;
};

// pharos-demo-backend on 127.0.0.1:port named `name` (answers /, /status/N, /delay/MS ...).
class DemoBackend {
 public:
  DemoBackend(uint16_t port, std::string name) : port_(port), name_(std::move(name)) { start(); }
  void start();  // returns once the port accepts connections
  void stop() { process_.kill(); }
  uint16_t port() const { return port_; }

 private:
  uint16_t port_;
  std::string name_;
  ChildProcess process_;
};

// A TCP socket bound and listening on 127.0.0.1:port without SO_REUSEPORT: an engine listener
// on the same port cannot bind, a real refusal of apply_config.
class PortHolder {
 public:
  PortHolder();
  ~PortHolder();
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// True once 127.0.0.1:port accepts a TCP connection.
bool port_accepts(uint16_t port);

// Polls cond every 10 ms until it holds or the deadline passes.
bool eventually(const std::function<bool()>& cond,
                std::chrono::milliseconds deadline = std::chrono::seconds(10));

}  // namespace pharos::agent::testing
