// The TLS transport against BoringSSL peers on real sockets, and against itself across two
// event loops. Peers that block run on their own thread with socket timeouts, so a broken
// transport fails a test instead of hanging it; every loop run has a deadline.
#include "engine/tls/tls_transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/net/write_coalescer.h"
#include "tests/engine/tls/test_pki.h"

namespace pharos::tls {
namespace {

using test::Credential;
using test::test_pki;

constexpr int kPeerTimeoutS = 20;

// As in pharos-engine's main: a write to a socket the peer closed must not kill the process.
const bool kSigpipeIgnored = [] {
  signal(SIGPIPE, SIG_IGN);
  return true;
}();

std::string take_errors() {
  std::string text;
  while (uint32_t e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!text.empty()) text += "; ";
    text += buf;
  }
  return text;
}

std::vector<uint8_t> pattern(size_t n, uint32_t seed) {
  std::vector<uint8_t> out(n);
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    out[i] = static_cast<uint8_t>(x);
  }
  return out;
}

// ---- BoringSSL contexts for both ends ----

void use_credential(SSL_CTX* ctx, const Credential& credential) {
  auto cert = test::load_certificate(credential.certificate_pem);
  auto key = test::load_private_key(credential.private_key_pem);
  ASSERT_EQ(SSL_CTX_use_certificate(ctx, cert.get()), 1);
  ASSERT_EQ(SSL_CTX_use_PrivateKey(ctx, key.get()), 1);
}

int select_http11(SSL*, const uint8_t** out, uint8_t* out_len, const uint8_t* in, unsigned in_len, void*) {
  static const uint8_t kHttp11[] = {'h', 't', 't', 'p', '/', '1', '.', '1'};
  for (unsigned i = 0; i < in_len;) {
    uint8_t n = in[i];
    if (i + 1 + n > in_len) break;
    if (n == sizeof(kHttp11) && memcmp(in + i + 1, kHttp11, n) == 0) {
      *out = in + i + 1;
      *out_len = n;
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + n;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

bssl::UniquePtr<SSL_CTX> server_ctx(const Credential& credential, uint16_t version) {
  bssl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_method()));
  use_credential(ctx.get(), credential);
  SSL_CTX_set_min_proto_version(ctx.get(), version);
  SSL_CTX_set_max_proto_version(ctx.get(), version);
  SSL_CTX_set_alpn_select_cb(ctx.get(), &select_http11, nullptr);
  return ctx;
}

bssl::UniquePtr<SSL_CTX> client_ctx(const Credential& trusted_ca, uint16_t version) {
  bssl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_method()));
  auto ca = test::load_certificate(trusted_ca.certificate_pem);
  X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx.get()), ca.get());
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_min_proto_version(ctx.get(), version);
  SSL_CTX_set_max_proto_version(ctx.get(), version);
  static const uint8_t kAlpn[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof(kAlpn));
  return ctx;
}

bssl::UniquePtr<SSL> client_ssl(SSL_CTX* ctx, const char* host) {
  bssl::UniquePtr<SSL> ssl(SSL_new(ctx));
  SSL_set_tlsext_host_name(ssl.get(), host);
  SSL_set1_host(ssl.get(), host);
  return ssl;
}

std::string alpn_of(const SSL* ssl) {
  const uint8_t* data = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl, &data, &len);
  return std::string(reinterpret_cast<const char*>(data), len);
}

// ---- sockets ----

struct SocketPair {
  int transport = -1;  // handed to a socket bufferevent
  int peer = -1;       // the BoringSSL peer's
  SocketPair() {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    transport = fds[0];
    peer = fds[1];
    evutil_make_socket_nonblocking(transport);
    timeval timeout{kPeerTimeoutS, 0};
    setsockopt(peer, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    setsockopt(peer, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  }
};

// A loopback listener on an ephemeral port.
struct Listener {
  int fd = -1;
  uint16_t port = 0;
  Listener() {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(fd, 16), 0);
    socklen_t len = sizeof(addr);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  ~Listener() { close(fd); }
  // Blocking accept with a deadline; -1 on timeout.
  int accept_one() const {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, kPeerTimeoutS * 1000) != 1) return -1;
    int c = accept(fd, nullptr, nullptr);
    timeval timeout{kPeerTimeoutS, 0};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    return c;
  }
  sockaddr_in address() const {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    return addr;
  }
};

// ---- an event loop with deadlines ----

class Loop {
 public:
  Loop() : base_(event_base_new()) {}
  ~Loop() {
    tls_close_lingering(base_.get());
    base_.reset();
  }
  event_base* base() const { return base_.get(); }

  // Runs the loop until `done` holds (checked every 2 ms) or `timeout_ms` passes.
  bool run_until(const std::function<bool()>& done, int timeout_ms = 20000) {
    if (done()) return true;
    struct Check {
      const std::function<bool()>* done;
      event_base* base;
      std::chrono::steady_clock::time_point deadline;
      bool result = false;
    } check{&done, base_.get(), std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms)};
    net::EventPtr timer(event_new(
        base_.get(), -1, EV_PERSIST,
        [](evutil_socket_t, short, void* arg) {
          auto* c = static_cast<Check*>(arg);
          if ((*c->done)()) {
            c->result = true;
            event_base_loopbreak(c->base);
          } else if (std::chrono::steady_clock::now() > c->deadline) {
            event_base_loopbreak(c->base);
          }
        },
        &check));
    timeval tick{0, 2000};
    event_add(timer.get(), &tick);
    event_base_loop(base_.get(), 0);
    return check.result;
  }

 private:
  net::EventBasePtr base_;
};

net::BufferEventPtr socket_bev(event_base* base, int fd) {
  return net::BufferEventPtr(bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE));
}

// ---- a session on the TLS bufferevent: echoes with backpressure, records what happened ----

