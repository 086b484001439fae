#include "engine/proxy/h2_member_pool.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <algorithm>
#include <chrono>

#include "engine/http2/client_connection.h"
#include "engine/net/engine_io.h"
#include "engine/proxy/session_common.h"
#include "engine/stats/stats.h"
#include "engine/tls/client_certificate_info.h"
#include "engine/tls/client_context.h"
#include "engine/tls/tls_transport.h"

namespace pharos::proxy {

namespace {

constexpr uint64_t kDeclinedForMs = 60000;
// Transactions that may wait for one connection being set up: nghttp2's assumption for the
// member's concurrent streams until its SETTINGS arrive.
constexpr uint32_t kMaxWaitersPerConnection = 100;

uint64_t monotonic_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

ExchangeError exchange_error(http2::StreamError error) {
  switch (error) {
    case http2::StreamError::kRefused: return ExchangeError::kRefused;
    case http2::StreamError::kConnectionLost: return ExchangeError::kLost;
    default: return ExchangeError::kReset;
  }
}

}  // namespace

// ---- the codec: nghttp2 events to the connection's exchanges ----

class H2MemberConnection::Codec final : public http2::ClientConnection::Handler {
 public:
  Codec(H2MemberConnection& owner, const http2::ClientSettings& settings)
      : owner_(owner), client_(*this, settings) {}
  http2::ClientConnection& client() { return client_; }

  void on_interim_response(int32_t stream_id, http::ResponseHead head) override;
  void on_response(int32_t stream_id, http::ResponseHead head, bool end_stream) override;
  void on_response_data(int32_t stream_id, const uint8_t* data, size_t length) override;
  void on_response_trailers(int32_t stream_id, std::vector<http::Header> trailers) override;
  void on_stream_close(int32_t stream_id, http2::StreamError error) override;
  void on_request_writable(int32_t stream_id) override;
  void on_goaway(int32_t, uint32_t) override {}  // the codec refuses new streams from now on
  void write_output(const uint8_t* data, size_t length) override {
    if (owner_.bev_) bufferevent_write(owner_.bev_.get(), data, length);
  }
  bool output_blocked() const override {
    return !owner_.bev_ || evbuffer_get_length(bufferevent_get_output(owner_.bev_.get())) >= kHighWatermark;
  }

 private:
  H2MemberConnection& owner_;
  http2::ClientConnection client_;
};

// ---- one exchange: one stream ----

class H2MemberConnection::Exchange final : public MemberExchange {
 public:
  Exchange(H2MemberConnection& connection, MemberExchange::Receiver& receiver, int32_t stream_id,
           uint32_t data_timeout_ms)
      : connection_(&connection), receiver_(receiver), stream_id_(stream_id), timeout_ms_(data_timeout_ms) {
    timer_.reset(evtimer_new(connection.pool_.base_, &Exchange::on_timer, this));
    arm();
  }
  ~Exchange() override {
    if (connection_ != nullptr) connection_->detach(stream_id_, true);
  }

  bool send_body(const uint8_t* data, size_t length, bool end) override {
    if (connection_ == nullptr) return true;  // over: the bytes go nowhere
    arm();
    http2::ClientConnection& client = connection_->codec_->client();
    client.submit_data(stream_id_, data, length, end);
    return connection_ == nullptr || !client.request_buffer_full(stream_id_);
  }

  void send_trailers(std::vector<http::Header> trailers) override {
    if (connection_ == nullptr) return;
    arm();
    connection_->codec_->client().submit_trailers(stream_id_, std::move(trailers));
  }

  void consume(size_t length) override {
    outstanding_ -= std::min(outstanding_, length);
    if (connection_ == nullptr) return;
    arm();
    connection_->codec_->client().consume(stream_id_, length);
  }

