// Small blocking servers on 127.0.0.1 for the health checker tests: HTTP (optionally over TLS
// with a self-signed certificate made at test time), a raw responder, and UDP ports.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace pharos::health::testing {

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using ServerTlsContext = std::unique_ptr<SSL_CTX, SslCtxFree>;

// A TLS server context with a fresh self-signed P-256 certificate for CN=localhost.
ServerTlsContext make_self_signed_server_context();

class TestServer {
 public:
  enum class Mode {
    kHttp,  // reads a request head, answers status_code with an empty body, closes
    kRaw,   // reads whatever arrives first, answers raw_reply (may be empty), then waits for close
  };

  explicit TestServer(Mode mode, SSL_CTX* tls = nullptr) : mode_(mode), tls_(tls) {}
  ~TestServer() { stop(); }

  // Listens on 127.0.0.1:port (0 picks one) and serves on a thread. False if bind fails.
  bool start(uint16_t port = 0);
  // Closes the listener (connects are then refused) and joins the thread.
  void stop();
  uint16_t port() const { return port_; }

  std::atomic<int> status_code{200};
  std::string raw_reply;  // set before start()
  std::atomic<int> requests{0};
  std::string last_request() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return last_request_;
  }

 private:
  void serve();
  void handle(int fd);

  Mode mode_;
  SSL_CTX* tls_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::string last_request_;
};

// A bound UDP socket on 127.0.0.1 (an open port); closed on destruction.
class UdpPort {
 public:
  UdpPort();
  ~UdpPort();
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// A 127.0.0.1 port number with nothing listening (TCP and UDP), found by binding and closing.
uint16_t closed_port(int type);

}  // namespace pharos::health::testing