struct EchoSession {
  net::BufferEventPtr bev;
  size_t pause_above = 256 * 1024;  // output size at which reading stops
  bool echo = true;
  bool free_on_end = true;
  bool free_in_first_read = false;
  bool paused = false;
  bool handshake_seen = false;
  std::string alpn;
  int fd_at_handshake = -1;
  size_t received = 0;
  size_t max_input = 0;
  std::string data;  // when !echo
  short end_events = 0;
  bool ended = false;
  bool close_notify = false;
  bool handshake_failed = false;
  std::string reason;
  int connected_events = 0;

  void attach() {
    bufferevent_setcb(bev.get(), &EchoSession::on_read, &EchoSession::on_write, &EchoSession::on_event, this);
    bufferevent_setwatermark(bev.get(), EV_READ, 0, 64 * 1024);
    bufferevent_setwatermark(bev.get(), EV_WRITE, 64 * 1024, 0);
    bufferevent_enable(bev.get(), EV_READ | EV_WRITE);
  }
  TlsTransportOptions options() {
    TlsTransportOptions o;
    o.on_handshake_done = [this](bufferevent* b) {
      handshake_seen = true;
      alpn = alpn_of(tls_ssl(b));
      fd_at_handshake = static_cast<int>(bufferevent_getfd(b));
    };
    return o;
  }
  void pump() {
    evbuffer* in = bufferevent_get_input(bev.get());
    max_input = std::max(max_input, evbuffer_get_length(in));
    received += evbuffer_get_length(in);
    if (echo) {
      evbuffer_add_buffer(bufferevent_get_output(bev.get()), in);
    } else {
      size_t n = evbuffer_get_length(in);
      data.append(reinterpret_cast<const char*>(evbuffer_pullup(in, -1)), n);
      evbuffer_drain(in, n);
    }
    if (evbuffer_get_length(bufferevent_get_output(bev.get())) >= pause_above) {
      bufferevent_disable(bev.get(), EV_READ);
      paused = true;
    }
  }
  static void on_read(bufferevent*, void* arg) {
    auto* self = static_cast<EchoSession*>(arg);
    if (self->free_in_first_read) {
      self->received += evbuffer_get_length(bufferevent_get_input(self->bev.get()));
      self->ended = true;
      self->bev.reset();  // freed inside its own read callback
      return;
    }
    self->pump();
  }
  static void on_write(bufferevent*, void* arg) {
    auto* self = static_cast<EchoSession*>(arg);
    if (self->paused) {
      self->paused = false;
      bufferevent_enable(self->bev.get(), EV_READ);
      self->pump();
    }
  }
  static void on_event(bufferevent* b, short events, void* arg) {
    auto* self = static_cast<EchoSession*>(arg);
    if (events & BEV_EVENT_CONNECTED) {
      ++self->connected_events;
      return;
    }
    if (evbuffer_get_length(bufferevent_get_input(b)) > 0) self->pump();
    self->end_events = events;
    self->ended = true;
    if (const TlsState* state = tls_state(b)) {
      self->close_notify = state->close_notify_received;
      self->handshake_failed = state->handshake_failed;
      self->reason = state->failure_reason;
    }
    if (self->free_on_end) self->bev.reset();
  }
};

// ---- BoringSSL peers on their own thread ----

struct PeerResult {
  bool handshake_ok = false;
  std::string error;
  std::string alpn;
  std::string server_name;
  uint16_t version = 0;
  std::string received;
  bool got_close_notify = false;
  bool data_matches = false;
};

// Blocking client: handshake, send `message`, read `expect` bytes back, then close as told.
enum class ClientClose { kCloseNotify, kTruncate };
PeerResult run_blocking_client(int fd, SSL_CTX* ctx, const std::string& message, size_t expect, ClientClose how) {
  PeerResult r;
  auto ssl = client_ssl(ctx, "www.example.com");
  SSL_set_fd(ssl.get(), fd);
  if (SSL_connect(ssl.get()) != 1) {
    r.error = take_errors();
    close(fd);
    return r;
  }
  r.handshake_ok = true;
  r.version = SSL_version(ssl.get());
  r.alpn = alpn_of(ssl.get());
  if (!message.empty() && SSL_write(ssl.get(), message.data(), static_cast<int>(message.size())) <= 0) {
    r.error = "write: " + take_errors();
  }
  char buf[16384];
  while (r.received.size() < expect) {
    int n = SSL_read(ssl.get(), buf, sizeof(buf));
    if (n <= 0) break;
    r.received.append(buf, static_cast<size_t>(n));
  }
  if (how == ClientClose::kCloseNotify) {
    SSL_shutdown(ssl.get());
    // The transport answers our close_notify with its own when the session frees it.
    int n = SSL_read(ssl.get(), buf, sizeof(buf));
    r.got_close_notify = n == 0 && SSL_get_error(ssl.get(), n) == SSL_ERROR_ZERO_RETURN;
  }
  close(fd);
  return r;
}

// Non-blocking client that writes and reads `payload` at the same time (needed to measure
// backpressure: a client that only writes would deadlock against an echo that stops reading).
PeerResult run_streaming_client(int fd, SSL_CTX* ctx, const std::vector<uint8_t>& payload) {
  PeerResult r;
  auto ssl = client_ssl(ctx, "www.example.com");
  SSL_set_mode(ssl.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  SSL_set_fd(ssl.get(), fd);
  SSL_set_connect_state(ssl.get());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kPeerTimeoutS);
  auto wait = [&](int error) {
    pollfd p{fd, static_cast<short>(error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN), 0};
    poll(&p, 1, 50);
    return std::chrono::steady_clock::now() < deadline;
  };
  for (;;) {
    int rc = SSL_do_handshake(ssl.get());
    if (rc == 1) break;
    int error = SSL_get_error(ssl.get(), rc);
    if ((error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) || !wait(error)) {
      r.error = "handshake: " + take_errors();
      close(fd);
      return r;
    }
  }
  r.handshake_ok = true;
  size_t sent = 0;
  std::vector<uint8_t> received;
  received.reserve(payload.size());
  std::vector<uint8_t> buf(65536);
  while (received.size() < payload.size() && std::chrono::steady_clock::now() < deadline) {
    bool progress = false;
    if (sent < payload.size()) {
      int n = SSL_write(ssl.get(), payload.data() + sent, static_cast<int>(std::min<size_t>(payload.size() - sent, 65536)));
      if (n > 0) {
        sent += static_cast<size_t>(n);
        progress = true;
      }
    }
    int n = SSL_read(ssl.get(), buf.data(), static_cast<int>(buf.size()));
    if (n > 0) {
      received.insert(received.end(), buf.begin(), buf.begin() + n);
      progress = true;
    } else {
      int error = SSL_get_error(ssl.get(), n);
      if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
        r.error = "read: " + take_errors();
        break;
      }
    }
    if (!progress) {
      pollfd p{fd, static_cast<short>(POLLIN | (sent < payload.size() ? POLLOUT : 0)), 0};
      poll(&p, 1, 50);
    }
  }
  r.data_matches = received == payload;
  r.received = std::to_string(received.size());
  SSL_shutdown(ssl.get());
  close(fd);
  return r;
}