  MemberExchange::Receiver& receiver() { return receiver_; }
  // Something of the response arrived: the member is alive.
  void heard(size_t body_bytes) {
    outstanding_ += body_bytes;
    arm();
  }
  // The stream is over: the connection forgets this exchange before telling the receiver.
  void detached() {
    connection_ = nullptr;
    evtimer_del(timer_.get());
  }

 private:
  void arm() {
    timeval tv = net::timeval_from_ms(timeout_ms_);
    evtimer_add(timer_.get(), &tv);
  }

  // timeout_member_data per exchange, as on an HTTP/1.1 member connection: nothing from the
  // member that long, while the session has taken everything it was given, fails the exchange.
  static void on_timer(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<Exchange*>(arg);
    H2MemberConnection* connection = self->connection_;
    if (connection == nullptr) return;
    if (self->outstanding_ > 0) {  // the client is the slow side: its own timeout applies
      self->arm();
      return;
    }
    self->detached();
    connection->exchanges_.erase(self->stream_id_);
    connection->codec_->client().reset_stream(self->stream_id_);
    connection->settle();
    self->receiver_.on_exchange_failed(ExchangeError::kTimeout);  // may free self
  }

  H2MemberConnection* connection_;
  MemberExchange::Receiver& receiver_;
  int32_t stream_id_;
  uint32_t timeout_ms_;
  size_t outstanding_ = 0;  // body bytes delivered and not yet consumed
  net::EventPtr timer_;
};

void H2MemberConnection::Codec::on_response(int32_t stream_id, http::ResponseHead head, bool end_stream) {
  auto it = owner_.exchanges_.find(stream_id);
  if (it == owner_.exchanges_.end()) return;
  it->second->heard(0);
  it->second->receiver().on_exchange_response(std::move(head), end_stream);
}

void H2MemberConnection::Codec::on_interim_response(int32_t stream_id, http::ResponseHead head) {
  auto it = owner_.exchanges_.find(stream_id);
  if (it == owner_.exchanges_.end()) return;
  it->second->heard(0);
  it->second->receiver().on_exchange_interim(std::move(head));
}

void H2MemberConnection::Codec::on_response_trailers(int32_t stream_id, std::vector<http::Header> trailers) {
  auto it = owner_.exchanges_.find(stream_id);
  if (it == owner_.exchanges_.end()) return;
  it->second->heard(0);
  it->second->receiver().on_exchange_trailers(std::move(trailers));
}

void H2MemberConnection::Codec::on_response_data(int32_t stream_id, const uint8_t* data, size_t length) {
  auto it = owner_.exchanges_.find(stream_id);
  if (it == owner_.exchanges_.end()) {
    client_.consume(stream_id, length);
    return;
  }
  it->second->heard(length);
  it->second->receiver().on_exchange_data(data, length);
}

void H2MemberConnection::Codec::on_stream_close(int32_t stream_id, http2::StreamError error) {
  owner_.note_settings();  // a refused stream's retry should know the member's limit
  auto it = owner_.exchanges_.find(stream_id);
  if (it == owner_.exchanges_.end()) return;
  Exchange* exchange = it->second;
  owner_.exchanges_.erase(it);
  exchange->detached();
  // The receiver may free the exchange here; nothing touches it afterwards.
  if (error == http2::StreamError::kNone) {
    exchange->receiver().on_exchange_end();
  } else {
    exchange->receiver().on_exchange_failed(exchange_error(error));
  }
}

void H2MemberConnection::Codec::on_request_writable(int32_t stream_id) {
  auto it = owner_.exchanges_.find(stream_id);
  if (it != owner_.exchanges_.end()) it->second->receiver().on_exchange_writable();
}

// ---- the connection ----

H2MemberConnection::H2MemberConnection(H2MemberPool& pool, const H2Target& target)
    : pool_(pool), target_(target) {}

H2MemberConnection::~H2MemberConnection() {
  // The pool frees a connection only after close(), which detached every exchange.
  codec_.reset();
  bev_.reset();
}

bool H2MemberConnection::connect() {
  bev_.reset(bufferevent_socket_new(pool_.base_, -1, BEV_OPT_CLOSE_ON_FREE));
  if (!bev_ || bufferevent_socket_connect(bev_.get(), reinterpret_cast<const sockaddr*>(&target_.address),
                                          static_cast<int>(target_.address_length)) != 0) {
    bev_.reset();
    return false;
  }
  if (target_.tls) {
    // "Connected" means the handshake is done; the connect timeout bounds both.
    tls::TlsTransportOptions options;
    options.report_connected = true;
    options.encrypt_at_flush = true;  // adopted by the worker's WriteCoalescer once connected
    bev_ = tls::make_tls_bufferevent(pool_.base_, std::move(bev_),
                                     target_.tls->new_connection("", target_.endpoint_key),
                                     tls::TlsRole::kClient, std::move(options));
    if (!bev_) return false;
  }
  bufferevent_setcb(bev_.get(), nullptr, nullptr, &H2MemberConnection::on_event, this);
  timeval timeout = net::timeval_from_ms(target_.connect_timeout_ms);
  bufferevent_set_timeouts(bev_.get(), &timeout, &timeout);
  return true;
}

void H2MemberConnection::on_connected() {
  int one = 1;
  setsockopt(bufferevent_getfd(bev_.get()), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  net::use_engine_io(pool_.coalescer_, bev_.get());  // h2 or, when declined, HTTP/1.1
  if (target_.tls) {
    const SSL* ssl = tls::tls_ssl(bev_.get());
    if (ssl == nullptr || tls::negotiated_alpn(ssl) != "h2") {
      // The member chose HTTP/1.1 (or nothing): the connection goes to one waiter as such.
      pool_.decline(target_.key);
      bufferevent_setcb(bev_.get(), nullptr, nullptr, nullptr, nullptr);
      bufferevent_set_timeouts(bev_.get(), nullptr, nullptr);
      net::BufferEventPtr connection = std::move(bev_);
      state_ = State::kClosed;
      pool_.remove(this);
      while (!waiters_.empty()) {
        H2MemberPool::Waiter* waiter = waiters_.front();
        waiters_.pop_front();
        waiter->on_h2_declined(std::move(connection));  // null after the first
      }
      return;
    }
  }
  start_h2();
}

void H2MemberConnection::start_h2() {
  state_ = State::kReady;
  counted_ = true;
  auto& traffic = target_.stats->slot(pool_.worker_index_).traffic;
  traffic.total_connections.add(1);
  traffic.active_connections.add(1);
  http2::ClientSettings settings;
  settings.assumed_max_concurrent_streams = pool_.expected_max_streams(target_.key);
  codec_ = std::make_unique<Codec>(*this, settings);
  bufferevent_setcb(bev_.get(), &H2MemberConnection::on_read, &H2MemberConnection::on_write,
                    &H2MemberConnection::on_event, this);
  bufferevent_setwatermark(bev_.get(), EV_WRITE, kHighWatermark / 2, 0);
  bufferevent_enable(bev_.get(), EV_READ);  // writes go through the worker's WriteCoalescer
  codec_->client().flush();  // the preface and our SETTINGS
  // Each waiter opens its exchange now; one may end the connection (a write error later, never
  // here), so they are taken one at a time.
  while (!waiters_.empty() && state_ == State::kReady) {
    H2MemberPool::Waiter* waiter = waiters_.front();
    waiters_.pop_front();
    waiter->on_h2_ready(*this);
  }
  settle();
}

void H2MemberConnection::fail_connect() {
  target_.stats->slot(pool_.worker_index_).connect_failures.add(1);
  state_ = State::kClosed;
  bev_.reset();
  pool_.remove(this);
  while (!waiters_.empty()) {
    H2MemberPool::Waiter* waiter = waiters_.front();
    waiters_.pop_front();
    waiter->on_h2_failed();
  }
}

bool H2MemberConnection::has_room() const {
  return state_ == State::kReady && codec_->client().can_open_stream();
}

std::unique_ptr<MemberExchange> H2MemberConnection::open(MemberExchange::Receiver& receiver,
                                                         const http::RequestHead& head, bool end_stream,
                                                         uint32_t data_timeout_ms) {
  if (state_ != State::kReady) return nullptr;
  int32_t id = codec_->client().submit_request(head, end_stream);
  if (id <= 0) return nullptr;
  auto exchange = std::make_unique<Exchange>(*this, receiver, id, data_timeout_ms);
  exchanges_.emplace(id, exchange.get());
  settle();
  return exchange;
}

void H2MemberConnection::detach(int32_t stream_id, bool reset) {
  exchanges_.erase(stream_id);
  if (reset && state_ == State::kReady) codec_->client().reset_stream(stream_id);
  settle();
}

void H2MemberConnection::read_member() {
  if (state_ != State::kReady) return;
  evbuffer* input = bufferevent_get_input(bev_.get());
  while (evbuffer_get_length(input) > 0 && state_ == State::kReady) {
    evbuffer_iovec chunk;
    if (evbuffer_peek(input, -1, nullptr, &chunk, 1) < 1) break;
    bool ok = codec_->client().feed(static_cast<const uint8_t*>(chunk.iov_base), chunk.iov_len);
    if (state_ != State::kReady) return;
    evbuffer_drain(input, chunk.iov_len);
    if (!ok) {
      evbuffer_drain(input, evbuffer_get_length(input));
      break;
    }
  }
  settle();
}

// After any work: close a connection that is done; time it while it has no stream (idle).
void H2MemberConnection::settle() {
  if (state_ != State::kReady) return;
  http2::ClientConnection& client = codec_->client();
  note_settings();
  if (client.finished() || (client.goaway_received() && client.open_streams() == 0 && exchanges_.empty())) {
    close();
    return;
  }
  bool idle = client.open_streams() == 0 && exchanges_.empty();
  if (idle || idle != timing_idle_) {
    timing_idle_ = idle;
    timeval timeout = net::timeval_from_ms(pool_.idle_timeout_ms_);
    bufferevent_set_timeouts(bev_.get(), idle ? &timeout : nullptr, nullptr);
  }
}

void H2MemberConnection::note_settings() {
  if (settings_noted_ || !codec_ || !codec_->client().settings_received()) return;
  settings_noted_ = true;
  pool_.max_streams_[target_.key] = codec_->client().max_concurrent_streams();
}

void H2MemberConnection::close() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  pool_.remove(this);
  if (codec_) codec_->client().connection_lost();  // each open exchange fails (kLost/kTimeout)
  while (!exchanges_.empty()) {  // none should be left without a stream; be sure
    Exchange* exchange = exchanges_.begin()->second;
    exchanges_.erase(exchanges_.begin());
    exchange->detached();
    exchange->receiver().on_exchange_failed(ExchangeError::kLost);
  }
  if (counted_) target_.stats->slot(pool_.worker_index_).traffic.active_connections.sub(1);
  counted_ = false;
  bev_.reset();  // a TLS transport flushes its close_notify in the background
}

void H2MemberConnection::on_read(bufferevent*, void* arg) { static_cast<H2MemberConnection*>(arg)->read_member(); }

void H2MemberConnection::on_write(bufferevent*, void* arg) {
  auto* self = static_cast<H2MemberConnection*>(arg);
  if (self->state_ != State::kReady) return;
  self->codec_->client().flush();
  self->settle();
}

void H2MemberConnection::on_event(bufferevent*, short events, void* arg) {
  auto* self = static_cast<H2MemberConnection*>(arg);
  if (self->state_ == State::kConnecting) {
    if (events & BEV_EVENT_CONNECTED) {
      self->on_connected();
    } else {
      self->fail_connect();
    }
    return;
  }
  if (self->state_ != State::kReady) return;
  // The idle time without a stream (exchanges time themselves), EOF, or an error.
  if (events & BEV_EVENT_TIMEOUT) self->codec_->client().shutdown();  // GOAWAY, for the record
  self->close();
}

// ---- the pool ----

H2MemberPool::H2MemberPool(event_base* base, net::WriteCoalescer& coalescer, uint32_t worker_index,
                           uint32_t idle_timeout_ms)
    : base_(base), coalescer_(coalescer), worker_index_(worker_index), idle_timeout_ms_(idle_timeout_ms) {
  reap_event_.reset(event_new(base_, -1, 0, &H2MemberPool::on_reap, this));
}

H2MemberPool::~H2MemberPool() {
  clear();
  dead_.clear();
}

H2MemberPool::Acquired H2MemberPool::acquire(const H2Target& target, Waiter& waiter) {
  Connections& list = connections_[target.key];
  H2MemberConnection* joinable = nullptr;
  for (auto& connection : list) {
    if (connection->has_room()) return Acquired{connection.get(), false};
    if (connection->state_ == H2MemberConnection::State::kConnecting &&
        connection->waiters_.size() < expected_max_streams(target.key) && joinable == nullptr) {
      joinable = connection.get();
    }
  }
  if (joinable == nullptr) {
    auto connection = std::unique_ptr<H2MemberConnection>(new H2MemberConnection(*this, target));
    if (!connection->connect()) {
      target.stats->slot(worker_index_).connect_failures.add(1);
      return Acquired{};
    }
    joinable = connection.get();
    list.push_back(std::move(connection));
  }
  joinable->waiters_.push_back(&waiter);
  return Acquired{nullptr, true};
}

void H2MemberPool::cancel(Waiter& waiter) {
  for (auto& [key, list] : connections_) {
    for (auto& connection : list) connection->waiters_.remove(&waiter);
  }
}

bool H2MemberPool::declined(const std::string& key) const {
  auto it = declined_.find(key);
  return it != declined_.end() && monotonic_ms() - it->second < kDeclinedForMs;
}

void H2MemberPool::decline(const std::string& key) { declined_[key] = monotonic_ms(); }

uint32_t H2MemberPool::expected_max_streams(const std::string& key) const {
  auto it = max_streams_.find(key);
  uint32_t n = it == max_streams_.end() ? kMaxWaitersPerConnection : it->second;
  return std::max<uint32_t>(1, std::min<uint32_t>(n, kMaxWaitersPerConnection));
}

size_t H2MemberPool::connection_count() const {
  size_t n = 0;
  for (const auto& [key, list] : connections_) n += list.size();
  return n;
}

void H2MemberPool::remove(H2MemberConnection* connection) {
  auto it = connections_.find(connection->target_.key);
  if (it == connections_.end()) return;
  for (auto c = it->second.begin(); c != it->second.end(); ++c) {
    if (c->get() != connection) continue;
    dead_.push_back(std::move(*c));
    it->second.erase(c);
    break;
  }
  if (it->second.empty()) connections_.erase(it);
  if (reap_event_) event_active(reap_event_.get(), 0, 0);
}

void H2MemberPool::clear() {
  while (!connections_.empty()) {
    auto& list = connections_.begin()->second;
    H2MemberConnection* connection = list.front().get();
    if (connection->state_ == H2MemberConnection::State::kConnecting) {
      connection->waiters_.clear();  // their sessions are gone already
      connection->state_ = H2MemberConnection::State::kClosed;
      connection->bev_.reset();
      remove(connection);
    } else {
      connection->close();
    }
  }
  dead_.clear();  // never called from a connection's own callback
}

void H2MemberPool::on_reap(evutil_socket_t, short, void* arg) { static_cast<H2MemberPool*>(arg)->dead_.clear(); }

}  // namespace pharos::proxy
