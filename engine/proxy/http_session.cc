#include "engine/proxy/http_session.h"

#include <cstring>
#include <string_view>

#include "engine/net/bufferevent_settings.h"
#include "engine/proxy/h2_session.h"
#include "engine/proxy/header_rules.h"
#include "engine/proxy/h2_member_pool.h"
#include "engine/proxy/inserted_headers.h"
#include "engine/proxy/l7_request_facts.h"
#include "engine/proxy/member_connection_settings.h"
#include "engine/proxy/member_request.h"
#include "engine/proxy/member_response_head.h"
#include "engine/proxy/upstream_pool.h"
#include "engine/tls/client_certificate_info.h"
#include "engine/tls/tls_transport.h"

namespace pharos::proxy {

namespace {

constexpr int kMaxExchangeRetries = 2;

}  // namespace

HttpSession::HttpSession(WorkerContext& worker, net::BufferEventPtr connection, ClientAddress client,
                         std::shared_ptr<WorkerSnapshot> snapshot, const ListenerRuntime* listener)
    : worker_(worker),
      snapshot_(std::move(snapshot)),
      listener_(listener),
      peer_(std::move(client)),
      connector_(worker, *this),
      client_(std::move(connection)) {}

HttpSession::~HttpSession() = default;

void HttpSession::start() {
  auto& slot = listener_->stats->slot(worker_.index());
  slot.active_connections.add(1);
  slot.total_connections.add(1);
  bufferevent* bev = client_.get();
  bufferevent_setcb(bev, &HttpSession::on_client_read, &HttpSession::on_client_write,
                    &HttpSession::on_client_event, this);
  // No read watermark (see bound_client_input); the write one paces forward_response_body.
  bufferevent_setwatermark(bev, EV_WRITE, kHighWatermark / 2, 0);
  uint32_t first_ms = listener_->config->timeout_tcp_inspect_ms;
  if (first_ms == 0) first_ms = listener_->config->timeout_client_data_ms;
  timeval first = net::timeval_from_ms(first_ms);
  timeval data = net::timeval_from_ms(listener_->config->timeout_client_data_ms);
  bufferevent_set_timeouts(bev, &first, &data);
  bufferevent_enable(bev, EV_READ);
}

void HttpSession::drain() {
  draining_ = true;
  if (state_ == State::kReadingHead && evbuffer_get_length(bufferevent_get_input(client_.get())) == 0) {
    close();
  }
}

void HttpSession::config_changed() {
  if (worker_.current_snapshot()->shared->find_listener(listener_->socket_key) == nullptr) drain();
}

http1::Limits HttpSession::parser_limits() const {
  const auto& configured = snapshot_->shared->config->http;
  http1::Limits limits;
  limits.max_header_bytes = configured.max_header_bytes;
  limits.max_headers = configured.max_headers;
  return limits;
}

// The client's read timer runs through every exchange (a read timeout while the client waits
// for its response is ignored: on_client_event), so keep-alive requests do not re-arm it twice
// each. The wait for the next request is timed from now: libevent last re-armed the timer at
// a client read, no earlier than this transaction's start (net::restart_timeouts; the
// timeout also changes after the first request, which may run under timeout_tcp_inspect).
void HttpSession::restart_client_timeout(uint64_t transaction_us) {
  timeval timeout = net::timeval_from_ms(listener_->config->timeout_client_data_ms);
  net::restart_timeouts(client_.get(), &timeout, &timeout, transaction_us);
}

void HttpSession::refresh_snapshot() {
  const auto& newest = worker_.current_snapshot();
  if (newest == snapshot_) return;
  const ListenerRuntime* moved = newest->shared->find_listener(listener_->socket_key);
  if (moved == nullptr) {
    draining_ = true;  // the listener is gone: finish this connection
    return;
  }
  snapshot_ = newest;
  listener_ = moved;
}

// ---- request side ----

void HttpSession::read_request_head() {
  evbuffer* input = bufferevent_get_input(client_.get());
  size_t length = evbuffer_get_length(input);
  if (length == 0) return;
  if (hand_over_h2c()) return;
  if (start_us_ == 0) {
    // First bytes of a new request: an idle keep-alive connection moves to the newest config.
    refresh_snapshot();
    if (draining_) {
      close();
      return;
    }
    start_us_ = worker_.now_us();
  }
  const http1::Limits limits = parser_limits();
  size_t n = std::min<size_t>(length, limits.max_header_bytes);
  const char* data = reinterpret_cast<const char*>(evbuffer_pullup(input, static_cast<ssize_t>(n)));
  http1::ParseResult result = http1::parse_request_head(std::string_view(data, n), limits, &request_);
  if (result.status == http1::ParseStatus::kIncomplete) return;
  if (result.status == http1::ParseStatus::kError) {
    record_.path = http1::error_name(result.error);
    respond_local(400, records::Termination::kBadRequest);
    return;
  }
  begin_transaction();
}

// HTTP/2 with prior knowledge on an h2c listener: the connection's first bytes are the h2
// preface instead of a request line. The connection, preface still in its input buffer, goes to
// an H2Session; this session ends without a record (it saw no request). Without h2c the
// preface fails the HTTP/1 parser: 400.
// ALPN chose h2 during the TLS handshake (which is over once plaintext arrives).
bool HttpSession::negotiated_h2() const {
  const SSL* ssl = tls::tls_ssl(client_.get());
  return ssl != nullptr && tls::negotiated_alpn(ssl) == "h2";
}

bool HttpSession::hand_over_h2c() {
  static constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  if (transaction_seq_ != 0 || !(listener_->config->h2c || negotiated_h2())) return false;
  evbuffer* input = bufferevent_get_input(client_.get());
  size_t n = std::min(evbuffer_get_length(input), kPreface.size());
  const char* data = reinterpret_cast<const char*>(evbuffer_pullup(input, static_cast<ssize_t>(n)));
  if (std::string_view(data, n) != kPreface.substr(0, n)) return false;
  if (n < kPreface.size()) return true;  // wait for the rest of the preface
  state_ = State::kClosed;  // the connection is no longer ours; nothing below touches it
  worker_.hand_over(this, std::make_unique<H2Session>(worker_, std::move(client_), peer_, snapshot_,
                                                      listener_, /*connection_counted=*/true));
  return true;
}

void HttpSession::begin_transaction() {
  evbuffer* input = bufferevent_get_input(client_.get());
  ++transaction_seq_;
  record_ = records::TransactionRecord{};
  record_.kind = records::RecordKind::kHttp;
  record_.start_unix_us = worker_.wall_us() - (worker_.now_us() - start_us_);
  record_.listener_id = listener_->config->id;
  record_.client_address = peer_.text;
  if (const SSL* ssl = tls::tls_ssl(client_.get())) {
    record_.tls = true;
    record_.sni.assign(tls::client_server_name(ssl));
  }
  record_.client_port = peer_.port;
  if (client_rtt_us_ == 0) client_rtt_us_ = net::tcp_rtt_us(bufferevent_getfd(client_.get()));
  record_.client_rtt_us = client_rtt_us_;
  record_.method.assign(request_.method);
  record_.host.assign(request_.host);
  record_.path.assign(request_.target);
  record_.user_agent.assign(request_.user_agent);
  record_.bytes_in = request_.head_bytes;
  listener_->stats->slot(worker_.index()).bytes_in.add(request_.head_bytes);
  is_head_request_ = request_.method == "HEAD";
  client_keep_alive_ = request_.keep_alive && !draining_;
  if (!tls_headers_ready_) {
    // The client certificate cannot change on this connection: describe it once.
    tls_headers_ = client_certificate_headers(listener_->config->insert_headers, tls::tls_ssl(client_.get()));
    tls_headers_ready_ = true;
  }
  build_member_request(&member_request_head_);
  // L7 rules read the head, which points into the input buffer: decide before draining it.
  LocalAnswer local;
  pool_index_ = route_request(*listener_, request_, request_.host, request_.target,
                              [this] { return &client_certificate(); }, &local);
  if (local.status == 0 && pool_index_ >= 0) choose_sticky_member(snapshot_->shared->pools[pool_index_]);
  if (local.status == 0 && pool_index_ >= 0 &&
      snapshot_->shared->pools[pool_index_].config->member_http != config::MemberHttp::kHttp1) {
    neutral_request_ = version_neutral_request(request_);  // the head's views die with the drain
  }
  exchange_retries_ = 0;
  body_sent_to_exchange_ = false;
  request_chunks_.reset();
  evbuffer_drain(input, request_.head_bytes);
  request_body_.reset(request_.framing, request_.content_length);
  request_done_ = request_body_.done();
  if (!request_done_ && !body_prefix_valid(input)) {
    respond_local(400, records::Termination::kBadRequest);  // refused before any member sees it
    return;
  }
  response_head_done_ = response_done_ = false;
  interim_seen_ = false;
  retried_stale_ = false;
  request_sent_us_ = first_response_byte_us_ = 0;

  if (local.status != 0) {
    respond_local(local.status, local.why, local.location);
    return;
  }
  if (pool_index_ < 0) {
    respond_local(503, records::Termination::kNoMember);
    return;
  }
  const auto& pool = snapshot_->shared->pools[pool_index_];
  record_.pool_id = pool.config->id;
  state_ = State::kConnecting;
  uint64_t hash = peer_.hash_for(pool.config->lb_algorithm);
  connector_.start(snapshot_.get(), pool_index_, hash,
                   listener_->config->timeout_member_connect_ms, true, stickiness_.member());
}

void HttpSession::choose_sticky_member(const PoolRuntime& pool) {
  stickiness_.sticky_member(pool, peer_.text, request_.headers, worker_.now_us() / 1000000);
}

bool HttpSession::body_prefix_valid(evbuffer* input) const {
  // Decode what has already arrived with a throwaway decoder: a chunked body that is broken
  // from the start is refused before a member is chosen. Later bytes are checked as they stream.
  http1::BodyDecoder probe = request_body_;
  constexpr int kMaxChunks = 16;
  evbuffer_iovec chunks[kMaxChunks];
  int n = evbuffer_peek(input, -1, nullptr, chunks, kMaxChunks);
  for (int i = 0; i < std::min(n, kMaxChunks) && !probe.done(); ++i) {
    auto step = probe.feed(static_cast<const char*>(chunks[i].iov_base), chunks[i].iov_len);
    if (step.error != http1::Error::kNone) return false;
  }
  return true;
}

void HttpSession::build_member_request(std::string* out) const {
  const auto& inserts = listener_->config->insert_headers;
  out->clear();
  out->append(request_.method).append(" ").append(request_.target);
  out->append(request_.version_minor == 0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
  for (const auto& header : request_.headers) {
    if (is_hop_by_hop(header.name) || named_by_connection(request_, header.name)) continue;
    if (replaced_by_inserted_header(inserts, header.name)) continue;
    if (iequals(header.name, "content-length")) continue;  // one normalised copy below
    append_header(out, header.name, header.value);
  }
  if (request_.framing == http1::BodyFraming::kContentLength) {
    append_header(out, "Content-Length", std::to_string(request_.content_length));
  }
  append_inserted_headers(out, *listener_, peer_.text, tls_headers_);
  // Member connections are pooled: ask HTTP/1.0 members to keep them open too.
  if (request_.version_minor == 0) append_header(out, "Connection", "keep-alive");
  out->append("\r\n");
}

const MemberRuntime& HttpSession::take_member(int member_index, bool reused) {
  const auto& pool = snapshot_->shared->pools[pool_index_];
  const auto& member = pool.members[member_index];
  member_index_ = member_index;
  member_reused_ = reused;
  stickiness_.member_chosen(pool, member_index, worker_.now_us() / 1000000);
  record_.member_id = member.config->id;
  record_.connect_us = connector_.connect_us();
  return member;
}

void HttpSession::on_upstream_connected(net::BufferEventPtr connection, int member_index, bool reused) {
  const auto& member = take_member(member_index, reused);
  record_.retries = connector_.retries();
  auto& mslot = member.stats->slot(worker_.index()).traffic;
  member_ = std::move(connection);
  bufferevent* bev = member_.get();
  apply_member_connection_settings(
      bev, {&HttpSession::on_member_read, &HttpSession::on_member_write, &HttpSession::on_member_event, this},
      listener_->config->timeout_member_data_ms);
  state_ = State::kExchanging;
  bufferevent_write(bev, member_request_head_.data(), member_request_head_.size());
  mslot.bytes_in.add(member_request_head_.size());
  if (request_done_) {
    request_sent_us_ = worker_.now_us();
  } else {
    forward_request_body();
  }
}

void HttpSession::on_upstream_h2(H2MemberConnection& connection, int member_index, bool reused) {
  const auto& member = take_member(member_index, reused);
  record_.retries = static_cast<uint8_t>(connector_.retries() + exchange_retries_);
  const auto& pool = snapshot_->shared->pools[pool_index_];
  http::RequestHead head = member_request_head(neutral_request_, *listener_, pool, peer_.text, tls_headers_,
                                               member.endpoint_key);
  exchange_ = open_member_exchange(connection, *this, head, request_done_,
                                   listener_->config->timeout_member_data_ms,
                                   member.stats->slot(worker_.index()).traffic);
  if (!exchange_) {
    connector_.release_exchange(member_index);
    respond_local(502, records::Termination::kConnectFailed);
    return;
  }
  state_ = State::kExchanging;
  response_chunked_ = false;
  response_trailers_.clear();
  unconsumed_ = 0;
  if (request_done_) {
    request_sent_us_ = worker_.now_us();
    return;
  }
  // "Expect: 100-continue" went to the member: its 100 (on_exchange_interim) lets the body come.
  forward_request_body_to_exchange();
}

void HttpSession::forward_request_body_to_exchange() {
  if (request_done_ || !exchange_) return;
  evbuffer* input = bufferevent_get_input(client_.get());
  auto& lslot = listener_->stats->slot(worker_.index());
  auto& mslot = snapshot_->shared->pools[pool_index_].members[member_index_].stats->slot(worker_.index()).traffic;
  const bool chunked = request_.framing == http1::BodyFraming::kChunked;
  bool room = true;
  while (!request_body_.done() && room) {
    evbuffer_iovec chunk;
    if (evbuffer_peek(input, -1, nullptr, &chunk, 1) < 1 || chunk.iov_len == 0) break;
    auto [step, payload] = feed_payload(request_body_, chunked ? &request_chunks_ : nullptr,
                                        static_cast<const char*>(chunk.iov_base), chunk.iov_len, &scratch_);
    if (step.error != http1::Error::kNone) {
      record_.path = http1::error_name(step.error);
      respond_local(400, records::Termination::kBadRequest);
      return;
    }
    if (step.consumed == 0) break;
    record_.bytes_in += step.consumed;
    lslot.bytes_in.add(step.consumed);
    mslot.bytes_in.add(payload.size());
    body_sent_to_exchange_ = true;
    // A chunked body's trailer section ends it as a trailing HEADERS frame.
    std::vector<http::Header> trailers;
    if (chunked && request_body_.done() && !request_chunks_.trailers(parser_limits().max_headers, &trailers)) {
      respond_local(400, records::Termination::kBadRequest);
      return;
    }
    room = exchange_->send_body(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(),
                                request_body_.done() && trailers.empty());
    evbuffer_drain(input, step.consumed);
    if (!exchange_) return;  // cannot happen inside send_body, but stay safe
    if (!trailers.empty()) exchange_->send_trailers(std::move(trailers));
  }
  if (request_body_.done()) {
    request_done_ = true;
    request_sent_us_ = worker_.now_us();
    if (response_done_) finish_transaction();
    return;
  }
  // The member's windows are shut: stop reading the client until the exchange drains.
  if (!room) pause_client_reading();
}

void HttpSession::on_exchange_writable() {
  if (resume_client_reading()) forward_request_body_to_exchange();
}

void HttpSession::on_exchange_response(http::ResponseHead member_head, bool end_stream) {
  first_response_byte_us_ = worker_.now_us();
  const uint16_t status = member_head.status;
  const bool no_body = is_head_request_ || status == 204 || status == 304;
  if (draining_) client_keep_alive_ = false;
  std::string head;
  head.append("HTTP/1.1 ").append(std::to_string(status)).append(" ").append(reason_phrase(status)).append("\r\n");
  const auto& pool = snapshot_->shared->pools[pool_index_];
  const uint64_t now_s = worker_.now_us() / 1000000;
  std::string content_length;
  size_t member_head_bytes = 0;
  for (const auto& header : member_head.headers) {
    member_head_bytes += header.name.size() + header.value.size();
    if (is_connection_specific(header.name)) continue;
    if (iequals(header.name, "content-length")) {
      content_length = header.value;  // nghttp2 has checked it against the DATA
      continue;
    }
    if (!listener_->hsts_value.empty() && iequals(header.name, "strict-transport-security")) continue;
    stickiness_.response_header(pool, member_index_, header.name, header.value, now_s);
    append_header(&head, header.name, header.value);
  }
  if (!listener_->hsts_value.empty()) append_header(&head, "Strict-Transport-Security", listener_->hsts_value);
  if (!stickiness_.set_cookie().empty()) {
    append_header(&head, "Set-Cookie", stickiness_.set_cookie());
    append_header(&head, "Cache-Control", "private");
  }
  if (!content_length.empty()) {
    append_header(&head, "Content-Length", content_length);
  } else if (end_stream && !no_body) {
    append_header(&head, "Content-Length", "0");
  } else if (!no_body && !end_stream) {
    if (request_.version_minor == 1) {
      append_header(&head, "Transfer-Encoding", "chunked");
      response_chunked_ = true;
    } else {
      client_keep_alive_ = false;  // HTTP/1.0 has no chunks: the close ends the body
    }
  }
  if (!client_keep_alive_) {
    append_header(&head, "Connection", "close");
  } else if (request_.version_minor == 0) {
    append_header(&head, "Connection", "keep-alive");
  }
  head.append("\r\n");
  bufferevent_write(client_.get(), head.data(), head.size());
  record_.status = status;
  record_.bytes_out += head.size();
  listener_->stats->slot(worker_.index()).bytes_out.add(head.size());
  auto& mslot = pool.members[member_index_].stats->slot(worker_.index());
  mslot.responses[static_cast<int>(stats::classify_status(status))].add(1);
  mslot.traffic.bytes_out.add(member_head_bytes);
  response_head_done_ = true;
  if (end_stream) {
    response_done_ = true;
    member_keep_alive_ = true;  // the exchange ended cleanly; the connection is not ours anyway
    if (!request_done_) client_keep_alive_ = false;  // the rest of the body is not read
    finish_transaction();
  }
}

// A member's 1xx, passed on as HttpSession::read_response() passes one from an HTTP/1.1 member:
// as a status line, except to an HTTP/1.0 client (RFC 9110 15.2); not the response, so the
// record's status and timings stay the final response's.
void HttpSession::on_exchange_interim(http::ResponseHead member_head) {
  size_t member_head_bytes = 0;
  for (const auto& header : member_head.headers) member_head_bytes += header.name.size() + header.value.size();
  const auto& member = snapshot_->shared->pools[pool_index_].members[member_index_];
  member.stats->slot(worker_.index()).traffic.bytes_out.add(member_head_bytes);
  interim_seen_ = true;
  if (request_.version_minor == 0) return;
  std::string head;
  head.append("HTTP/1.1 ").append(std::to_string(member_head.status)).append(" ");
  head.append(reason_phrase(member_head.status)).append("\r\n");
  for (const auto& header : member_head.headers) {
    if (is_connection_specific(header.name) || iequals(header.name, "content-length")) continue;
    append_header(&head, header.name, header.value);
  }
  head.append("\r\n");
  bufferevent_write(client_.get(), head.data(), head.size());
  record_.bytes_out += head.size();
  listener_->stats->slot(worker_.index()).bytes_out.add(head.size());
}

// A member's trailer section: the last chunk carries it when the client's body is chunked; an
// HTTP/1.0 client, or a body framed by Content-Length, cannot carry it. Bounded like a chunked
// trailer section from an HTTP/1.1 member.
void HttpSession::on_exchange_trailers(std::vector<http::Header> trailers) {
  size_t member_bytes = 0;
  for (const auto& field : trailers) member_bytes += field.name.size() + field.value.size();
  const auto& member = snapshot_->shared->pools[pool_index_].members[member_index_];
  member.stats->slot(worker_.index()).traffic.bytes_out.add(member_bytes);
  const http1::Limits limits = parser_limits();
  if (!trailers_to_forward(&trailers, limits.max_headers, limits.max_trailer_bytes)) {
    abort_transaction(records::Termination::kBadResponse);
    return;
  }
  if (response_chunked_) response_trailers_ = std::move(trailers);
}

void HttpSession::on_exchange_data(const uint8_t* data, size_t length) {
  evbuffer* output = bufferevent_get_output(client_.get());
  size_t written = length;
  if (response_chunked_ && length > 0) {
    char size_line[24];
    int n = snprintf(size_line, sizeof(size_line), "%zx\r\n", length);
    evbuffer_add(output, size_line, static_cast<size_t>(n));
    evbuffer_add(output, data, length);
    evbuffer_add(output, "\r\n", 2);
    written += static_cast<size_t>(n) + 2;
  } else {
    evbuffer_add(output, data, length);
  }
  record_.bytes_out += written;
  listener_->stats->slot(worker_.index()).bytes_out.add(written);
  snapshot_->shared->pools[pool_index_].members[member_index_].stats->slot(worker_.index()).traffic.bytes_out.add(length);
  // The member's stream window reopens only as the client takes the body (on_client_write).
  if (evbuffer_get_length(output) >= kHighWatermark) {
    unconsumed_ += length;
  } else if (exchange_) {
    exchange_->consume(unconsumed_ + length);
    unconsumed_ = 0;
  }
}

void HttpSession::on_exchange_end() {
  if (response_chunked_) {
    std::string last_chunk = "0\r\n";
    for (const auto& field : response_trailers_) append_header(&last_chunk, field.name, field.value);
    last_chunk.append("\r\n");
    response_trailers_.clear();
    bufferevent_write(client_.get(), last_chunk.data(), last_chunk.size());
    record_.bytes_out += last_chunk.size();
    listener_->stats->slot(worker_.index()).bytes_out.add(last_chunk.size());
  }
  response_done_ = true;
  member_keep_alive_ = true;
  if (!request_done_) client_keep_alive_ = false;  // the member did not wait for the whole body
  finish_transaction();
}

void HttpSession::on_exchange_failed(ExchangeError error) {
  exchange_.reset();  // over already: nothing to cancel
  connector_.release_exchange(member_index_);
  const bool unprocessed =
      error == ExchangeError::kRefused ||
      (error == ExchangeError::kLost && member_reused_ && first_response_byte_us_ == 0 && !interim_seen_);
  if (!response_head_done_ && unprocessed && !body_sent_to_exchange_ && exchange_retries_ < kMaxExchangeRetries) {
    // The member did not take the request (GOAWAY above its last stream id, REFUSED_STREAM, or
    // a pooled connection that was already going) and no body byte has left the client's
    // buffer: send it again, on another connection.
    ++exchange_retries_;
    state_ = State::kConnecting;
    const auto& pool = snapshot_->shared->pools[pool_index_];
    connector_.start(snapshot_.get(), pool_index_, peer_.hash_for(pool.config->lb_algorithm),
                     listener_->config->timeout_member_connect_ms, true, stickiness_.member());
    return;
  }
  if (error == ExchangeError::kTimeout) {
    respond_local(504, records::Termination::kMemberTimeout);
  } else {
    respond_local(502, records::Termination::kMemberReset);  // reset or lost: 502, or a cut
  }
}

void HttpSession::on_upstream_failed(records::Termination why) {
  record_.retries = connector_.retries();
  respond_local(why == records::Termination::kNoMember ? 503 : 502, why);
}

void HttpSession::forward_request_body() {
  if (request_done_ || !member_) return;
  evbuffer* input = bufferevent_get_input(client_.get());
  evbuffer* output = bufferevent_get_output(member_.get());
  auto& lslot = listener_->stats->slot(worker_.index());
  auto& mslot = snapshot_->shared->pools[pool_index_].members[member_index_].stats->slot(worker_.index()).traffic;
  while (!request_body_.done()) {
    evbuffer_iovec chunk;
    if (evbuffer_peek(input, -1, nullptr, &chunk, 1) < 1 || chunk.iov_len == 0) break;
    auto step = request_body_.feed(static_cast<const char*>(chunk.iov_base), chunk.iov_len);
    if (step.error != http1::Error::kNone) {
      record_.path = http1::error_name(step.error);
      respond_local(400, records::Termination::kBadRequest);
      return;
    }
    if (step.consumed == 0) break;
    evbuffer_remove_buffer(input, output, step.consumed);
    record_.bytes_in += step.consumed;
    lslot.bytes_in.add(step.consumed);
    mslot.bytes_in.add(step.consumed);
  }
  if (request_body_.done()) {
    request_done_ = true;
    request_sent_us_ = worker_.now_us();
    if (response_done_) finish_transaction();
    return;
  }
  if (evbuffer_get_length(output) >= kHighWatermark) pause_client_reading();
}

// ---- response side ----

void HttpSession::read_response() {
  evbuffer* input = bufferevent_get_input(member_.get());
  while (!response_head_done_) {
    if (evbuffer_get_length(input) == 0) return;
    if (first_response_byte_us_ == 0) first_response_byte_us_ = worker_.now_us();
    const MemberHead found = read_member_head(input, parser_limits(), is_head_request_, &response_);
    if (found == MemberHead::kIncomplete) return;
    if (found == MemberHead::kBad) {
      respond_local(502, records::Termination::kBadResponse);
      return;
    }
    if (found == MemberHead::kInterim) {
      // Interim response (100 Continue, 103): pass it on and wait for the final one, except to
      // an HTTP/1.0 client, which cannot tell it from the response (RFC 9110 15.2). It is not
      // the response: the record's status and timings are the final one's.
      size_t head = response_.head_bytes;
      const auto& member = snapshot_->shared->pools[pool_index_].members[member_index_];
      member.stats->slot(worker_.index()).traffic.bytes_out.add(head);
      if (request_.version_minor == 0) {
        evbuffer_drain(input, head);
      } else {
        evbuffer_remove_buffer(input, bufferevent_get_output(client_.get()), head);
        record_.bytes_out += head;
        listener_->stats->slot(worker_.index()).bytes_out.add(head);
      }
      interim_seen_ = true;
      first_response_byte_us_ = 0;
      continue;
    }
    if (!send_response_head()) return;
  }
  forward_response_body();
}

bool HttpSession::send_response_head() {
  // Until-close framing ends by closing, so the client connection cannot stay open after it.
  if (response_.framing == http1::BodyFraming::kUntilClose) client_keep_alive_ = false;
  if (draining_) client_keep_alive_ = false;
  member_keep_alive_ = response_.keep_alive && response_.framing != http1::BodyFraming::kUntilClose;
  std::string head;
  head.reserve(response_.head_bytes + 64);
  head.append("HTTP/1.1 ").append(std::to_string(response_.status)).append(" ");
  head.append(response_.reason).append("\r\n");
  const auto& pool = snapshot_->shared->pools[pool_index_];
  const uint64_t now_s = worker_.now_us() / 1000000;
  for (const auto& header : response_.headers) {
    if (is_hop_by_hop(header.name) || named_by_connection(response_, header.name)) continue;
    if (iequals(header.name, "content-length")) continue;  // one normalised copy below
    if (!listener_->hsts_value.empty() && iequals(header.name, "strict-transport-security")) continue;
    stickiness_.response_header(pool, member_index_, header.name, header.value, now_s);
    append_header(&head, header.name, header.value);
  }
  if (!listener_->hsts_value.empty()) append_header(&head, "Strict-Transport-Security", listener_->hsts_value);
  if (!stickiness_.set_cookie().empty()) {
    append_header(&head, "Set-Cookie", stickiness_.set_cookie());
    append_header(&head, "Cache-Control", "private");  // a shared cache must not hand it to others
  }
  if (response_.framing == http1::BodyFraming::kContentLength ||
      (response_.framing == http1::BodyFraming::kNone && response_.content_length > 0)) {
    append_header(&head, "Content-Length", std::to_string(response_.content_length));
  }
  if (!client_keep_alive_) {
    append_header(&head, "Connection", "close");
  } else if (request_.version_minor == 0) {
    append_header(&head, "Connection", "keep-alive");
  }
  head.append("\r\n");
  evbuffer* input = bufferevent_get_input(member_.get());
  evbuffer_drain(input, response_.head_bytes);
  bufferevent_write(client_.get(), head.data(), head.size());
  record_.status = response_.status;
  record_.bytes_out += head.size();
  listener_->stats->slot(worker_.index()).bytes_out.add(head.size());
  auto& mslot = pool.members[member_index_].stats->slot(worker_.index());
  mslot.responses[static_cast<int>(stats::classify_status(response_.status))].add(1);
  mslot.traffic.bytes_out.add(response_.head_bytes);
  response_head_done_ = true;
  response_body_.reset(response_.framing, response_.content_length);
  return true;
}

void HttpSession::forward_response_body() {
  evbuffer* input = bufferevent_get_input(member_.get());
  evbuffer* output = bufferevent_get_output(client_.get());
  auto& lslot = listener_->stats->slot(worker_.index());
  auto& mslot = snapshot_->shared->pools[pool_index_].members[member_index_].stats->slot(worker_.index()).traffic;
  while (!response_body_.done()) {
    evbuffer_iovec chunk;
    if (evbuffer_peek(input, -1, nullptr, &chunk, 1) < 1 || chunk.iov_len == 0) break;
    auto step = response_body_.feed(static_cast<const char*>(chunk.iov_base), chunk.iov_len);
    if (step.error != http1::Error::kNone) {
      abort_transaction(records::Termination::kBadResponse);
      return;
    }
    if (step.consumed == 0) break;
    evbuffer_remove_buffer(input, output, step.consumed);
    record_.bytes_out += step.consumed;
    lslot.bytes_out.add(step.consumed);
    mslot.bytes_out.add(step.consumed);
  }
  if (response_body_.done()) {
    response_done_ = true;
    if (!request_done_) {
      // The member answered before the request body ended: neither connection can be reused.
      client_keep_alive_ = false;
      member_keep_alive_ = false;
    }
    finish_transaction();
    return;
  }
  if (evbuffer_get_length(output) >= kHighWatermark) {
    bufferevent_disable(member_.get(), EV_READ);
    member_reading_paused_ = true;
  }
}

// ---- ends ----

void HttpSession::release_member(bool reusable) {
  connector_.cancel();
  if (exchange_) {
    exchange_.reset();  // resets the stream if it is still open
    connector_.release_exchange(member_index_);
  }
  if (!member_) return;
  connector_.release(std::move(member_), member_index_, reusable);
  member_reading_paused_ = false;
}

void HttpSession::finish_transaction() {
  uint64_t now = worker_.now_us();
  const uint64_t transaction_us = now - start_us_;
  record_.total_us = static_cast<uint32_t>(transaction_us);
  if (first_response_byte_us_ != 0) {
    uint64_t sent = request_sent_us_ != 0 ? request_sent_us_ : start_us_;
    record_.ttfb_us = static_cast<uint32_t>(first_response_byte_us_ - std::min(first_response_byte_us_, sent));
    record_.transfer_us = static_cast<uint32_t>(now - first_response_byte_us_);
  }
  if (record_.termination != records::Termination::kNormal) {
    listener_->stats->slot(worker_.index()).request_errors.add(1);
  }
  worker_.emit(record_);
  release_member(member_keep_alive_ && request_done_ && response_done_);
  start_us_ = 0;
  member_index_ = -1;
  if (client_keep_alive_ && !client_eof_ && !draining_) {
    state_ = State::kReadingHead;
    restart_client_timeout(transaction_us);
    refresh_snapshot();
    resume_client_reading();
    if (!draining_) {
      read_request_head();
      return;
    }
  }
  close_when_flushed();
}

const tls::ClientCertificateInfo& HttpSession::client_certificate() {
  if (!certificate_) certificate_ = tls::client_certificate_info(tls::tls_ssl(client_.get()));
  return *certificate_;
}

void HttpSession::respond_local(uint16_t status, records::Termination why, std::string_view location) {
  if (response_head_done_) {
    abort_transaction(why);
    return;
  }
  const char* body = local_response_body(status, why);
  std::string response = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) + "\r\n";
  if (!location.empty()) append_header(&response, "Location", location);
  response += "Content-Type: text/plain\r\nContent-Length: " + std::to_string(strlen(body)) +
              "\r\nConnection: close\r\n\r\n" + body;
  bufferevent_write(client_.get(), response.data(), response.size());
  listener_->stats->slot(worker_.index()).bytes_out.add(response.size());
  record_.status = status;
  record_.termination = why;
  record_.bytes_out += response.size();
  if (start_us_ == 0) start_us_ = worker_.now_us();
  client_keep_alive_ = false;
  member_keep_alive_ = false;
  response_head_done_ = response_done_ = true;
  finish_transaction();
}

void HttpSession::abort_transaction(records::Termination why) {
  record_.termination = why;
  client_keep_alive_ = false;
  member_keep_alive_ = false;
  if (start_us_ == 0) start_us_ = worker_.now_us();
  uint64_t now = worker_.now_us();
  record_.total_us = static_cast<uint32_t>(now - start_us_);
  listener_->stats->slot(worker_.index()).request_errors.add(1);
  worker_.emit(record_);
  release_member(false);
  close();
}

void HttpSession::close_when_flushed() {
  state_ = State::kClosing;
  bufferevent_disable(client_.get(), EV_READ);
  if (evbuffer_get_length(bufferevent_get_output(client_.get())) == 0) {
    close();
    return;
  }
  bufferevent_setwatermark(client_.get(), EV_WRITE, 0, 0);
}

void HttpSession::close() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  release_member(false);
  listener_->stats->slot(worker_.index()).active_connections.sub(1);
  tls::tls_queue_close_notify(client_.get());  // leaves with the last response, in one write
  client_.reset();
  worker_.release(this);
}