// ---- the server-side setup most tests share ----

// Contexts for `version` (the server's on `credential`, the client's trusting `trusted_ca`), a
// loop, and a socket pair whose transport end server_transport() wraps.
struct ServerSetup {
  explicit ServerSetup(uint16_t version, const Credential& credential = test_pki().server_ecdsa,
                       const Credential& trusted_ca = test_pki().ca)
      : sctx(server_ctx(credential, version)), cctx(client_ctx(trusted_ca, version)) {}

  // A server transport on sockets.transport; `ssl` defaults to a fresh one from sctx.
  net::BufferEventPtr server_transport(TlsTransportOptions options = {}, bssl::UniquePtr<SSL> ssl = nullptr) {
    if (!ssl) ssl.reset(SSL_new(sctx.get()));
    return make_tls_bufferevent(loop.base(), socket_bev(loop.base(), sockets.transport), std::move(ssl),
                                TlsRole::kServer, std::move(options));
  }

  // run_blocking_client on the peer end, trusting cctx.
  PeerResult run_client(const std::string& message, size_t expect, ClientClose how) {
    return run_blocking_client(sockets.peer, cctx.get(), message, expect, how);
  }

  // A client on the peer end that completes the handshake, then reads nothing until `release`
  // and closes.
  void handshake_then_wait(const std::atomic<bool>& release) {
    auto ssl = client_ssl(cctx.get(), "www.example.com");
    SSL_set_fd(ssl.get(), sockets.peer);
    SSL_connect(ssl.get());
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    close(sockets.peer);
  }

  bssl::UniquePtr<SSL_CTX> sctx;
  bssl::UniquePtr<SSL_CTX> cctx;
  Loop loop;
  SocketPair sockets;
};

// The same with the worker's WriteCoalescer on the loop: with encrypt_at_flush it adopts the
// transport, as a worker does.
struct CoalescedServerSetup : ServerSetup {
  using ServerSetup::ServerSetup;

  net::BufferEventPtr coalesced_transport(bool encrypt_at_flush, bssl::UniquePtr<SSL> ssl = nullptr) {
    TlsTransportOptions options;
    options.encrypt_at_flush = encrypt_at_flush;
    net::BufferEventPtr bev = server_transport(std::move(options), std::move(ssl));
    if (encrypt_at_flush) coalescer.adopt(bev.get());
    return bev;
  }

  net::WriteCoalescer coalescer{loop.base()};
};

// Streams `payload` from a client on the peer end through `session` (attached to a transport of
// `setup`) and back, and checks that all of it came back whole.
void expect_streamed_echo(ServerSetup& setup, EchoSession& session, const std::vector<uint8_t>& payload) {
  PeerResult peer;
  std::thread client([&] { peer = run_streaming_client(setup.sockets.peer, setup.cctx.get(), payload); });
  EXPECT_TRUE(setup.loop.run_until([&] { return session.ended; }, 60000));
  client.join();
  EXPECT_TRUE(peer.handshake_ok) << peer.error;
  EXPECT_TRUE(peer.data_matches) << "received " << peer.received << " bytes; " << peer.error;
  EXPECT_EQ(session.received, payload.size());
}

// ---- server side: the transport accepts a BoringSSL client ----

struct ServerCase {
  uint16_t version;
  test::KeyKind key;
};

class TlsServerTransport : public ::testing::TestWithParam<ServerCase> {};

TEST_P(TlsServerTransport, HandshakeEchoAndCloseNotifyBothWays) {
  const auto& pki = test_pki();
  const ServerCase& c = GetParam();
  ServerSetup setup(c.version, c.key == test::KeyKind::kRsa ? pki.server_rsa : pki.server_ecdsa);
  EchoSession session;
  session.bev = setup.server_transport(session.options());
  ASSERT_TRUE(session.bev);
  EXPECT_NE(tls_ssl(session.bev.get()), nullptr);
  EXPECT_FALSE(tls_handshake_done(session.bev.get()));
  EXPECT_EQ(bufferevent_getfd(session.bev.get()), setup.sockets.transport);
  session.attach();

  const std::string message = "hello over tls";
  PeerResult peer;
  std::thread client([&] { peer = setup.run_client(message, message.size(), ClientClose::kCloseNotify); });
  EXPECT_TRUE(setup.loop.run_until([&] { return session.ended && tls_lingering_count(setup.loop.base()) == 0; }));
  client.join();

  EXPECT_TRUE(peer.handshake_ok) << peer.error;
  EXPECT_EQ(peer.version, c.version);
  EXPECT_EQ(peer.alpn, "http/1.1");
  EXPECT_EQ(peer.received, message);
  EXPECT_TRUE(peer.got_close_notify);
  EXPECT_TRUE(session.handshake_seen);
  EXPECT_EQ(session.alpn, "http/1.1");
  EXPECT_EQ(session.fd_at_handshake, setup.sockets.transport);
  EXPECT_EQ(session.end_events, BEV_EVENT_EOF | BEV_EVENT_READING);
  EXPECT_TRUE(session.close_notify);
  EXPECT_FALSE(session.handshake_failed);
  EXPECT_EQ(session.connected_events, 0);
}

