#include "engine/tls/tls_transport.h"

#include <openssl/bio.h>
#include <openssl/err.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace pharos::tls {

namespace {

// Ciphertext queued on the socket before the transport stops encrypting: the socket's write
// high watermark. The low one is where the filter refills it, keeping the kernel fed.
constexpr size_t kSocketWriteHigh = 64 * 1024;
constexpr size_t kSocketWriteLow = 16 * 1024;
// One TLS record's worth of plaintext: the unit of decryption into the session's input.
constexpr size_t kRecordPlaintext = 16 * 1024;
// Below this, a chunk of the session's output is gathered with its successors before it is
// encrypted, so small evbuffer chunks do not each become a record.
constexpr size_t kMinRecordChunk = 4 * 1024;

// Ownership:
// - The session owns the filter bufferevent (BufferEventPtr). The filter owns the socket
//   bufferevent (BEV_OPT_CLOSE_ON_FREE) and, through free_context, this Transport.
// - The Transport owns the SSL object, which owns the BIO; the BIO points back at the
//   Transport and reads and writes the socket's evbuffers.
// - The Transport replaces the filter's callbacks on the socket with its own and forwards to
//   the filter's. libevent clears them when the filter is unlinked (bufferevent_free of the
//   socket), so no socket callback reaches the Transport after its filter is gone.
// - libevent destroys the filter later, from the loop; free_context then either deletes the
//   Transport or hands it to the linger phase, where it owns one reference on the socket
//   bufferevent until the flush ends.
class Transport {
 public:
  Transport(event_base* base, bssl::UniquePtr<SSL> ssl, TlsRole role, TlsTransportOptions options)
      : base_(base), ssl_(std::move(ssl)), role_(role), options_(std::move(options)) {}

  bool attach(bufferevent* socket);  // false: libevent could not allocate the filter
  bufferevent* filter() const { return filter_; }
  SSL* ssl() const { return ssl_.get(); }
  const TlsState& state() const { return state_; }

  // Input filter / output filter / free_context of the filter bufferevent.
  static bufferevent_filter_result input_filter(evbuffer* src, evbuffer* dst, ev_ssize_t limit,
                                                bufferevent_flush_mode mode, void* ctx);
  static bufferevent_filter_result output_filter(evbuffer* src, evbuffer* dst, ev_ssize_t limit,
                                                 bufferevent_flush_mode mode, void* ctx);
  static void free_context(void* ctx);

  // Our callbacks on the socket bufferevent while the filter lives.
  static void on_socket_read(bufferevent* socket, void* arg);
  static void on_socket_write(bufferevent* socket, void* arg);
  static void on_socket_event(bufferevent* socket, short what, void* arg);

  // The custom BIO: the SSL object's view of the socket's evbuffers.
  static int bio_read(BIO* bio, char* out, int len);
  static int bio_write(BIO* bio, const char* in, int len);
  static long bio_ctrl(BIO* bio, int cmd, long larg, void* parg);

  // Closes lingering connections (tls_close_lingering).
  void end_linger();

  // Encrypts the session's pending output and queues close_notify, once, on a healthy
  // connection (tls_queue_close_notify, and finish()).
  void queue_close_notify();

 private:
  void start_client_handshake();
  void pump_input();
  void deliver(bool handshake_was_done, short socket_what, int socket_errno);
  void fail(std::string reason);
  std::string ssl_failure(int ssl_error, const char* during);
  size_t encrypt(evbuffer* src, size_t budget);
  void finish();  // from free_context
  bool flush_socket_now();

  static void on_linger_read(bufferevent* socket, void* arg);
  static void on_linger_write(bufferevent* socket, void* arg);
  static void on_linger_event(bufferevent* socket, short what, void* arg);

  event_base* base_;
  bssl::UniquePtr<SSL> ssl_;
  TlsRole role_;
  TlsTransportOptions options_;
  bufferevent* filter_ = nullptr;  // owned by the session
  bufferevent* socket_ = nullptr;  // owned by the filter; in the linger phase, by us
  bufferevent_data_cb filter_readcb_ = nullptr;
  bufferevent_data_cb filter_writecb_ = nullptr;
  void* filter_arg_ = nullptr;