// ---- libevent callbacks: forward to the owner ----

void HttpSession::on_client_read(bufferevent*, void* arg) {
  auto* self = static_cast<HttpSession*>(arg);
  switch (self->state_) {
    case State::kReadingHead: self->read_request_head(); break;
    case State::kExchanging:
      if (self->exchange_) {
        self->forward_request_body_to_exchange();
      } else {
        self->forward_request_body();
      }
      break;
    default: break;  // connecting: bytes wait; closing: ignored
  }
  self->bound_client_input();
}

// The client's input holds at most about kHighWatermark (plus one read) during a transaction:
// bytes that wait there (pipelined requests, a body while connecting) stop the reading, which
// resumes where the session consumes them (finish_transaction, on_member_write,
// on_exchange_writable). A request head is bounded by the parser's max_header_bytes instead.
// libevent's read watermark would do the same but re-arms the read timer at every change of
// the input, twice per request.
void HttpSession::bound_client_input() {
  if (client_reading_paused_) return;
  if (state_ != State::kConnecting && state_ != State::kExchanging) return;
  if (evbuffer_get_length(bufferevent_get_input(client_.get())) < kHighWatermark) return;
  pause_client_reading();
}

void HttpSession::pause_client_reading() {
  bufferevent_disable(client_.get(), EV_READ);
  client_reading_paused_ = true;
}