// tls_queue_close_notify: the last reply and the close_notify are on the socket before the
// session frees its bufferevent, so they can leave in one write with nothing left for teardown.
struct LastReplySession {
  net::BufferEventPtr bev;
  bool close_notify_sent = false;
  size_t socket_bytes = 0;
  bool ended = false;

  static void on_read(bufferevent* b, void* arg) {
    auto* self = static_cast<LastReplySession*>(arg);
    evbuffer_add_buffer(bufferevent_get_output(b), bufferevent_get_input(b));
    tls_queue_close_notify(b);
    self->close_notify_sent = tls_state(b)->close_notify_sent;
    self->socket_bytes = evbuffer_get_length(bufferevent_get_output(bufferevent_get_underlying(b)));
    self->ended = true;
    self->bev.reset();
  }
  static void on_event(bufferevent*, short, void* arg) {
    auto* self = static_cast<LastReplySession*>(arg);
    self->ended = true;
    self->bev.reset();
  }
};

TEST(TlsServerTransportClose, QueueCloseNotifyPutsItOnTheSocketWithTheLastReply) {
  ServerSetup setup(TLS1_3_VERSION);
  LastReplySession session;
  session.bev = setup.server_transport();
  ASSERT_TRUE(session.bev);
  tls_queue_close_notify(session.bev.get());  // before the handshake: nothing to close yet
  EXPECT_FALSE(tls_state(session.bev.get())->close_notify_sent);
  bufferevent_setcb(session.bev.get(), &LastReplySession::on_read, nullptr, &LastReplySession::on_event, &session);

  const std::string message = "last reply";
  PeerResult peer;
  std::thread client([&] { peer = setup.run_client(message, message.size(), ClientClose::kCloseNotify); });
  EXPECT_TRUE(setup.loop.run_until([&] { return session.ended && tls_lingering_count(setup.loop.base()) == 0; }));
  client.join();

  EXPECT_TRUE(peer.handshake_ok) << peer.error;
  EXPECT_EQ(peer.received, message);
  EXPECT_TRUE(peer.got_close_notify);
  EXPECT_TRUE(session.close_notify_sent);
  EXPECT_GT(session.socket_bytes, message.size());  // the reply's record and the close_notify
  tls_queue_close_notify(nullptr);  // not a TLS bufferevent: nothing happens
}

INSTANTIATE_TEST_SUITE_P(Versions, TlsServerTransport,
                         ::testing::Values(ServerCase{TLS1_3_VERSION, test::KeyKind::kEcdsa},
                                           ServerCase{TLS1_2_VERSION, test::KeyKind::kEcdsa},
                                           ServerCase{TLS1_3_VERSION, test::KeyKind::kRsa},
                                           ServerCase{TLS1_2_VERSION, test::KeyKind::kRsa}),
                         [](const auto& info) {
                           return std::string(info.param.version == TLS1_3_VERSION ? "Tls13" : "Tls12") +
                                  (info.param.key == test::KeyKind::kRsa ? "Rsa" : "Ecdsa");
                         });

TEST(TlsTransport, EofWithoutCloseNotifyIsReportedAsTruncatedEof) {
  ServerSetup setup(TLS1_3_VERSION);
  EchoSession session;
  session.bev = setup.server_transport();
  session.attach();
  PeerResult peer;
  std::thread client([&] { peer = setup.run_client("abc", 3, ClientClose::kTruncate); });
  EXPECT_TRUE(setup.loop.run_until([&] { return session.ended; }));
  client.join();
  EXPECT_TRUE(peer.handshake_ok) << peer.error;
  EXPECT_EQ(peer.received, "abc");
  EXPECT_EQ(session.end_events, BEV_EVENT_EOF | BEV_EVENT_READING);
  EXPECT_FALSE(session.close_notify);
  EXPECT_FALSE(session.handshake_failed);
}

// The first bytes of a real ClientHello, then the client goes away.
TEST(TlsTransport, ClientDisconnectingMidHandshakeIsAFailedHandshake) {
  ServerSetup setup(TLS1_3_VERSION);
  // Capture a ClientHello through a memory BIO.
  auto ssl = client_ssl(setup.cctx.get(), "www.example.com");
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO* wbio = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl.get(), rbio, wbio);
  SSL_set_connect_state(ssl.get());
  SSL_do_handshake(ssl.get());
  const uint8_t* hello = nullptr;
  size_t hello_len = 0;
  BIO_mem_contents(wbio, &hello, &hello_len);
  ASSERT_GT(hello_len, 100u);

  EchoSession session;
  session.bev = setup.server_transport(session.options());
  session.attach();
  ASSERT_EQ(write(setup.sockets.peer, hello, hello_len / 2), static_cast<ssize_t>(hello_len / 2));
  close(setup.sockets.peer);
  EXPECT_TRUE(setup.loop.run_until([&] { return session.ended; }));
  EXPECT_TRUE(session.end_events & BEV_EVENT_ERROR);
  EXPECT_TRUE(session.handshake_failed);
  EXPECT_FALSE(session.handshake_seen);
  EXPECT_EQ(session.reason, "connection closed during the TLS handshake");
}

TEST(TlsTransport, NotTlsAtAllFailsTheHandshakeWithAReason) {
  ServerSetup setup(TLS1_3_VERSION);
  EchoSession session;
  session.bev = setup.server_transport();
  session.attach();
  const char request[] = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
  ASSERT_GT(write(setup.sockets.peer, request, sizeof(request) - 1), 0);
  EXPECT_TRUE(setup.loop.run_until([&] { return session.ended; }));
  close(setup.sockets.peer);
  EXPECT_TRUE(session.end_events & BEV_EVENT_ERROR);
  EXPECT_TRUE(session.handshake_failed);
  EXPECT_NE(session.reason.find("TLS handshake failed"), std::string::npos) << session.reason;
}