  TlsState state_;
  bool fresh_plaintext_ = false;  // decrypted since the filter's input filter last ran
  bool peer_closed_ = false;      // close_notify received: later input is ignored
  bool eof_pending_ = false;
  bool eof_reported_ = false;
  bool error_pending_ = false;
  bool error_reported_ = false;
  bool lingering_ = false;
  bool socket_has_room_ = false;  // inside on_socket_write: encrypt now, even with encrypt_at_flush
};

// ---- lingering connections, per event base ----

struct LingerRegistry {
  std::mutex mutex;
  std::unordered_map<event_base*, std::unordered_set<Transport*>> lingering;
  std::unordered_set<event_base*> closing;  // tls_close_lingering was called: no new lingering
};

LingerRegistry& registry() {
  static LingerRegistry* instance = new LingerRegistry;  // outlives every worker
  return *instance;
}

std::string socket_error_text(int err) {
  return err != 0 ? evutil_socket_error_to_string(err) : "unknown";
}

// ---- the BIO method ----

const BIO_METHOD* socket_bio_method() {
  static const BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(0, "pharos-bufferevent");
    BIO_meth_set_read(m, &Transport::bio_read);
    BIO_meth_set_write(m, &Transport::bio_write);
    BIO_meth_set_ctrl(m, &Transport::bio_ctrl);
    return m;
  }();
  return method;
}

// The transport behind a TLS bufferevent, found through the callbacks it installed on the
// socket; null for any other bufferevent.
Transport* transport_of(bufferevent* bev) {
  if (bev == nullptr) return nullptr;
  bufferevent* socket = bufferevent_get_underlying(bev);
  if (socket == nullptr) return nullptr;
  bufferevent_data_cb readcb = nullptr;
  void* arg = nullptr;
  bufferevent_getcb(socket, &readcb, nullptr, nullptr, &arg);
  if (readcb != &Transport::on_socket_read) return nullptr;
  auto* transport = static_cast<Transport*>(arg);
  return transport->filter() == bev ? transport : nullptr;
}

}  // namespace

// ---- set-up ----

bool Transport::attach(bufferevent* socket) {
  BIO* bio = BIO_new(socket_bio_method());
  if (bio == nullptr) return false;
  BIO_set_data(bio, this);
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl_.get(), bio, bio);  // one reference, owned by the SSL object
  if (role_ == TlsRole::kServer) {
    SSL_set_accept_state(ssl_.get());
  } else {
    SSL_set_connect_state(ssl_.get());
  }

  bufferevent_setwatermark(socket, EV_WRITE, kSocketWriteLow, kSocketWriteHigh);
  filter_ = bufferevent_filter_new(socket, &Transport::input_filter, &Transport::output_filter,
                                   BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS,
                                   &Transport::free_context, this);
  if (filter_ == nullptr) return false;
  socket_ = socket;
  bufferevent_event_cb unused_eventcb = nullptr;
  bufferevent_getcb(socket, &filter_readcb_, &filter_writecb_, &unused_eventcb, &filter_arg_);
  bufferevent_setcb(socket, &Transport::on_socket_read, &Transport::on_socket_write,
                    &Transport::on_socket_event, this);
  bufferevent_enable(filter_, EV_READ);
  if (role_ == TlsRole::kClient) start_client_handshake();
  if (evbuffer_get_length(bufferevent_get_input(socket)) > 0) {
    // Bytes read before the wrap (e.g. a peeked ClientHello): process them from the loop.
    bufferevent_trigger(socket, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
  }
  return true;
}

void Transport::start_client_handshake() {
  int rc = SSL_do_handshake(ssl_.get());
  if (rc == 1) return;  // cannot happen before the server spoke; harmless if it did
  int error = SSL_get_error(ssl_.get(), rc);
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return;
  fail(ssl_failure(error, "handshake"));
  error_reported_ = true;
  bufferevent_trigger_event(filter_, BEV_EVENT_ERROR | BEV_EVENT_WRITING, BEV_TRIG_DEFER_CALLBACKS);
}

// ---- the BIO: SSL reads the socket's input and writes its output ----

int Transport::bio_read(BIO* bio, char* out, int len) {
  BIO_clear_retry_flags(bio);
  auto* self = static_cast<Transport*>(BIO_get_data(bio));
  if (len <= 0) return 0;
  int n = evbuffer_remove(bufferevent_get_input(self->socket_), out, static_cast<size_t>(len));
  if (n <= 0) {
    BIO_set_retry_read(bio);
    return -1;
  }
  return n;
}

