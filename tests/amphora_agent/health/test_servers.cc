#include "tests/amphora_agent/health/test_servers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace pharos::health::testing {
namespace {

sockaddr_in loopback(uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sa;
}

uint16_t bound_port(int fd) {
  sockaddr_in sa{};
  socklen_t len = sizeof(sa);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  return ntohs(sa.sin_port);
}

}  // namespace

ServerTlsContext make_self_signed_server_context() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  if (!key || !cert) throw std::runtime_error("key or certificate allocation failed");
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1,
                             -1, 0);
  X509_set_issuer_name(cert, name);
  if (X509_sign(cert, key, EVP_sha256()) == 0) throw std::runtime_error("X509_sign failed");
  ServerTlsContext ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx || SSL_CTX_use_certificate(ctx.get(), cert) != 1 || SSL_CTX_use_PrivateKey(ctx.get(), key) != 1) {
    throw std::runtime_error("server TLS context setup failed");
  }
  X509_free(cert);
  EVP_PKEY_free(key);
  return ctx;
}

bool TestServer::start(uint16_t port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in sa = loopback(port);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 || ::listen(listen_fd_, 128) != 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
    return false;
  }
  port_ = bound_port(listen_fd_);
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
  thread_ = std::thread([this] { serve(); });
  return true;
}

void TestServer::stop() {
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  (void)!::write(stop_fd_, &one, sizeof(one));
  thread_.join();
  ::close(listen_fd_);
  ::close(stop_fd_);
  listen_fd_ = stop_fd_ = -1;
}

void TestServer::serve() {
  // SSL_write after the checker reset the connection must not SIGPIPE the test binary.
  sigset_t pipe_only;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, nullptr);
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents) return;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    handle(fd);
    ::close(fd);
  }
}

void TestServer::handle(int fd) {
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  SSL* ssl = nullptr;
  if (tls_) {
    ssl = SSL_new(tls_);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) != 1) {
      SSL_free(ssl);
      return;
    }
  }
  auto read_some = [&](char* buf, int len) { return ssl ? SSL_read(ssl, buf, len) : ::recv(fd, buf, len, 0); };
  auto write_all = [&](const std::string& s) {
    if (ssl) {
      SSL_write(ssl, s.data(), static_cast<int>(s.size()));
    } else {
      (void)!::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
    }
  };
  std::string request;
  char buf[4096];
  for (;;) {
    int n = static_cast<int>(read_some(buf, sizeof(buf)));
    if (n <= 0) break;
    request.append(buf, static_cast<size_t>(n));
    if (mode_ == Mode::kRaw || request.find("\r\n\r\n") != std::string::npos) break;
  }
  if (!request.empty()) {
    requests.fetch_add(1);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      last_request_ = request;
    }
    if (mode_ == Mode::kHttp) {
      write_all("HTTP/1.1 " + std::to_string(status_code.load()) +
                " Test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    } else {
      if (!raw_reply.empty()) write_all(raw_reply);
      while (read_some(buf, sizeof(buf)) > 0) {
      }
    }
  }
  if (ssl) SSL_free(ssl);
}

UdpPort::UdpPort() {
  fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa = loopback(0);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) throw std::runtime_error("udp bind failed");
  port_ = bound_port(fd_);
}

UdpPort::~UdpPort() { ::close(fd_); }

uint16_t closed_port(int type) {
  int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  sockaddr_in sa = loopback(0);
  ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  uint16_t port = bound_port(fd);
  ::close(fd);
  return port;
}

}  // namespace pharos::health::testing