TEST(TlsTransport, ClientRefusingTheCertificateIsReportedWithTheAlert) {
  const auto& pki = test_pki();
  ServerSetup setup(TLS1_3_VERSION, pki.server_ecdsa, pki.other_ca);  // does not trust the server's CA
  EchoSession session;
  session.bev = setup.server_transport(session.options());
  session.attach();
  PeerResult peer;
  std::thread client([&] { peer = setup.run_client("x", 1, ClientClose::kCloseNotify); });
  EXPECT_TRUE(setup.loop.run_until([&] { return session.ended; }));
  client.join();
  EXPECT_FALSE(peer.handshake_ok);
  EXPECT_TRUE(session.end_events & BEV_EVENT_ERROR);
  EXPECT_TRUE(session.handshake_failed);
  EXPECT_FALSE(session.handshake_seen);
  EXPECT_NE(session.reason.find("ALERT"), std::string::npos) << session.reason;
}

TEST(TlsTransport, FiveMegabytesBothWaysWithBackpressure) {
  ServerSetup setup(TLS1_3_VERSION);
  EchoSession session;
  session.bev = setup.server_transport();
  session.attach();
  expect_streamed_echo(setup, session, pattern(5 * 1024 * 1024, 7));
  // The read high watermark (64 KiB) holds up to one socket read plus one record.
  EXPECT_LE(session.max_input, 64u * 1024 + 34u * 1024);
}

TEST(TlsTransport, NothingIsDecryptedWhileReadingIsDisabledAndNothingStallsAfter) {
  ServerSetup setup(TLS1_3_VERSION);
  EchoSession session;
  session.echo = false;
  bool disabled = false;
  TlsTransportOptions options;
  options.on_handshake_done = [&](bufferevent* b) {
    bufferevent_disable(b, EV_READ);  // the session is not ready to read
    disabled = true;
  };
  session.bev = setup.server_transport(options);
  session.attach();
  bufferevent_setwatermark(session.bev.get(), EV_READ, 0, 0);
  const std::string message(2 * 1024 * 1024, 'z');
  PeerResult peer;
  std::thread client([&] { peer = setup.run_client(message, 0, ClientClose::kCloseNotify); });
  EXPECT_TRUE(setup.loop.run_until([&] { return disabled; }));
  // Let the client push what the socket buffers take.
  setup.loop.run_until([] { return false; }, 300);
  size_t buffered = evbuffer_get_length(bufferevent_get_input(session.bev.get())) +
                    evbuffer_get_length(bufferevent_get_input(bufferevent_get_underlying(session.bev.get())));
  EXPECT_LE(buffered, 34u * 1024);
  bufferevent_enable(session.bev.get(), EV_READ);
  session.pump();  // what arrived before, as a session does after re-enabling
  EXPECT_TRUE(setup.loop.run_until([&] { return session.ended; }));
  client.join();
  EXPECT_EQ(session.data.size(), message.size());
  EXPECT_TRUE(session.close_notify);
}

TEST(TlsTransport, FreeingInsideItsOwnReadCallbackIsSafe) {
  ServerSetup setup(TLS1_3_VERSION);
  EchoSession session;
  session.free_in_first_read = true;
  session.bev = setup.server_transport();
  session.attach();
  PeerResult peer;
  std::thread client([&] { peer = setup.run_client("bye", 1, ClientClose::kTruncate); });
  EXPECT_TRUE(setup.loop.run_until([&] { return session.ended && tls_lingering_count(setup.loop.base()) == 0; }));
  client.join();
  EXPECT_TRUE(peer.handshake_ok) << peer.error;
  EXPECT_EQ(peer.received, "");  // the server freed its side: close_notify, no echo
  EXPECT_FALSE(session.bev);
}

TEST(TlsTransport, FreeingInsideTheHandshakeCallbackIsSafe) {
  ServerSetup setup(TLS1_3_VERSION);
  net::BufferEventPtr bev;
  bool called = false;
  TlsTransportOptions options;
  options.on_handshake_done = [&](bufferevent*) {
    called = true;
    bev.reset();  // e.g. no protocol the listener accepts
  };
  bev = setup.server_transport(options);
  PeerResult peer;
  std::thread client([&] { peer = setup.run_client("data", 4, ClientClose::kTruncate); });
  EXPECT_TRUE(setup.loop.run_until([&] { return called && tls_lingering_count(setup.loop.base()) == 0; }));
  client.join();
  EXPECT_TRUE(peer.handshake_ok) << peer.error;
  EXPECT_EQ(peer.received, "");
}

// The session writes a large response and frees the bufferevent at once: the transport still
// delivers all of it, then close_notify, in the background.
// The session writes a large answer and frees the bufferevent in the same callback.
void free_after_write_delivers_everything(uint16_t version, bool encrypt_at_flush) {
  CoalescedServerSetup setup(version);
  const std::string response(3 * 1024 * 1024, 'r');
  net::BufferEventPtr bev;
  struct Ctx {
    net::BufferEventPtr* bev;
    const std::string* response;
    bool freed = false;
  } ctx{&bev, &response};
  bev = setup.coalesced_transport(encrypt_at_flush);
  bufferevent_setcb(
      bev.get(),
      [](bufferevent* b, void* arg) {
        auto* c = static_cast<Ctx*>(arg);
        evbuffer_drain(bufferevent_get_input(b), evbuffer_get_length(bufferevent_get_input(b)));
        bufferevent_write(b, c->response->data(), c->response->size());
        c->bev->reset();
        c->freed = true;
      },
      nullptr, nullptr, &ctx);
  bufferevent_enable(bev.get(), EV_READ);
  PeerResult peer;
  std::thread client([&] { peer = setup.run_client("GET", response.size() + 1, ClientClose::kTruncate); });
  EXPECT_TRUE(setup.loop.run_until([&] { return ctx.freed; }));
  EXPECT_TRUE(setup.loop.run_until([&] { return tls_lingering_count(setup.loop.base()) == 0; }));
  client.join();
  EXPECT_TRUE(peer.handshake_ok) << peer.error;
  EXPECT_EQ(peer.received.size(), response.size());
  EXPECT_TRUE(peer.received == response);
}