int Transport::bio_write(BIO* bio, const char* in, int len) {
  BIO_clear_retry_flags(bio);
  auto* self = static_cast<Transport*>(BIO_get_data(bio));
  if (len <= 0) return 0;
  if (evbuffer_add(bufferevent_get_output(self->socket_), in, static_cast<size_t>(len)) != 0) return -1;
  return len;
}

long Transport::bio_ctrl(BIO*, int cmd, long, void*) {
  // Writes land in the socket's output at once; libevent sends them. Nothing else applies.
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

// ---- input: socket -> SSL -> the session's input ----

// Decrypts everything the socket has delivered, so nothing waits in the socket's input or in
// the SSL object when the session later stops reading: libevent resumes a filter only when new
// socket bytes arrive, and bytes left behind would stall the connection.
void Transport::pump_input() {
  evbuffer* in = bufferevent_get_input(socket_);
  if (state_.handshake_failed || peer_closed_ || error_pending_ || error_reported_) {
    evbuffer_drain(in, evbuffer_get_length(in));
    return;
  }
  if (!state_.handshake_done) {
    int rc = SSL_do_handshake(ssl_.get());
    if (rc != 1) {
      int error = SSL_get_error(ssl_.get(), rc);
      if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return;
      fail(ssl_failure(error, "handshake"));
      return;
    }
    state_.handshake_done = true;
    if (options_.on_handshake_done) options_.on_handshake_done(filter_);
  }
  evbuffer* dst = bufferevent_get_input(filter_);
  for (;;) {
    evbuffer_iovec space;
    if (evbuffer_reserve_space(dst, kRecordPlaintext, &space, 1) < 1) {
      fail("out of memory");
      return;
    }
    int want = static_cast<int>(std::min<size_t>(space.iov_len, INT_MAX));
    int rc = SSL_read(ssl_.get(), space.iov_base, want);
    if (rc > 0) {
      space.iov_len = static_cast<size_t>(rc);
      evbuffer_commit_space(dst, &space, 1);
      fresh_plaintext_ = true;
      // BoringSSL reads a TLS record at a time and no further (no read-ahead): with nothing
      // left in the SSL object or the socket's input, another SSL_read could only answer
      // WANT_READ, and it costs as much as a small record's decryption.
      if (!SSL_has_pending(ssl_.get()) && evbuffer_get_length(in) == 0) return;
      continue;
    }
    int error = SSL_get_error(ssl_.get(), rc);
    if (error == SSL_ERROR_WANT_READ) return;
    if (error == SSL_ERROR_ZERO_RETURN) {
      state_.close_notify_received = true;
      peer_closed_ = true;
      eof_pending_ = true;
      evbuffer_drain(in, evbuffer_get_length(in));
      return;
    }
    fail(ssl_failure(error, "read"));
    return;
  }
}

bufferevent_filter_result Transport::input_filter(evbuffer*, evbuffer*, ev_ssize_t,
                                                  bufferevent_flush_mode, void* ctx) {
  // The decryption already happened in pump_input(); answering OK lets the filter reset the
  // read timeout and run the session's read callback.
  auto* self = static_cast<Transport*>(ctx);
  if (!self->fresh_plaintext_) return BEV_NEED_MORE;
  self->fresh_plaintext_ = false;
  return BEV_OK;
}

// ---- output: the session's output -> SSL -> socket ----

size_t Transport::encrypt(evbuffer* src, size_t budget) {
  size_t done = 0;
  while (budget > 0 && evbuffer_get_length(src) > 0) {
    size_t n = std::min(evbuffer_get_length(src), kRecordPlaintext);
    evbuffer_iovec first;
    evbuffer_peek(src, -1, nullptr, &first, 1);
    const void* data = first.iov_base;
    if (first.iov_len >= std::min(n, kMinRecordChunk)) {
      n = std::min(n, first.iov_len);
    } else {
      data = evbuffer_pullup(src, static_cast<ev_ssize_t>(n));
      if (data == nullptr) {
        fail("out of memory");
        return done;
      }
    }
    int rc = SSL_write(ssl_.get(), data, static_cast<int>(n));
    if (rc <= 0) {
      fail(ssl_failure(SSL_get_error(ssl_.get(), rc), "write"));
      return done;
    }
    evbuffer_drain(src, static_cast<size_t>(rc));
    done += static_cast<size_t>(rc);
    budget -= std::min(budget, static_cast<size_t>(rc));
  }
  return done;
}

bufferevent_filter_result Transport::output_filter(evbuffer* src, evbuffer*, ev_ssize_t,
                                                   bufferevent_flush_mode mode, void* ctx) {
  auto* self = static_cast<Transport*>(ctx);
  if (self->state_.handshake_failed || self->error_pending_ || self->error_reported_) {
    evbuffer_drain(src, evbuffer_get_length(src));  // the connection is dead: nobody will read it
    return BEV_NEED_MORE;
  }
  if (!self->state_.handshake_done) return BEV_NEED_MORE;  // held until the handshake completes
  // A write by the session: with encrypt_at_flush it waits for the flush at the end of the turn.
  if (mode == BEV_NORMAL && self->options_.encrypt_at_flush && !self->socket_has_room_) return BEV_NEED_MORE;
  // Whatever the caller, ciphertext waiting for the socket stays under its high watermark.
  size_t queued = evbuffer_get_length(bufferevent_get_output(self->socket_));
  size_t budget = queued < kSocketWriteHigh ? kSocketWriteHigh - queued : 0;
  size_t done = self->encrypt(src, budget);
  if (self->error_pending_ && !self->error_reported_) {
    // We may be inside the session's bufferevent_write(): report from the loop.
    self->error_pending_ = false;
    self->error_reported_ = true;
    bufferevent_trigger_event(self->filter_, BEV_EVENT_ERROR | BEV_EVENT_WRITING, BEV_TRIG_DEFER_CALLBACKS);
  }
  return done > 0 ? BEV_OK : BEV_NEED_MORE;
}

// ---- socket callbacks ----

void Transport::on_socket_read(bufferevent*, void* arg) {
  auto* self = static_cast<Transport*>(arg);
  bufferevent* filter = self->filter_;
  bufferevent_incref(filter);  // the filter (and so this Transport) outlives this callback
  bool was_done = self->state_.handshake_done;
  self->pump_input();
  self->deliver(was_done, 0, 0);
  bufferevent_decref(filter);
}

void Transport::on_socket_write(bufferevent* socket, void* arg) {
  auto* self = static_cast<Transport*>(arg);
  self->socket_has_room_ = true;
  self->filter_writecb_(socket, self->filter_arg_);  // encrypts more of the session's output
  self->socket_has_room_ = false;
}

void Transport::on_socket_event(bufferevent*, short what, void* arg) {
  int socket_errno = EVUTIL_SOCKET_ERROR();
  auto* self = static_cast<Transport*>(arg);
  if (what & BEV_EVENT_CONNECTED) return;  // the ClientHello is already queued; see report_connected
  bufferevent* filter = self->filter_;
  bufferevent_incref(filter);
  bool was_done = self->state_.handshake_done;
  self->pump_input();  // normally nothing is left: every read was decrypted whole
  self->deliver(was_done, what, socket_errno);
  bufferevent_decref(filter);
}

// Tells the session what the last socket callback produced, in order: handshake completion,
// plaintext, then EOF or error. The session's callbacks are deferred, so none runs here.
void Transport::deliver(bool handshake_was_done, short socket_what, int socket_errno) {
  if (!handshake_was_done && state_.handshake_done) {
    if (options_.report_connected) bufferevent_trigger_event(filter_, BEV_EVENT_CONNECTED, 0);
    bufferevent_flush(filter_, EV_WRITE, BEV_FLUSH);  // plaintext written during the handshake
  }
  if (fresh_plaintext_) filter_readcb_(socket_, filter_arg_);  // resets the read timeout, runs readcb
  if (socket_what != 0 && !error_pending_ && !error_reported_ && !eof_reported_) {
    if (!state_.handshake_done) {
      if (socket_what & BEV_EVENT_EOF) {
        fail("connection closed during the TLS handshake");
      } else if (socket_what & BEV_EVENT_ERROR) {
        fail(std::string("socket error during the TLS handshake: ") + socket_error_text(socket_errno));
      }
    } else if (socket_what & BEV_EVENT_EOF) {
      eof_pending_ = true;  // no close_notify: a truncated stream, still reported as EOF
    } else if (socket_what & BEV_EVENT_ERROR) {
      state_.failure_reason = std::string("socket error: ") + socket_error_text(socket_errno);
      error_pending_ = true;
    } else {
      bufferevent_trigger_event(filter_, socket_what, 0);  // e.g. a timeout set on the socket
    }
  }
  if (error_pending_ && !error_reported_) {
    error_pending_ = false;
    error_reported_ = true;
    short reading = (socket_what & BEV_EVENT_WRITING) ? BEV_EVENT_WRITING : BEV_EVENT_READING;
    bufferevent_trigger_event(filter_, BEV_EVENT_ERROR | reading, 0);
    return;
  }
  if (eof_pending_ && !eof_reported_) {
    eof_pending_ = false;
    eof_reported_ = true;
    bufferevent_trigger_event(filter_, BEV_EVENT_EOF | BEV_EVENT_READING, 0);
  }
}

void Transport::fail(std::string reason) {
  if (!state_.handshake_done) state_.handshake_failed = true;
  if (state_.failure_reason.empty()) state_.failure_reason = std::move(reason);
  error_pending_ = true;
  evbuffer* in = bufferevent_get_input(socket_);
  evbuffer_drain(in, evbuffer_get_length(in));
  ERR_clear_error();
}

std::string Transport::ssl_failure(int ssl_error, const char* during) {
  std::string text = std::string("TLS ") + during + " failed: ";
  uint32_t packed = ERR_peek_error();
  if (packed != 0) {
    char buf[256];
    ERR_error_string_n(packed, buf, sizeof(buf));
    const char* reason = ERR_reason_error_string(packed);
    text += reason != nullptr ? reason : buf;
  } else if (ssl_error == SSL_ERROR_SYSCALL) {
    text += "unexpected end of the connection";
  } else {
    const char* name = SSL_error_description(ssl_error);
    text += name != nullptr ? name : "unknown error";
  }
  if (role_ == TlsRole::kClient) {
    long verify = SSL_get_verify_result(ssl_.get());
    if (verify != X509_V_OK) text += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
  }
  ERR_clear_error();
  return text;
}

// ---- teardown ----

void Transport::free_context(void* ctx) {
  static_cast<Transport*>(ctx)->finish();
}

// Writes what the socket holds now, without blocking; true when nothing is left.
bool Transport::flush_socket_now() {
  evbuffer* out = bufferevent_get_output(socket_);
  evutil_socket_t fd = bufferevent_getfd(socket_);
  // The socket bufferevent keeps the front of its output frozen; libevent's own write
  // unfreezes it around the write in the same way.
  evbuffer_unfreeze(out, 1);
  while (evbuffer_get_length(out) > 0 && fd >= 0) {
    int n = evbuffer_write(out, fd);
    if (n <= 0) break;  // EAGAIN, not connected yet, or a dead socket: linger or give up
  }
  evbuffer_freeze(out, 1);
  return evbuffer_get_length(out) == 0;
}

// The filter is being destroyed (the session freed it). Send what the session wrote and a
// close_notify, best-effort and without blocking; linger in the background if the socket is
// not ready for all of it.
void Transport::queue_close_notify() {
  bool healthy = state_.handshake_done && !state_.handshake_failed && !error_pending_ && !error_reported_;
  if (!healthy || state_.close_notify_sent) return;
  encrypt(bufferevent_get_output(filter_), SIZE_MAX);
  if (error_pending_) return;
  SSL_shutdown(ssl_.get());  // queues close_notify; we do not wait for the peer's
  state_.close_notify_sent = true;
  ERR_clear_error();
}

void Transport::finish() {
  queue_close_notify();
  ERR_clear_error();
  ssl_.reset();
  filter_ = nullptr;

  // Only a completed handshake, or an alert explaining a failed one, is worth the wait.
  bool worth_lingering = state_.handshake_done || state_.handshake_failed;
  bool flushed = flush_socket_now();
  bool can_linger = worth_lingering && !flushed && options_.linger_ms > 0 &&
                    // No events left on the base: it is being freed, nothing would run us.
                    event_base_get_num_events(base_, EVENT_BASE_COUNT_ADDED) > 0;
  if (can_linger) {
    auto& reg = registry();
    std::lock_guard<std::mutex> lock(reg.mutex);
    if (reg.closing.count(base_) != 0) {
      can_linger = false;
    } else {
      reg.lingering[base_].insert(this);
    }
  }
  if (!can_linger) {
    delete this;  // the filter then drops its reference on the socket, which closes it
    return;
  }
  lingering_ = true;
  bufferevent_incref(socket_);  // ours now; the filter drops its own after this returns
  bufferevent_setcb(socket_, &Transport::on_linger_read, &Transport::on_linger_write,
                    &Transport::on_linger_event, this);
  bufferevent_setwatermark(socket_, EV_WRITE, 0, 0);
  timeval timeout = net::timeval_from_ms(options_.linger_ms);
  bufferevent_set_timeouts(socket_, &timeout, &timeout);
  bufferevent_enable(socket_, EV_READ | EV_WRITE);
}

void Transport::on_linger_read(bufferevent* socket, void*) {
  // Unread bytes at close make the kernel send a reset that can destroy what we just sent.
  evbuffer* in = bufferevent_get_input(socket);
  evbuffer_drain(in, evbuffer_get_length(in));
}

void Transport::on_linger_write(bufferevent* socket, void* arg) {
  if (evbuffer_get_length(bufferevent_get_output(socket)) == 0) static_cast<Transport*>(arg)->end_linger();
}

void Transport::on_linger_event(bufferevent* socket, short what, void* arg) {
  auto* self = static_cast<Transport*>(arg);
  if ((what & BEV_EVENT_EOF) && evbuffer_get_length(bufferevent_get_output(socket)) > 0) {
    bufferevent_disable(socket, EV_READ);  // the peer may still read after its FIN
    return;
  }
  self->end_linger();
}

void Transport::end_linger() {
  {
    auto& reg = registry();
    std::lock_guard<std::mutex> lock(reg.mutex);
    auto it = reg.lingering.find(base_);
    if (it != reg.lingering.end()) {
      it->second.erase(this);
      if (it->second.empty()) reg.lingering.erase(it);
    }
  }
  bufferevent_free(socket_);  // our reference was the last: closes the fd
  delete this;
}

// ---- public API ----

net::BufferEventPtr make_tls_bufferevent(event_base* base, net::BufferEventPtr socket_bev,
                                         bssl::UniquePtr<SSL> ssl, TlsRole role,
                                         TlsTransportOptions options) {
  if (!socket_bev || !ssl) return nullptr;
  {
    // A base that was closed and freed may come back at the same address: it is a new one.
    auto& reg = registry();
    std::lock_guard<std::mutex> lock(reg.mutex);
    reg.closing.erase(base);
  }
  auto* transport = new Transport(base, std::move(ssl), role, std::move(options));
  bufferevent* socket = socket_bev.get();
  if (!transport->attach(socket)) {
    delete transport;  // the socket bufferevent is freed by socket_bev
    return nullptr;
  }
  socket_bev.release();  // owned by the filter now
  return net::BufferEventPtr(transport->filter());
}

void tls_queue_close_notify(bufferevent* bev) {
  if (Transport* transport = transport_of(bev)) transport->queue_close_notify();
}

SSL* tls_ssl(bufferevent* bev) {
  Transport* transport = transport_of(bev);
  return transport != nullptr ? transport->ssl() : nullptr;
}

const TlsState* tls_state(bufferevent* bev) {
  Transport* transport = transport_of(bev);
  return transport != nullptr ? &transport->state() : nullptr;
}

bool tls_handshake_done(bufferevent* bev) {
  const TlsState* state = tls_state(bev);
  return state != nullptr && state->handshake_done;
}

std::string tls_failure_reason(bufferevent* bev) {
  const TlsState* state = tls_state(bev);
  return state != nullptr ? state->failure_reason : std::string();
}

size_t tls_close_lingering(event_base* base) {
  std::unordered_set<Transport*> victims;
  {
    auto& reg = registry();
    std::lock_guard<std::mutex> lock(reg.mutex);
    reg.closing.insert(base);
    auto it = reg.lingering.find(base);
    if (it != reg.lingering.end()) {
      victims = std::move(it->second);
      reg.lingering.erase(it);
    }
  }
  for (Transport* transport : victims) transport->end_linger();
  return victims.size();
}

size_t tls_lingering_count(event_base* base) {
  auto& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  auto it = reg.lingering.find(base);
  return it != reg.lingering.end() ? it->second.size() : 0;
}

}  // namespace pharos::tls