bool HttpSession::resume_client_reading() {
  if (!client_reading_paused_) return false;
  client_reading_paused_ = false;
  bufferevent_enable(client_.get(), EV_READ);
  return true;
}

void HttpSession::on_client_write(bufferevent*, void* arg) {
  auto* self = static_cast<HttpSession*>(arg);
  if (self->state_ == State::kClosing) {
    if (evbuffer_get_length(bufferevent_get_output(self->client_.get())) == 0) self->close();
    return;
  }
  if (self->exchange_ && self->unconsumed_ > 0) {
    size_t n = self->unconsumed_;
    self->unconsumed_ = 0;
    self->exchange_->consume(n);
    return;
  }
  if (self->member_reading_paused_ && self->member_) {
    self->member_reading_paused_ = false;
    bufferevent_enable(self->member_.get(), EV_READ);
    self->read_response();
  }
}

void HttpSession::on_client_event(bufferevent*, short events, void* arg) {
  auto* self = static_cast<HttpSession*>(arg);
  bool in_transaction = self->state_ == State::kConnecting || self->state_ == State::kExchanging;
  if (events & BEV_EVENT_EOF) {
    self->client_eof_ = true;
    if (in_transaction && self->request_done_) {
      self->client_keep_alive_ = false;  // half-closed client: answer, then close
      return;
    }
    if (in_transaction) {
      self->abort_transaction(records::Termination::kClientReset);
    } else {
      self->close();
    }
    return;
  }
  if ((events & BEV_EVENT_TIMEOUT) && (events & BEV_EVENT_READING) && in_transaction && self->request_done_) {
    // The client waits for its response: not a client timeout. libevent stopped reading.
    bufferevent_enable(self->client_.get(), EV_READ);
    return;
  }
  if ((events & BEV_EVENT_TIMEOUT) && self->state_ == State::kReadingHead) {
    if (evbuffer_get_length(bufferevent_get_input(self->client_.get())) == 0) {
      self->close();  // idle keep-alive connection
    } else {
      self->respond_local(408, records::Termination::kClientTimeout);
    }
    return;
  }
  if (in_transaction) {
    self->abort_transaction((events & BEV_EVENT_TIMEOUT) ? records::Termination::kClientTimeout
                                                         : records::Termination::kClientReset);
  } else {
    self->close();
  }
}