TEST(TlsTransport, FreeAfterWriteDeliversEverythingThenCloseNotify) {
  free_after_write_delivers_everything(TLS1_2_VERSION, false);
}

TEST(TlsTransport, LingeringConnectionsAreClosedOnShutdown) {
  ServerSetup setup(TLS1_3_VERSION);
  net::BufferEventPtr bev;
  bool freed = false;
  std::atomic<bool> release_client{false};
  TlsTransportOptions options;
  options.on_handshake_done = [&](bufferevent* b) {
    std::string big(4 * 1024 * 1024, 'q');  // more than the socket pair buffers
    bufferevent_write(b, big.data(), big.size());
    bev.reset();
    freed = true;
  };
  bev = setup.server_transport(options);
  std::thread client([&] { setup.handshake_then_wait(release_client); });
  EXPECT_TRUE(setup.loop.run_until([&] { return freed && tls_lingering_count(setup.loop.base()) == 1; }));
  EXPECT_EQ(tls_close_lingering(setup.loop.base()), 1u);
  EXPECT_EQ(tls_lingering_count(setup.loop.base()), 0u);
  release_client = true;
  client.join();
}

// A session waiting on its member keeps a write timeout on an idle client connection, as it
// would on a socket: it must not fire while there is nothing to write.
TEST(TlsTransport, WriteTimeoutDoesNotFireWhileThereIsNothingToWrite) {
  ServerSetup setup(TLS1_3_VERSION);
  EchoSession session;
  session.bev = setup.server_transport(session.options());
  session.attach();
  timeval write_timeout{0, 100 * 1000};
  bufferevent_set_timeouts(session.bev.get(), nullptr, &write_timeout);
  std::atomic<bool> release_client{false};
  std::thread client([&] { setup.handshake_then_wait(release_client); });
  EXPECT_TRUE(setup.loop.run_until([&] { return session.handshake_seen; }));
  setup.loop.run_until([&] { return session.ended; }, 400);
  EXPECT_FALSE(session.ended) << "events " << session.end_events;
  release_client = true;
  EXPECT_TRUE(setup.loop.run_until([&] { return session.ended; }));
  client.join();
}

// A listener that peeks at the first bytes (e.g. for the SNI) before deciding to terminate TLS
// hands over a socket bufferevent that already holds part of the ClientHello.
TEST(TlsTransport, BytesReadBeforeTheWrapAreNotLost) {
  ServerSetup setup(TLS1_3_VERSION);
  auto plain = socket_bev(setup.loop.base(), setup.sockets.transport);
  bufferevent_setcb(plain.get(), [](bufferevent*, void*) {}, nullptr, nullptr, nullptr);
  bufferevent_enable(plain.get(), EV_READ);
  PeerResult peer;
  std::thread client([&] { peer = setup.run_client("peeked", 6, ClientClose::kCloseNotify); });
  EXPECT_TRUE(setup.loop.run_until([&] { return evbuffer_get_length(bufferevent_get_input(plain.get())) >= 5; }));
  bufferevent_disable(plain.get(), EV_READ);
  EchoSession session;
  session.bev = make_tls_bufferevent(setup.loop.base(), std::move(plain),
                                     bssl::UniquePtr<SSL>(SSL_new(setup.sctx.get())),
                                     TlsRole::kServer, session.options());
  session.attach();
  EXPECT_TRUE(setup.loop.run_until([&] { return session.ended && tls_lingering_count(setup.loop.base()) == 0; }));
  client.join();
  EXPECT_TRUE(peer.handshake_ok) << peer.error;
  EXPECT_EQ(peer.received, "peeked");
  EXPECT_TRUE(session.close_notify);
}

TEST(TlsTransport, PlainBufferEventIsNotTls) {
  Loop loop;
  SocketPair sockets;
  auto plain = socket_bev(loop.base(), sockets.transport);
  EXPECT_EQ(tls_ssl(plain.get()), nullptr);
  EXPECT_EQ(tls_state(plain.get()), nullptr);
  EXPECT_FALSE(tls_handshake_done(plain.get()));
  EXPECT_EQ(tls_failure_reason(plain.get()), "");
  close(sockets.peer);
}

// ---- client side: the transport connects to a BoringSSL server ----

struct ServerPeerResult {
  bool handshake_ok = false;
  std::string error;
  std::string server_name;
  std::string received;
  bool got_close_notify = false;
};

// Blocking server: accept, handshake, echo until close_notify or EOF, then close_notify.
ServerPeerResult run_blocking_server(const Listener& listener, SSL_CTX* ctx) {
  ServerPeerResult r;
  int fd = listener.accept_one();
  if (fd < 0) {
    r.error = "no connection";
    return r;
  }
  bssl::UniquePtr<SSL> ssl(SSL_new(ctx));
  SSL_set_fd(ssl.get(), fd);
  if (SSL_accept(ssl.get()) != 1) {
    r.error = take_errors();
    close(fd);
    return r;
  }
  r.handshake_ok = true;
  const char* name = SSL_get_servername(ssl.get(), TLSEXT_NAMETYPE_host_name);
  r.server_name = name != nullptr ? name : "";
  char buf[16384];
  for (;;) {
    int n = SSL_read(ssl.get(), buf, sizeof(buf));
    if (n <= 0) {
      r.got_close_notify = SSL_get_error(ssl.get(), n) == SSL_ERROR_ZERO_RETURN;
      break;
    }
    r.received.append(buf, static_cast<size_t>(n));
    SSL_write(ssl.get(), buf, n);
  }
  SSL_shutdown(ssl.get());
  close(fd);
  return r;
}

