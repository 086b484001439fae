// TCP, SCTP, TLS-HELLO, HTTP and HTTPS checks: connect, then optionally a TLS handshake, then
// optionally one HTTP request whose status line decides.
#include <netinet/in.h>
#include <openssl/err.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <string>

#include "amphora_agent/health/http_check.h"
#include "amphora_agent/health/probe_base.h"

namespace pharos::health {
namespace {

constexpr size_t kMaxStatusLineBytes = 8192;

std::string ssl_error_text() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "connection closed";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

class StreamProbe final : public ProbeBase {
 public:
  using ProbeBase::ProbeBase;
  ~StreamProbe() override { close_transport(); }

  // Any record header from the peer with a TLS content type and major version 3 means a TLS
  // server answered our ClientHello, even if it then refuses the handshake (TLS-HELLO UP).
  static void on_tls_message(int write_p, int, int content_type, const void* buf, size_t len, SSL*,
                             void* arg) {
    if (write_p || content_type != SSL3_RT_HEADER || len < 5) return;
    const auto* h = static_cast<const unsigned char*>(buf);
    if (h[0] >= 20 && h[0] <= 24 && h[1] == 3) static_cast<StreamProbe*>(arg)->peer_sent_tls_record_ = true;
  }

 protected:
  void begin() override {
    phase_ = "connecting";
    int protocol = spec_.member.monitor.type == MonitorType::kSctp ? IPPROTO_SCTP : 0;
    if (!open_socket(spec_.target.ss_family, SOCK_STREAM, protocol)) return;
    if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&spec_.target), spec_.target_len) == 0) {
      connected();
    } else if (errno == EINPROGRESS) {
      wait_writable();
    } else {
      fail("connect to " + spec_.target_text + ": " + errno_text(errno));
    }
  }

  void on_ready() override {
    switch (step_) {
      case Step::kConnect: {
        int err = 0;
        socklen_t len = sizeof(err);
        if (::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        if (err != 0) {
          fail("connect to " + spec_.target_text + ": " + errno_text(err));
          return;
        }
        connected();
        return;
      }
      case Step::kHandshake: handshake(); return;
      case Step::kSend: send_request(); return;
      case Step::kReceive: receive_response(); return;
    }
  }

  void close_transport() override {
    if (fd_) {
      // Reset instead of FIN: checks must not leave TIME_WAIT sockets behind (as HAProxy does).
      linger l{1, 0};
      ::setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    }
    ssl_.reset();
  }

 private:
  enum class Step { kConnect, kHandshake, kSend, kReceive };

  MonitorType type() const { return spec_.member.monitor.type; }

  void connected() {
    switch (type()) {
      case MonitorType::kTcp: succeed("connected to " + spec_.target_text); return;
      case MonitorType::kSctp: succeed("SCTP association with " + spec_.target_text); return;
      case MonitorType::kHttp: start_http(); return;
      case MonitorType::kHttps:
      case MonitorType::kTlsHello: start_tls(); return;
      default: std::abort();
    }
  }

  void start_tls() {
    step_ = Step::kHandshake;
    phase_ = "in the TLS handshake";
    ssl_.reset(SSL_new(env_.ssl_ctx));
    if (!ssl_ || SSL_set_fd(ssl_.get(), fd_.get()) != 1) {
      fail("TLS setup: " + ssl_error_text());
      return;
    }
    SSL_set_connect_state(ssl_.get());
    if (!spec_.sni.empty()) SSL_set_tlsext_host_name(ssl_.get(), spec_.sni.c_str());
    if (type() == MonitorType::kTlsHello) {
      SSL_set_msg_callback(ssl_.get(), &StreamProbe::on_tls_message);
      SSL_set_msg_callback_arg(ssl_.get(), this);
    }
    handshake();
  }

  void handshake() {
    ERR_clear_error();
    int rc = SSL_do_handshake(ssl_.get());
    if (rc == 1) {
      if (type() == MonitorType::kTlsHello) {
        succeed(std::string("TLS handshake completed (") + SSL_get_version(ssl_.get()) + ")");
      } else {
        start_http();
      }
      return;
    }
    if (wait_for_tls(rc)) return;
    if (type() == MonitorType::kTlsHello && peer_sent_tls_record_) {
      ERR_clear_error();
      succeed("server answered the ClientHello with a TLS record");
      return;
    }
    fail("TLS handshake with " + spec_.target_text + ": " + ssl_error_text());
  }

  // True when OpenSSL only needs the socket to become ready again.
  bool wait_for_tls(int rc) {
    switch (SSL_get_error(ssl_.get(), rc)) {
      case SSL_ERROR_WANT_READ: wait_readable(); return true;
      case SSL_ERROR_WANT_WRITE: wait_writable(); return true;
      default: return false;
    }
  }

  void start_http() {
    step_ = Step::kSend;
    phase_ = "sending the HTTP request";
    send_request();
  }

  void send_request() {
    const std::string& request = spec_.http_request;
    while (sent_ < request.size()) {
      const char* data = request.data() + sent_;
      size_t left = request.size() - sent_;
      if (ssl_) {
        ERR_clear_error();
        int rc = SSL_write(ssl_.get(), data, static_cast<int>(left));
        if (rc <= 0) {
          if (!wait_for_tls(rc)) fail("TLS write: " + ssl_error_text());
          return;
        }
        sent_ += static_cast<size_t>(rc);
      } else {
        ssize_t rc = ::send(fd_.get(), data, left, MSG_NOSIGNAL);
        if (rc < 0) {
          if (errno == EINTR) continue;
          if (errno == EAGAIN || errno == EWOULDBLOCK) {
            wait_writable();
          } else {
            fail("send: " + errno_text(errno));
          }
          return;
        }
        sent_ += static_cast<size_t>(rc);
      }
    }
    step_ = Step::kReceive;
    phase_ = "waiting for the HTTP status line";
    receive_response();
  }

  void receive_response() {
    char buf[2048];
    for (;;) {
      size_t room = std::min(sizeof(buf), kMaxStatusLineBytes + 1 - received_.size());
      bool eof = false;
      if (ssl_) {
        ERR_clear_error();
        int rc = SSL_read(ssl_.get(), buf, static_cast<int>(room));
        if (rc <= 0) {
          int err = SSL_get_error(ssl_.get(), rc);
          if (err == SSL_ERROR_ZERO_RETURN) {
            eof = true;
          } else if (wait_for_tls(rc)) {
            return;
          } else {
            // A peer closing without close_notify is an ordinary EOF for an HTTP check.
            eof = true;
          }
        } else {
          received_.append(buf, static_cast<size_t>(rc));
        }
      } else {
        ssize_t rc = ::recv(fd_.get(), buf, room, 0);
        if (rc < 0) {
          if (errno == EINTR) continue;
          if (errno == EAGAIN || errno == EWOULDBLOCK) {
            wait_readable();
            return;
          }
          fail("recv: " + errno_text(errno));
          return;
        }
        if (rc == 0) eof = true;
        received_.append(buf, static_cast<size_t>(rc));
      }
      int code = 0;
      switch (parse_http_status_line(received_, &code)) {
        case StatusLineParse::kComplete:
          if (spec_.expected_codes->contains(code)) {
            succeed("HTTP status " + std::to_string(code));
          } else {
            fail("HTTP status " + std::to_string(code) + " not in expected codes " +
                 spec_.member.monitor.expected_codes);
          }
          return;
        case StatusLineParse::kMalformed: fail("malformed HTTP status line"); return;
        case StatusLineParse::kNeedMore:
          if (eof) {
            fail("connection closed before the HTTP status line");
            return;
          }
          break;
      }
    }
  }

  Step step_ = Step::kConnect;
  SslPtr ssl_;
  size_t sent_ = 0;
  std::string received_;
  bool peer_sent_tls_record_ = false;
};

}  // namespace

std::unique_ptr<ProbeBase> make_stream_probe(const ProbeEnv& env, std::shared_ptr<const CheckSpec> spec,
                                             ProbeListener* l) {
  return std::make_unique<StreamProbe>(env, std::move(spec), l);
}

}  // namespace pharos::health