void HttpSession::on_member_read(bufferevent*, void* arg) {
  static_cast<HttpSession*>(arg)->read_response();
}

void HttpSession::on_member_write(bufferevent*, void* arg) {
  auto* self = static_cast<HttpSession*>(arg);
  if (self->resume_client_reading()) self->forward_request_body();
}

void HttpSession::on_member_event(bufferevent*, short events, void* arg) {
  auto* self = static_cast<HttpSession*>(arg);
  if (events & BEV_EVENT_TIMEOUT) {
    self->respond_local(504, records::Termination::kMemberTimeout);
    return;
  }
  if ((events & BEV_EVENT_EOF) && self->response_head_done_) {
    uint64_t seq = self->transaction_seq_;
    self->forward_response_body();  // bytes that came with the close
    if (seq != self->transaction_seq_ || self->response_done_ || self->state_ != State::kExchanging) {
      return;  // that transaction already ended
    }
    if (self->response_body_.finish_on_close()) {
      self->response_done_ = true;
      self->member_keep_alive_ = false;
      self->finish_transaction();
    } else {
      self->abort_transaction(records::Termination::kMemberReset);
    }
    return;
  }
  bool nothing_received = self->first_response_byte_us_ == 0 && !self->interim_seen_;
  if (nothing_received && self->member_reused_ && !self->retried_stale_ &&
      self->request_.framing == http1::BodyFraming::kNone) {
    // A pooled connection the member had already closed: retry once on a fresh connection.
    self->retried_stale_ = true;
    self->release_member(false);
    self->state_ = State::kConnecting;
    const auto& pool = self->snapshot_->shared->pools[self->pool_index_];
    uint64_t hash = self->peer_.hash_for(pool.config->lb_algorithm);
    self->connector_.start(self->snapshot_.get(), self->pool_index_, hash,
                           self->listener_->config->timeout_member_connect_ms, false,
                           self->stickiness_.member());
    return;
  }
  self->respond_local(502, records::Termination::kMemberReset);
}

}  // namespace pharos::proxy