// A member connection: a socket bufferevent still connecting, wrapped at once.
net::BufferEventPtr connecting_client(event_base* base, const Listener& listener, SSL_CTX* ctx,
                                      EchoSession& session, bool report_connected) {
  auto socket = socket_bev(base, -1);
  sockaddr_in addr = listener.address();
  EXPECT_EQ(bufferevent_socket_connect(socket.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  TlsTransportOptions options = session.options();
  options.report_connected = report_connected;
  return make_tls_bufferevent(base, std::move(socket), client_ssl(ctx, "www.example.com"), TlsRole::kClient,
                              options);
}

class TlsClientTransport : public ::testing::TestWithParam<uint16_t> {};

TEST_P(TlsClientTransport, HandshakeStartsWhenTheConnectCompletes) {
  const auto& pki = test_pki();
  auto sctx = server_ctx(pki.server_rsa, GetParam());
  auto cctx = client_ctx(pki.ca, GetParam());
  Listener listener;
  Loop loop;
  EchoSession session;
  session.echo = false;
  session.bev = connecting_client(loop.base(), listener, cctx.get(), session, true);
  ASSERT_TRUE(session.bev);
  session.attach();
  const std::string request = "GET / HTTP/1.1\r\n\r\n";
  bufferevent_write(session.bev.get(), request.data(), request.size());  // held until the handshake
  ServerPeerResult peer;
  std::atomic<bool> server_done{false};
  std::thread server([&] {
    peer = run_blocking_server(listener, sctx.get());
    server_done = true;
  });
  EXPECT_TRUE(loop.run_until([&] { return session.data.size() >= request.size(); }));
  EXPECT_EQ(session.connected_events, 1);
  EXPECT_TRUE(session.handshake_seen);
  EXPECT_EQ(session.alpn, "http/1.1");
  EXPECT_EQ(SSL_version(tls_ssl(session.bev.get())), GetParam());
  EXPECT_GE(bufferevent_getfd(session.bev.get()), 0);
  session.bev.reset();  // close_notify to the server, from the loop
  EXPECT_TRUE(loop.run_until([&] { return server_done.load(); }));
  server.join();
  EXPECT_TRUE(peer.handshake_ok) << peer.error;
  EXPECT_EQ(peer.server_name, "www.example.com");
  EXPECT_EQ(peer.received, request);
  EXPECT_TRUE(peer.got_close_notify);
  EXPECT_EQ(session.data, request);
}

INSTANTIATE_TEST_SUITE_P(Versions, TlsClientTransport, ::testing::Values(TLS1_3_VERSION, TLS1_2_VERSION),
                         [](const auto& info) { return info.param == TLS1_3_VERSION ? "Tls13" : "Tls12"; });

TEST(TlsTransport, ClientRejectsAnUntrustedServerWithAReason) {
  const auto& pki = test_pki();
  auto sctx = server_ctx(pki.server_ecdsa, TLS1_3_VERSION);
  auto cctx = client_ctx(pki.other_ca, TLS1_3_VERSION);
  Listener listener;
  Loop loop;
  EchoSession session;
  session.bev = connecting_client(loop.base(), listener, cctx.get(), session, true);
  session.attach();
  ServerPeerResult peer;
  std::thread server([&] { peer = run_blocking_server(listener, sctx.get()); });
  EXPECT_TRUE(loop.run_until([&] { return session.ended; }));
  server.join();
  EXPECT_FALSE(peer.handshake_ok);
  EXPECT_TRUE(session.end_events & BEV_EVENT_ERROR);
  EXPECT_EQ(session.connected_events, 0);
  EXPECT_TRUE(session.handshake_failed);
  EXPECT_NE(session.reason.find("CERTIFICATE_VERIFY_FAILED"), std::string::npos) << session.reason;
}

TEST(TlsTransport, ClientConnectRefusedIsAFailedHandshake) {
  const auto& pki = test_pki();
  auto cctx = client_ctx(pki.ca, TLS1_3_VERSION);
  uint16_t port;
  {
    Listener closed;
    port = closed.port;
  }
  Loop loop;
  EchoSession session;
  auto socket = socket_bev(loop.base(), -1);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bufferevent_socket_connect(socket.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  session.bev = make_tls_bufferevent(loop.base(), std::move(socket), client_ssl(cctx.get(), "www.example.com"),
                                     TlsRole::kClient);
  session.attach();
  EXPECT_TRUE(loop.run_until([&] { return session.ended; }));
  EXPECT_TRUE(session.end_events & BEV_EVENT_ERROR);
  EXPECT_TRUE(session.handshake_failed);
  EXPECT_NE(session.reason.find("socket error"), std::string::npos) << session.reason;
}

// ---- both ends are transports, each on its own event loop ----

// The member side: an echo server transport on its own thread and loop.
TEST(TlsTransport, ServerAndClientTransportsStreamFiveMegabytesAcrossTwoLoops) {
  const auto& pki = test_pki();
  auto sctx = server_ctx(pki.server_ecdsa, TLS1_3_VERSION);
  auto cctx = client_ctx(pki.ca, TLS1_3_VERSION);
  Listener listener;

  std::atomic<bool> server_done{false};
  EchoSession server_session;
  std::thread server_thread([&] {
    Loop server_loop;
    int fd = listener.accept_one();
    evutil_make_socket_nonblocking(fd);
    server_session.bev = make_tls_bufferevent(server_loop.base(), socket_bev(server_loop.base(), fd),
                                              bssl::UniquePtr<SSL>(SSL_new(sctx.get())), TlsRole::kServer);
    server_session.attach();
    server_loop.run_until([&] { return server_session.ended && tls_lingering_count(server_loop.base()) == 0; }, 60000);
    server_done = true;
  });

  Loop loop;
  const auto payload = pattern(5 * 1024 * 1024, 11);
  struct Client {
    net::BufferEventPtr bev;
    const std::vector<uint8_t>* payload;
    size_t sent = 0;
    std::vector<uint8_t> received;
    size_t max_output = 0;
    size_t max_input = 0;
    bool connected = false;
    bool failed = false;
    void feed() {
      evbuffer* out = bufferevent_get_output(bev.get());
      while (sent < payload->size() && evbuffer_get_length(out) < 128 * 1024) {
        size_t n = std::min<size_t>(payload->size() - sent, 32 * 1024);
        bufferevent_write(bev.get(), payload->data() + sent, n);
        sent += n;
      }
      max_output = std::max(max_output, evbuffer_get_length(out));
    }
  } client;
  client.payload = &payload;
  client.received.reserve(payload.size());
  {
    auto socket = socket_bev(loop.base(), -1);
    sockaddr_in addr = listener.address();
    bufferevent_socket_connect(socket.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    TlsTransportOptions options;
    options.report_connected = true;
    client.bev = make_tls_bufferevent(loop.base(), std::move(socket), client_ssl(cctx.get(), "www.example.com"),
                                      TlsRole::kClient, options);
  }
  bufferevent_setwatermark(client.bev.get(), EV_READ, 0, 64 * 1024);
  bufferevent_setwatermark(client.bev.get(), EV_WRITE, 32 * 1024, 0);
  bufferevent_setcb(
      client.bev.get(),
      [](bufferevent* b, void* arg) {
        auto* c = static_cast<Client*>(arg);
        evbuffer* in = bufferevent_get_input(b);
        size_t n = evbuffer_get_length(in);
        c->max_input = std::max(c->max_input, n);
        size_t old = c->received.size();
        c->received.resize(old + n);
        evbuffer_remove(in, c->received.data() + old, n);
      },
      [](bufferevent*, void* arg) { static_cast<Client*>(arg)->feed(); },
      [](bufferevent*, short events, void* arg) {
        auto* c = static_cast<Client*>(arg);
        if (events & BEV_EVENT_CONNECTED) {
          c->connected = true;
          c->feed();
        } else {
          c->failed = true;
        }
      },
      &client);
  bufferevent_enable(client.bev.get(), EV_READ | EV_WRITE);
  EXPECT_TRUE(loop.run_until([&] { return client.received.size() >= payload.size() || client.failed; }, 60000));
  EXPECT_TRUE(client.connected);
  EXPECT_FALSE(client.failed);
  EXPECT_TRUE(client.received == payload);
  EXPECT_LE(client.max_input, 64u * 1024 + 34u * 1024);
  EXPECT_LE(client.max_output, 128u * 1024 + 32u * 1024);
  client.bev.reset();  // close_notify to the server transport
  EXPECT_TRUE(loop.run_until([&] { return server_done.load() && tls_lingering_count(loop.base()) == 0; }, 30000));
  server_thread.join();
  EXPECT_EQ(server_session.received, payload.size());
  EXPECT_EQ(server_session.end_events, BEV_EVENT_EOF | BEV_EVENT_READING);
  EXPECT_TRUE(server_session.close_notify);
  EXPECT_LE(server_session.max_input, 64u * 1024 + 34u * 1024);
}

// ---- encrypt_at_flush with the worker's WriteCoalescer ----

// Records of application data the server writes (TLS 1.2 without tickets: nothing else is
// written once the handshake is done).
struct RecordCounter {
  std::atomic<int> application_records{0};
  static void on_message(int write_p, int, int content_type, const void* buf, size_t len, SSL*, void* arg) {
    if (write_p == 1 && content_type == SSL3_RT_HEADER && len >= 1 &&
        static_cast<const uint8_t*>(buf)[0] == SSL3_RT_APPLICATION_DATA) {
      ++static_cast<RecordCounter*>(arg)->application_records;
    }
  }
};

// The server answers "GET" with a head and a body written separately, as an HTTP session does.
int records_for_one_answer(bool encrypt_at_flush) {
  CoalescedServerSetup setup(TLS1_2_VERSION);
  SSL_CTX_set_options(setup.sctx.get(), SSL_OP_NO_TICKET);
  RecordCounter counter;
  bssl::UniquePtr<SSL> ssl(SSL_new(setup.sctx.get()));
  SSL_set_msg_callback(ssl.get(), &RecordCounter::on_message);
  SSL_set_msg_callback_arg(ssl.get(), &counter);
  net::BufferEventPtr bev = setup.coalesced_transport(encrypt_at_flush, std::move(ssl));
  bool answered = false;
  struct Ctx {
    bool* answered;
  } ctx{&answered};
  bufferevent_setcb(
      bev.get(),
      [](bufferevent* b, void* arg) {
        evbuffer_drain(bufferevent_get_input(b), evbuffer_get_length(bufferevent_get_input(b)));
        bufferevent_write(b, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n", 38);
        bufferevent_write(b, "body", 4);
        *static_cast<Ctx*>(arg)->answered = true;
      },
      nullptr, nullptr, &ctx);
  bufferevent_enable(bev.get(), EV_READ);
  PeerResult peer;
  std::thread client([&] { peer = setup.run_client("GET", 42, ClientClose::kTruncate); });
  EXPECT_TRUE(setup.loop.run_until([&] {
    return answered && evbuffer_get_length(bufferevent_get_output(bufferevent_get_underlying(bev.get()))) == 0;
  }));
  client.join();
  EXPECT_TRUE(peer.handshake_ok) << peer.error;
  EXPECT_EQ(peer.received, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody");
  bev.reset();
  return counter.application_records.load();
}

TEST(TlsTransportEncryptAtFlush, WhatOneTurnWritesBecomesOneRecord) {
  EXPECT_EQ(records_for_one_answer(false), 2);  // encrypted as written: one record per write
  EXPECT_EQ(records_for_one_answer(true), 1);
}

TEST(TlsTransportEncryptAtFlush, FiveMegabytesBothWaysWithBackpressure) {
  CoalescedServerSetup setup(TLS1_3_VERSION);
  EchoSession session;
  session.bev = setup.coalesced_transport(true);
  session.attach();
  expect_streamed_echo(setup, session, pattern(5 * 1024 * 1024, 11));
}

TEST(TlsTransportEncryptAtFlush, FreeRightAfterWriteStillDeliversEverything) {
  free_after_write_delivers_everything(TLS1_3_VERSION, true);  // the answer was not yet encrypted
}

}  // namespace
}  // namespace pharos::tls
