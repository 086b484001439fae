#include "engine/proxy/h2_session.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>

#include "engine/http/ascii_case.h"
#include "engine/http1/parser.h"
#include "engine/net/bufferevent_settings.h"
#include "engine/net/socket_ops.h"
#include "engine/proxy/chunk_payload.h"
#include "engine/proxy/header_rules.h"
#include "engine/proxy/session_persistence.h"
#include "engine/proxy/inserted_headers.h"
#include "engine/proxy/l7_request_facts.h"
#include "engine/proxy/member_connection_settings.h"
#include "engine/proxy/member_request.h"
#include "engine/proxy/member_response_head.h"
#include "engine/proxy/upstream_connector.h"
#include "engine/proxy/upstream_pool.h"
#include "engine/tls/client_certificate_info.h"
#include "engine/tls/tls_transport.h"

namespace pharos::proxy {

namespace {

// Interim responses relayed per stream; a member sending more has the rest dropped, so it
// cannot queue frames for a client that is not reading.
constexpr int kMaxInterimResponses = 8;
// Request body kept for sending again when an h2 member refuses the stream; beyond it, 502.
constexpr size_t kReplayLimit = 64 * 1024;
constexpr int kMaxExchangeRetries = 2;

}  // namespace

// ---- one stream: one transaction towards one member connection ----

class H2Session::Stream final : private UpstreamConnector::Observer, private MemberExchange::Receiver {
 public:
  Stream(H2Session& session, int32_t id, http::RequestHead head, bool end_stream)
      : session_(session),
        worker_(session.worker_),
        snapshot_(session.snapshot_),
        listener_(session.listener_),
        id_(id),
        head_(std::move(head)),
        connector_(session.worker_, *this),
        request_end_(end_stream),
        request_has_body_(!end_stream) {}

  ~Stream() override { release_member(false); }

  void begin();
  void on_request_data(const uint8_t* data, size_t length);
  void on_request_end();
  void on_request_trailers(std::vector<http::Header> trailers);
  void on_request_error(uint16_t status);
  void on_response_writable();
  // The codec closed the stream (or the connection is going): emit the record, drop the member.
  void end(uint32_t error_code);

 private:
  void on_upstream_connected(net::BufferEventPtr connection, int member_index, bool reused) override;
  void on_upstream_h2(H2MemberConnection& connection, int member_index, bool reused) override;
  void on_upstream_failed(records::Termination why) override;
  // The member the connector chose, for either protocol: remembered, told to stickiness, and
  // put in the record (the retries aside: each protocol counts its own).
  const MemberRuntime& take_member(int member_index, bool reused);

  // MemberExchange::Receiver (h2 members)
  void on_exchange_interim(http::ResponseHead head) override;
  void on_exchange_response(http::ResponseHead head, bool end_stream) override;
  void on_exchange_data(const uint8_t* data, size_t length) override;
  void on_exchange_trailers(std::vector<http::Header> trailers) override;
  void on_exchange_end() override;
  void on_exchange_failed(ExchangeError error) override;
  void on_exchange_writable() override;
  void send_to_exchange(const uint8_t* data, size_t length, bool end);
  // The end of the request body towards the h2 member: the client's trailer section, or none.
  void end_exchange_body();
  // Keeps request body bytes for a retry on another h2 connection, up to kReplayLimit.
  void remember_for_replay(const uint8_t* data, size_t length);
  // One header of an h2 member's response head, as the client gets it (into `head`).
  void filter_response_header(std::string_view name, std::string_view value, http::ResponseHead* head,
                              uint64_t now_s);

  void build_member_request();
  void write_to_member(const char* data, size_t length);
  void end_chunked_body();
  void credit();
  void read_response();
  void relay_interim_response();
  // A 1xx head as the client gets it, as a non-final HEADERS frame (up to kMaxInterimResponses).
  void submit_interim_head(const http::ResponseHead& head, size_t head_bytes);
  bool send_response_head();
  void forward_response_body();
  void response_complete();
  void respond_local(uint16_t status, records::Termination why, std::string_view location = {});
  void abort(records::Termination why);
  void release_member(bool reusable);
  http1::Limits parser_limits() const;
  const MemberRuntime& member() const { return snapshot_->shared->pools[pool_index_].members[member_index_]; }

  static void on_member_read(bufferevent* bev, void* arg);
  static void on_member_write(bufferevent* bev, void* arg);
  static void on_member_event(bufferevent* bev, short events, void* arg);

  H2Session& session_;
  WorkerContext& worker_;
  std::shared_ptr<WorkerSnapshot> snapshot_;  // the snapshot this stream started on
  const ListenerRuntime* listener_;
  int32_t id_;
  http::RequestHead head_;
  UpstreamConnector connector_;
  net::BufferEventPtr member_;
  // Request body bytes (payload, unframed) that arrived before the member connection.
  net::EvbufferPtr pending_{evbuffer_new()};
  // h2 members: the exchange, and what it takes to send the request again on another
  // connection when the member refuses the stream (GOAWAY, REFUSED_STREAM).
  std::unique_ptr<MemberExchange> exchange_;
  std::string replay_;
  bool replayable_ = true;
  bool exchange_blocked_ = false;  // send_body() said full: wait for on_exchange_writable
  int exchange_retries_ = 0;
  size_t unconsumed_ = 0;  // response body bytes the client codec still holds
  std::string member_request_head_;
  int pool_index_ = -1;
  int member_index_ = -1;
  Stickiness stickiness_;
  bool member_reused_ = false;
  bool retried_stale_ = false;
  bool chunked_request_ = false;
  bool request_end_;
  bool request_has_body_;
  bool request_sent_ = false;  // the member has the whole request
  std::string request_trailers_;  // the client's trailer section, framed for a chunked body
  std::vector<http::Header> request_trailer_fields_;  // the same fields, for an h2 member
  std::vector<http::Header> response_trailers_;       // an h2 member's, until on_exchange_end
  size_t uncredited_ = 0;      // request body bytes received but not yet passed on
  bool is_head_ = false;

  http1::ResponseHead response_;
  http1::BodyDecoder response_body_;
  ChunkPayload chunk_payload_;
  std::string scratch_;
  bool response_started_ = false;  // a head (member's or local) went to the codec
  int interim_responses_ = 0;      // 1xx heads received from the member
  bool response_done_ = false;
  bool member_keep_alive_ = false;
  bool member_paused_ = false;
  bool ended_ = false;

  uint64_t start_us_ = 0;
  uint64_t request_sent_us_ = 0;
  uint64_t first_response_byte_us_ = 0;
  records::TransactionRecord record_;
};

void H2Session::Stream::begin() {
  start_us_ = worker_.now_us();
  record_ = session_.new_record();
  record_.method = head_.method;
  record_.host = head_.authority;
  record_.path = head_.path;
  size_t head_bytes = head_.method.size() + head_.authority.size() + head_.path.size();
  for (const auto& header : head_.headers) {
    head_bytes += header.name.size() + header.value.size();
    if (record_.user_agent.empty() && header.name == "user-agent") record_.user_agent = header.value;
  }
  record_.bytes_in = head_bytes;
  is_head_ = head_.method == "HEAD";
  build_member_request();
  LocalAnswer local;
  pool_index_ = route_request(*listener_, head_, head_.authority, head_.path,
                              [this] { return &session_.client_certificate(); }, &local);
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
  uint64_t hash = session_.peer_.hash_for(pool.config->lb_algorithm);
  connector_.start(snapshot_.get(), pool_index_, hash, listener_->config->timeout_member_connect_ms, true,
                   stickiness_.sticky_member(pool, session_.peer_.text, head_.headers, worker_.now_us() / 1000000));
}

void H2Session::Stream::build_member_request() {
  const auto& inserts = listener_->config->insert_headers;
  std::string& out = member_request_head_;
  out.clear();
  out.append(head_.method).append(" ").append(head_.path).append(" HTTP/1.1\r\n");
  append_header(&out, "Host", head_.authority);
  std::string cookie;
  for (const auto& header : head_.headers) {
    if (is_connection_specific(header.name) || header.name == "content-length") continue;
    if (replaced_by_inserted_header(inserts, header.name)) continue;
    if (header.name == "cookie") {
      // h2 may split cookies into several fields; HTTP/1.1 wants one (RFC 9113 8.2.3).
      if (!cookie.empty()) cookie.append("; ");
      cookie.append(header.value);
      continue;
    }
    append_header(&out, header.name, header.value);
  }
  if (!cookie.empty()) append_header(&out, "cookie", cookie);
  for (const auto& header : head_.headers) {
    // The only TE an h2 client may send (RFC 9113 8.2.2); it tells the member that trailers
    // reach the client, which they now do. TE is hop-by-hop: Connection names it.
    if (header.name == "te" && iequals(header.value, "trailers")) {
      append_header(&out, "TE", "trailers");
      append_header(&out, "Connection", "TE");
      break;
    }
  }
  if (head_.content_length >= 0) {
    append_header(&out, "Content-Length", std::to_string(head_.content_length));
  } else if (request_has_body_) {
    chunked_request_ = true;  // h2 needs no length; h1 does
    append_header(&out, "Transfer-Encoding", "chunked");
  }
  append_inserted_headers(&out, *listener_, session_.peer_.text, session_.tls_headers_);
  out.append("\r\n");
}

http1::Limits H2Session::Stream::parser_limits() const {
  const auto& configured = snapshot_->shared->config->http;
  http1::Limits limits;
  limits.max_header_bytes = configured.max_header_bytes;
  limits.max_headers = configured.max_headers;
  return limits;
}

const MemberRuntime& H2Session::Stream::take_member(int member_index, bool reused) {
  member_index_ = member_index;
  member_reused_ = reused;
  stickiness_.member_chosen(snapshot_->shared->pools[pool_index_], member_index, worker_.now_us() / 1000000);
  const MemberRuntime& m = member();
  record_.member_id = m.config->id;
  record_.connect_us = connector_.connect_us();
  return m;
}

void H2Session::Stream::on_upstream_connected(net::BufferEventPtr connection, int member_index, bool reused) {
  const MemberRuntime& m = take_member(member_index, reused);
  record_.retries = connector_.retries();
  auto& mslot = m.stats->slot(worker_.index()).traffic;
  member_ = std::move(connection);
  bufferevent* bev = member_.get();
  apply_member_connection_settings(bev, {&Stream::on_member_read, &Stream::on_member_write, &Stream::on_member_event, this},
                                   listener_->config->timeout_member_data_ms);
  bufferevent_write(bev, member_request_head_.data(), member_request_head_.size());
  mslot.bytes_in.add(member_request_head_.size());
  size_t pending = evbuffer_get_length(pending_.get());
  if (pending > 0) {
    if (chunked_request_) {
      char size_line[24];
      int n = snprintf(size_line, sizeof(size_line), "%zx\r\n", pending);
      write_to_member(size_line, static_cast<size_t>(n));
    }
    mslot.bytes_in.add(pending);
    evbuffer_add_buffer(bufferevent_get_output(bev), pending_.get());
    if (chunked_request_) write_to_member("\r\n", 2);
  }
  if (request_end_ && chunked_request_) end_chunked_body();
  if (request_end_) {
    request_sent_ = true;
    request_sent_us_ = worker_.now_us();
  }
  credit();
}

void H2Session::Stream::on_upstream_h2(H2MemberConnection& connection, int member_index, bool reused) {
  const MemberRuntime& m = take_member(member_index, reused);
  record_.retries = static_cast<uint8_t>(connector_.retries() + exchange_retries_);
  const PoolRuntime& pool = snapshot_->shared->pools[pool_index_];
  http::RequestHead head = member_request_head(head_, *listener_, pool, session_.peer_.text,
                                               session_.tls_headers_, m.endpoint_key);
  size_t pending = evbuffer_get_length(pending_.get());
  const bool end_with_trailers = request_end_ && !request_trailer_fields_.empty();
  exchange_ = open_member_exchange(connection, *this, head, request_end_ && pending == 0 && !end_with_trailers,
                                   listener_->config->timeout_member_data_ms,
                                   m.stats->slot(worker_.index()).traffic);
  if (!exchange_) {
    connector_.release_exchange(member_index);
    respond_local(502, records::Termination::kConnectFailed);
    return;
  }
  exchange_blocked_ = false;
  replay_.clear();
  if (pending > 0) {
    std::string body(pending, '\0');
    evbuffer_remove(pending_.get(), body.data(), pending);
    send_to_exchange(reinterpret_cast<const uint8_t*>(body.data()), body.size(), request_end_ && !end_with_trailers);
  }
  if (end_with_trailers) end_exchange_body();
  if (request_end_) {
    request_sent_ = true;
    request_sent_us_ = worker_.now_us();
  }
  credit();
}

void H2Session::Stream::remember_for_replay(const uint8_t* data, size_t length) {
  if (!replayable_ || pool_index_ < 0 ||
      snapshot_->shared->pools[pool_index_].config->member_http == config::MemberHttp::kHttp1) {
    return;  // only an h2 member can refuse a stream
  }
  if (replay_.size() + length > kReplayLimit) {
    replayable_ = false;  // too much to keep: a refused stream then gets 502
    replay_.clear();
    replay_.shrink_to_fit();
    return;
  }
  replay_.append(reinterpret_cast<const char*>(data), length);
}

void H2Session::Stream::send_to_exchange(const uint8_t* data, size_t length, bool end) {
  if (!response_started_) remember_for_replay(data, length);
  if (length > 0) member().stats->slot(worker_.index()).traffic.bytes_in.add(length);
  if (!exchange_->send_body(data, length, end)) exchange_blocked_ = true;
}

void H2Session::Stream::end_exchange_body() {
  if (request_trailer_fields_.empty()) {
    send_to_exchange(nullptr, 0, true);
    return;
  }
  size_t bytes = 0;
  for (const auto& field : request_trailer_fields_) bytes += field.name.size() + field.value.size();
  member().stats->slot(worker_.index()).traffic.bytes_in.add(bytes);
  exchange_->send_trailers(request_trailer_fields_);  // a copy: a refused stream is sent again
}

void H2Session::Stream::on_exchange_writable() {
  exchange_blocked_ = false;
  credit();
}

void H2Session::Stream::filter_response_header(std::string_view name, std::string_view value,
                                               http::ResponseHead* head, uint64_t now_s) {
  if (is_connection_specific(name)) return;
  if (!listener_->hsts_value.empty() && iequals(name, "strict-transport-security")) return;
  stickiness_.response_header(snapshot_->shared->pools[pool_index_], member_index_, name, value, now_s);
  head->headers.push_back(http::Header{http::ascii_lowercase(name), std::string(value)});
}

void H2Session::Stream::on_exchange_response(http::ResponseHead member_head, bool end_stream) {
  first_response_byte_us_ = worker_.now_us();
  http::ResponseHead head;
  head.status = member_head.status;
  head.headers.reserve(member_head.headers.size() + 2);
  const uint64_t now_s = worker_.now_us() / 1000000;
  size_t member_head_bytes = 0;
  for (const auto& header : member_head.headers) {
    member_head_bytes += header.name.size() + header.value.size();
    filter_response_header(header.name, header.value, &head, now_s);
  }
  if (!listener_->hsts_value.empty()) {
    head.headers.push_back(http::Header{"strict-transport-security", listener_->hsts_value});
  }
  if (!stickiness_.set_cookie().empty()) {
    head.headers.push_back(http::Header{"set-cookie", stickiness_.set_cookie()});
    head.headers.push_back(http::Header{"cache-control", "private"});
  }
  record_.status = head.status;
  size_t head_bytes = 0;
  for (const auto& header : head.headers) head_bytes += header.name.size() + header.value.size();
  record_.bytes_out += head_bytes;
  auto& mslot = member().stats->slot(worker_.index());
  mslot.responses[static_cast<int>(stats::classify_status(head.status))].add(1);
  mslot.traffic.bytes_out.add(member_head_bytes);
  response_started_ = true;
  replay_.clear();
  if (end_stream) {
    // No body: the exchange is over before the codec may end the stream.
    response_done_ = true;
    release_member(true);
    credit();
    session_.codec_->submit_response(id_, head, true);
    return;
  }
  session_.codec_->submit_response(id_, head, false);
}

// A member's 1xx, as relay_interim_response() passes one from an HTTP/1.1 member: not the
// response, so the record's status and timings stay the final response's.
void H2Session::Stream::on_exchange_interim(http::ResponseHead member_head) {
  http::ResponseHead head;
  head.status = member_head.status;
  size_t member_head_bytes = 0;
  size_t head_bytes = 0;
  for (auto& header : member_head.headers) {
    member_head_bytes += header.name.size() + header.value.size();
    if (is_connection_specific(header.name) || header.name == "content-length") continue;
    head_bytes += header.name.size() + header.value.size();
    head.headers.push_back(std::move(header));
  }
  member().stats->slot(worker_.index()).traffic.bytes_out.add(member_head_bytes);
  submit_interim_head(head, head_bytes);
}

// A member's trailer section, kept for the end of the body (a trailing HEADERS frame). Bounded
// and filtered as a chunked trailer section from an HTTP/1.1 member is.
void H2Session::Stream::on_exchange_trailers(std::vector<http::Header> trailers) {
  size_t member_bytes = 0;
  for (const auto& field : trailers) member_bytes += field.name.size() + field.value.size();
  member().stats->slot(worker_.index()).traffic.bytes_out.add(member_bytes);
  const http1::Limits limits = parser_limits();
  if (!trailers_to_forward(&trailers, limits.max_headers, limits.max_trailer_bytes)) {
    abort(records::Termination::kBadResponse);
    return;
  }
  for (const auto& field : trailers) record_.bytes_out += field.name.size() + field.value.size();
  response_trailers_ = std::move(trailers);
}

void H2Session::Stream::on_exchange_data(const uint8_t* data, size_t length) {
  record_.bytes_out += length;
  member().stats->slot(worker_.index()).traffic.bytes_out.add(length);
  session_.codec_->submit_data(id_, data, length, false);
  // The member's stream window reopens only as the client takes the body.
  if (session_.codec_->response_buffer_full(id_)) {
    unconsumed_ += length;
  } else if (exchange_) {
    exchange_->consume(unconsumed_ + length);
    unconsumed_ = 0;
  }
}

void H2Session::Stream::on_exchange_end() {
  response_done_ = true;
  if (!request_end_) request_end_ = true;  // the member did not wait for the rest of the body
  release_member(true);
  credit();
  session_.codec_->submit_trailers(id_, std::move(response_trailers_));  // none: END_STREAM alone
}

void H2Session::Stream::on_exchange_failed(ExchangeError error) {
  exchange_.reset();  // over already: nothing to cancel
  connector_.release_exchange(member_index_);
  const bool nothing_back = !response_started_;
  const bool unprocessed =
      error == ExchangeError::kRefused ||
      (error == ExchangeError::kLost && member_reused_ && first_response_byte_us_ == 0 && interim_responses_ == 0);
  if (nothing_back && unprocessed && replayable_ && exchange_retries_ < kMaxExchangeRetries) {
    // The member did not take the request (GOAWAY above its last stream id, REFUSED_STREAM, or
    // a pooled connection that was already going): send it again, on another connection.
    ++exchange_retries_;
    evbuffer_drain(pending_.get(), evbuffer_get_length(pending_.get()));
    evbuffer_add(pending_.get(), replay_.data(), replay_.size());
    replay_.clear();
    const auto& pool = snapshot_->shared->pools[pool_index_];
    uint64_t hash = session_.peer_.hash_for(pool.config->lb_algorithm);
    connector_.start(snapshot_.get(), pool_index_, hash, listener_->config->timeout_member_connect_ms, true,
                     stickiness_.member());
    return;
  }
  if (error == ExchangeError::kTimeout) {
    respond_local(504, records::Termination::kMemberTimeout);
  } else {
    respond_local(502, records::Termination::kMemberReset);  // reset or lost: 502, or a cut
  }
}

void H2Session::Stream::on_upstream_failed(records::Termination why) {
  record_.retries = connector_.retries();
  respond_local(why == records::Termination::kNoMember ? 503 : 502, why);
}

// The last chunk and the client's trailer section (empty without trailers).
void H2Session::Stream::end_chunked_body() {
  write_to_member("0\r\n", 3);
  write_to_member(request_trailers_.data(), request_trailers_.size());
  write_to_member("\r\n", 2);
}

void H2Session::Stream::write_to_member(const char* data, size_t length) {
  member().stats->slot(worker_.index()).traffic.bytes_in.add(length);
  evbuffer_add(bufferevent_get_output(member_.get()), data, length);
}

void H2Session::Stream::on_request_data(const uint8_t* data, size_t length) {
  record_.bytes_in += length;
  uncredited_ += length;
  if (response_done_ || ended_) {
    credit();  // answered already (locally, or the member did not wait): discard
    return;
  }
  if (exchange_) {
    send_to_exchange(data, length, false);
    credit();
    return;
  }
  if (!member_) {
    // No member yet: keep the payload (the client's window bounds it), framed once the member's
    // protocol is known.
    evbuffer_add(pending_.get(), data, length);
    remember_for_replay(data, length);
    return;
  }
  if (chunked_request_) {
    char size_line[24];
    int n = snprintf(size_line, sizeof(size_line), "%zx\r\n", length);
    write_to_member(size_line, static_cast<size_t>(n));
    write_to_member(reinterpret_cast<const char*>(data), length);
    write_to_member("\r\n", 2);
  } else {
    write_to_member(reinterpret_cast<const char*>(data), length);
  }
  credit();
}

void H2Session::Stream::on_request_end() {
  if (request_end_) return;
  request_end_ = true;
  if (exchange_) {
    if (!response_done_) end_exchange_body();
    request_sent_ = true;
    request_sent_us_ = worker_.now_us();
    return;
  }
  if (chunked_request_ && !response_done_ && member_) end_chunked_body();
  if (member_) {
    request_sent_ = true;
    request_sent_us_ = worker_.now_us();
    if (response_done_) release_member(member_keep_alive_);
  }
}

// The client's trailer section, kept for the last chunk. Without chunked framing (the client gave
// a content-length) HTTP/1.1 cannot carry it: dropped.
void H2Session::Stream::on_request_trailers(std::vector<http::Header> trailers) {
  for (auto& header : trailers) {
    record_.bytes_in += header.name.size() + header.value.size();
    if (forbidden_in_trailers(header.name)) continue;
    if (chunked_request_) append_header(&request_trailers_, header.name, header.value);
    request_trailer_fields_.push_back(std::move(header));  // an h2 member takes them either way
  }
}

// The request cannot be completed as sent (its trailers were too large): answer it here, or
// reset the stream when the member's response has started.
void H2Session::Stream::on_request_error(uint16_t status) {
  respond_local(status, records::Termination::kBadRequest);
}

// Reopens the client's stream window for the bytes the member side has taken, unless the
// member is not keeping up (its output above the watermark; its write callback retries).
void H2Session::Stream::credit() {
  if (uncredited_ == 0) return;
  bool flowing = response_done_ || ended_ || (exchange_ && !exchange_blocked_) ||
                 (member_ && evbuffer_get_length(bufferevent_get_output(member_.get())) < kHighWatermark);
  if (!flowing) return;
  size_t n = uncredited_;
  uncredited_ = 0;
  session_.codec_->consume(id_, n);
}

void H2Session::Stream::read_response() {
  evbuffer* input = bufferevent_get_input(member_.get());
  while (!response_started_) {
    if (evbuffer_get_length(input) == 0) return;
    if (first_response_byte_us_ == 0) first_response_byte_us_ = worker_.now_us();
    const MemberHead found = read_member_head(input, parser_limits(), is_head_, &response_);
    if (found == MemberHead::kIncomplete) return;
    if (found == MemberHead::kBad) {
      respond_local(502, records::Termination::kBadResponse);
      return;
    }
    if (found == MemberHead::kInterim) {
      relay_interim_response();
      continue;
    }
    if (!send_response_head()) return;
  }
  forward_response_body();
}

// A 1xx goes to the client as a non-final HEADERS frame. It is not the response: the member's
// response class counters and the record's status and timings are the final response's.
void H2Session::Stream::relay_interim_response() {
  if (++interim_responses_ <= kMaxInterimResponses) {
    http::ResponseHead head;
    head.status = response_.status;
    size_t head_bytes = 0;
    for (const auto& header : response_.headers) {
      if (is_connection_specific(header.name) || named_by_connection(response_, header.name)) continue;
      if (iequals(header.name, "content-length")) continue;
      head.headers.push_back(http::Header{http::ascii_lowercase(header.name), std::string(header.value)});
      head_bytes += header.name.size() + header.value.size();
    }
    if (session_.codec_->submit_interim(id_, head)) record_.bytes_out += head_bytes;
  }
  member().stats->slot(worker_.index()).traffic.bytes_out.add(response_.head_bytes);
  evbuffer_drain(bufferevent_get_input(member_.get()), response_.head_bytes);
  first_response_byte_us_ = 0;  // the final response's first byte times the record
}

void H2Session::Stream::submit_interim_head(const http::ResponseHead& head, size_t head_bytes) {
  if (++interim_responses_ > kMaxInterimResponses) return;
  if (session_.codec_->submit_interim(id_, head)) record_.bytes_out += head_bytes;
}

bool H2Session::Stream::send_response_head() {
  member_keep_alive_ = response_.keep_alive && response_.framing != http1::BodyFraming::kUntilClose;
  http::ResponseHead head;
  head.status = response_.status;
  head.headers.reserve(response_.headers.size() + 1);
  const auto& pool = snapshot_->shared->pools[pool_index_];
  const uint64_t now_s = worker_.now_us() / 1000000;
  for (const auto& header : response_.headers) {
    if (is_connection_specific(header.name) || named_by_connection(response_, header.name)) continue;
    if (iequals(header.name, "content-length")) continue;  // one normalised copy below
    if (!listener_->hsts_value.empty() && iequals(header.name, "strict-transport-security")) continue;
    stickiness_.response_header(pool, member_index_, header.name, header.value, now_s);
    head.headers.push_back(http::Header{http::ascii_lowercase(header.name), std::string(header.value)});
  }
  if (!listener_->hsts_value.empty()) {
    head.headers.push_back(http::Header{"strict-transport-security", listener_->hsts_value});
  }
  if (!stickiness_.set_cookie().empty()) {
    head.headers.push_back(http::Header{"set-cookie", stickiness_.set_cookie()});
    head.headers.push_back(http::Header{"cache-control", "private"});
  }
  if (response_.framing == http1::BodyFraming::kContentLength ||
      (response_.framing == http1::BodyFraming::kNone && response_.content_length > 0)) {
    head.headers.push_back(http::Header{"content-length", std::to_string(response_.content_length)});
  }
  evbuffer_drain(bufferevent_get_input(member_.get()), response_.head_bytes);
  record_.status = response_.status;
  size_t head_bytes = 0;
  for (const auto& header : head.headers) head_bytes += header.name.size() + header.value.size();
  record_.bytes_out += head_bytes;
  auto& mslot = member().stats->slot(worker_.index());
  mslot.responses[static_cast<int>(stats::classify_status(response_.status))].add(1);
  mslot.traffic.bytes_out.add(response_.head_bytes);
  response_started_ = true;
  response_body_.reset(response_.framing, response_.content_length);
  chunk_payload_.reset();
  if (response_body_.done()) {
    // No body: the member is done before the codec sends anything (which may end the stream).
    response_complete();
    session_.codec_->submit_response(id_, head, true);
    return false;
  }
  session_.codec_->submit_response(id_, head, false);
  return true;
}

void H2Session::Stream::forward_response_body() {
  if (!member_ || response_done_) return;
  evbuffer* input = bufferevent_get_input(member_.get());
  auto& mslot = member().stats->slot(worker_.index()).traffic;
  const bool chunked = response_.framing == http1::BodyFraming::kChunked;
  while (!response_body_.done()) {
    if (session_.codec_->response_buffer_full(id_)) {
      // The client is not taking the body as fast as the member sends it: stop reading the
      // member until the codec drains (on_response_writable).
      bufferevent_disable(member_.get(), EV_READ);
      member_paused_ = true;
      return;
    }
    evbuffer_iovec chunk;
    if (evbuffer_peek(input, -1, nullptr, &chunk, 1) < 1 || chunk.iov_len == 0) break;
    auto [step, payload] = feed_payload(response_body_, chunked ? &chunk_payload_ : nullptr,
                                        static_cast<const char*>(chunk.iov_base), chunk.iov_len, &scratch_);
    if (step.error != http1::Error::kNone) {
      abort(records::Termination::kBadResponse);
      return;
    }
    if (step.consumed == 0) break;
    record_.bytes_out += payload.size();
    mslot.bytes_out.add(step.consumed);
    if (!response_body_.done()) {
      session_.codec_->submit_data(id_, reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), false);
      evbuffer_drain(input, step.consumed);
      continue;
    }
    // The last piece: release the member (to the pool) before the codec may end the stream.
    if (payload.data() != scratch_.data()) scratch_.assign(payload);
    evbuffer_drain(input, step.consumed);
    std::vector<http::Header> trailers;
    if (chunked && !chunk_payload_.trailers(parser_limits().max_headers, &trailers)) {
      abort(records::Termination::kBadResponse);
      return;
    }
    for (const auto& header : trailers) record_.bytes_out += header.name.size() + header.value.size();
    response_complete();
    auto* codec = session_.codec_.get();
    codec->submit_data(id_, reinterpret_cast<const uint8_t*>(scratch_.data()), scratch_.size(), trailers.empty());
    if (!trailers.empty()) codec->submit_trailers(id_, std::move(trailers));
    return;
  }
}

// The member's response is whole: the member connection goes back to the pool if it can.
void H2Session::Stream::response_complete() {
  response_done_ = true;
  if (!request_end_) member_keep_alive_ = false;  // the member did not wait for the body
  release_member(member_keep_alive_ && request_sent_);
  credit();
}

void H2Session::Stream::respond_local(uint16_t status, records::Termination why, std::string_view location) {
  if (response_started_) {
    abort(why);
    return;
  }
  response_started_ = true;
  record_.status = status;
  record_.termination = why;
  std::string body = local_response_body(status, why);
  record_.bytes_out += body.size();
  response_done_ = true;
  release_member(false);
  credit();
  if (location.empty()) {
    session_.codec_->submit_local_response(id_, status, body);
    return;
  }
  // A redirect: the local response with its Location.
  http::ResponseHead head;
  head.status = status;
  head.headers = {{"location", std::string(location)},
                  {"content-type", "text/plain"},
                  {"content-length", std::to_string(body.size())}};
  if (session_.codec_->submit_response(id_, head, false)) {
    session_.codec_->submit_data(id_, reinterpret_cast<const uint8_t*>(body.data()), body.size(), true);
  }
}

const tls::ClientCertificateInfo& H2Session::client_certificate() {
  if (!certificate_) certificate_ = tls::client_certificate_info(tls::tls_ssl(client_.get()));
  return *certificate_;
}

// The response cannot be finished: reset the stream (its record is emitted when it closes).
void H2Session::Stream::abort(records::Termination why) {
  if (record_.termination == records::Termination::kNormal) record_.termination = why;
  response_done_ = true;
  release_member(false);
  credit();
  session_.codec_->reset_stream(id_, http2::ErrorCode::kInternalError);
}

void H2Session::Stream::release_member(bool reusable) {
  connector_.cancel();
  if (exchange_) {
    exchange_.reset();  // resets the stream if it is still open
    connector_.release_exchange(member_index_);
  }
  if (!member_) return;
  connector_.release(std::move(member_), member_index_, reusable);
  member_paused_ = false;
}

void H2Session::Stream::on_response_writable() {
  if (exchange_ && unconsumed_ > 0) {
    exchange_->consume(unconsumed_);
    unconsumed_ = 0;
    return;
  }
  if (!member_paused_ || !member_) return;
  member_paused_ = false;
  bufferevent_enable(member_.get(), EV_READ);
  forward_response_body();
}

void H2Session::Stream::end(uint32_t error_code) {
  if (ended_) return;
  ended_ = true;
  if (!response_done_ || error_code != 0) {
    if (record_.termination == records::Termination::kNormal) {
      record_.termination = records::Termination::kClientReset;
    }
  }
  uint64_t now = worker_.now_us();
  record_.total_us = static_cast<uint32_t>(now - start_us_);
  if (first_response_byte_us_ != 0) {
    uint64_t sent = request_sent_us_ != 0 ? request_sent_us_ : start_us_;
    record_.ttfb_us = static_cast<uint32_t>(first_response_byte_us_ - std::min(first_response_byte_us_, sent));
    record_.transfer_us = static_cast<uint32_t>(now - first_response_byte_us_);
  }
  if (record_.termination != records::Termination::kNormal) {
    listener_->stats->slot(worker_.index()).request_errors.add(1);
  }
  worker_.emit(record_);
  release_member(false);
}

void H2Session::Stream::on_member_read(bufferevent*, void* arg) {
  auto* self = static_cast<Stream*>(arg);
  self->read_response();
  self->session_.settle();
}

void H2Session::Stream::on_member_write(bufferevent*, void* arg) {
  auto* self = static_cast<Stream*>(arg);
  self->credit();
  self->session_.settle();
}

void H2Session::Stream::on_member_event(bufferevent*, short events, void* arg) {
  auto* self = static_cast<Stream*>(arg);
  H2Session& session = self->session_;
  if (events & BEV_EVENT_TIMEOUT) {
    self->respond_local(504, records::Termination::kMemberTimeout);
  } else if ((events & BEV_EVENT_EOF) && self->response_started_) {
    self->forward_response_body();  // bytes that came with the close
    if (!self->response_done_ && self->member_) {
      if (self->response_body_.finish_on_close()) {
        self->member_keep_alive_ = false;
        self->response_complete();
        self->session_.codec_->submit_data(self->id_, nullptr, 0, true);
      } else {
        self->abort(records::Termination::kMemberReset);
      }
    }
  } else if (self->first_response_byte_us_ == 0 && self->interim_responses_ == 0 && self->member_reused_ &&
             !self->retried_stale_ && !self->request_has_body_) {
    // A pooled connection the member had already closed: retry once on a fresh connection.
    self->retried_stale_ = true;
    self->release_member(false);
    const auto& pool = self->snapshot_->shared->pools[self->pool_index_];
    uint64_t hash = session.peer_.hash_for(pool.config->lb_algorithm);
    self->connector_.start(self->snapshot_.get(), self->pool_index_, hash,
                           self->listener_->config->timeout_member_connect_ms, false,
                           self->stickiness_.member());
  } else {
    self->respond_local(502, records::Termination::kMemberReset);
  }
  session.settle();
}

// ---- the connection ----

H2Session::H2Session(WorkerContext& worker, net::BufferEventPtr connection, ClientAddress client,
                     std::shared_ptr<WorkerSnapshot> snapshot, const ListenerRuntime* listener,
                     bool connection_counted)
    : worker_(worker),
      snapshot_(std::move(snapshot)),
      listener_(listener),
      peer_(std::move(client)),
      client_(std::move(connection)),
      counted_(connection_counted) {}

H2Session::~H2Session() {
  if (flush_asked_) worker_.write_coalescer().withdraw(this);
  // Streams first (their member connections reference this session), then the codec while
  // the stream maps it might still report to are alive.
  ended_.clear();
  streams_.clear();
  codec_.reset();
}

void H2Session::start() {
  if (!counted_) {
    auto& slot = listener_->stats->slot(worker_.index());
    slot.active_connections.add(1);
    slot.total_connections.add(1);
  }
  counted_ = true;
  tls_headers_ = client_certificate_headers(listener_->config->insert_headers, tls::tls_ssl(client_.get()));
  http2::ServerConnection::Handler& handler = *this;
  codec_ = std::make_unique<http2::ServerConnection>(handler, snapshot_->shared->config->http2,
                                                     worker_.now_us() / 1000);
  // Responses of many streams that complete in one loop turn become frames in one go, at its end.
  codec_->defer_flushes([this] {
    if (flush_asked_ || closed_) return;
    flush_asked_ = true;
    worker_.write_coalescer().produce_at_flush(this);
  });
  idle_timer_.reset(evtimer_new(worker_.base(), &H2Session::on_idle_timer, this));
  header_timer_.reset(evtimer_new(worker_.base(), &H2Session::on_header_timer, this));
  reap_event_.reset(event_new(worker_.base(), -1, 0, &H2Session::on_reap, this));
  bufferevent* bev = client_.get();
  bufferevent_setcb(bev, &H2Session::on_client_read, &H2Session::on_client_write,
                    &H2Session::on_client_event, this);
  // No read watermark: read_client() feeds the codec every byte read, so the input never holds
  // more than one read; the h2 windows bound what a client may send ahead.
  net::set_read_watermark(bev, 0, 0);
  bufferevent_setwatermark(bev, EV_WRITE, kHighWatermark / 2, 0);
  // No read timeout: a client waiting for slow members sends nothing. Idleness is timed by
  // idle_timer_ (no open stream); a client that stops reading by the write timeout.
  timeval timeout = net::timeval_from_ms(listener_->config->timeout_client_data_ms);
  bufferevent_set_timeouts(bev, nullptr, &timeout);
  bufferevent_enable(bev, EV_READ);  // writes go through the worker's WriteCoalescer
  codec_->flush();  // our SETTINGS
  read_client();    // bytes that arrived before the hand-over
  if (!closed_ && worker_.draining()) drain();
}

void H2Session::drain() {
  if (closed_) return;
  codec_->drain();
  settle();
}

records::TransactionRecord H2Session::new_record() const {
  records::TransactionRecord record;
  record.kind = records::RecordKind::kHttp;
  record.start_unix_us = worker_.wall_us();
  record.listener_id = listener_->config->id;
  record.client_address = peer_.text;
  record.client_port = peer_.port;
  record.client_rtt_us = client_rtt_us_;
  record.http2 = true;
  if (const SSL* ssl = tls::tls_ssl(client_.get())) {
    record.tls = true;
    record.sni.assign(tls::client_server_name(ssl));
  }
  return record;
}

void H2Session::config_changed() {
  if (worker_.current_snapshot()->shared->find_listener(listener_->socket_key) == nullptr) drain();
}

void H2Session::refresh_snapshot() {
  const auto& newest = worker_.current_snapshot();
  if (newest == snapshot_) return;
  const ListenerRuntime* moved = newest->shared->find_listener(listener_->socket_key);
  if (moved == nullptr) {
    codec_->drain();  // the listener is gone: finish the streams in flight, take no more
    return;
  }
  snapshot_ = newest;
  listener_ = moved;
}

H2Session::Stream* H2Session::find(int32_t stream_id) {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : it->second.get();
}

void H2Session::read_client() {
  if (closed_ || closing_) return;
  evbuffer* input = bufferevent_get_input(client_.get());
  size_t total = evbuffer_get_length(input);
  if (total == 0) return;
  refresh_snapshot();  // a config without this listener drains the connection
  listener_->stats->slot(worker_.index()).bytes_in.add(total);
  uint64_t now_ms = worker_.now_us() / 1000;
  while (evbuffer_get_length(input) > 0 && !closed_) {
    evbuffer_iovec chunk;
    if (evbuffer_peek(input, -1, nullptr, &chunk, 1) < 1) break;
    bool ok = codec_->feed(static_cast<const uint8_t*>(chunk.iov_base), chunk.iov_len, now_ms);
    if (closed_) return;
    evbuffer_drain(input, chunk.iov_len);
    if (!ok) {
      evbuffer_drain(input, evbuffer_get_length(input));
      break;
    }
  }
  if (closed_) return;
  uint64_t deadline = codec_->next_deadline_ms();
  if (deadline != 0) {
    timeval tv = net::timeval_from_ms(static_cast<uint32_t>(deadline > now_ms ? deadline - now_ms : 0));
    evtimer_add(header_timer_.get(), &tv);
  } else {
    evtimer_del(header_timer_.get());
  }
  settle();
}

void H2Session::produce() {
  flush_asked_ = false;
  if (closed_) return;
  codec_->flush();
  settle();
}

void H2Session::settle() {
  if (closed_) return;
  if (codec_->finished()) {  // after a GOAWAY, once the last stream is done and it is sent
    close_when_flushed();
    return;
  }
  bool idle = codec_->open_streams() == 0 && streams_.empty();
  if (idle && !idle_armed_) {
    timeval tv = net::timeval_from_ms(listener_->config->timeout_client_data_ms);
    evtimer_add(idle_timer_.get(), &tv);
    idle_armed_ = true;
  } else if (!idle && idle_armed_) {
    evtimer_del(idle_timer_.get());
    idle_armed_ = false;
  }
}

void H2Session::close_when_flushed() {
  if (closed_) return;
  closing_ = true;
  bufferevent_disable(client_.get(), EV_READ);
  if (evbuffer_get_length(bufferevent_get_output(client_.get())) == 0) {
    close();
    return;
  }
  bufferevent_setwatermark(client_.get(), EV_WRITE, 0, 0);
}

void H2Session::close() {
  if (closed_) return;
  closed_ = true;
  // Streams still open lose their client: each emits its record now.
  for (auto& [id, stream] : streams_) {
    stream->end(static_cast<uint32_t>(http2::ErrorCode::kCancel));
    ended_.push_back(std::move(stream));
  }
  streams_.clear();
  idle_timer_.reset();
  header_timer_.reset();
  if (counted_) listener_->stats->slot(worker_.index()).active_connections.sub(1);
  tls::tls_queue_close_notify(client_.get());  // leaves with the last frames, in one write
  client_.reset();
  worker_.release(this);
}

// ---- codec events ----

void H2Session::on_request(int32_t stream_id, http::RequestHead head, bool end_stream) {
  refresh_snapshot();
  if (client_rtt_us_ == 0) client_rtt_us_ = net::tcp_rtt_us(bufferevent_getfd(client_.get()));
  auto stream = std::make_unique<Stream>(*this, stream_id, std::move(head), end_stream);
  Stream* raw = stream.get();
  streams_.emplace(stream_id, std::move(stream));
  raw->begin();
}

void H2Session::on_request_rejected(int32_t, uint16_t status, const char* why) {
  if (client_rtt_us_ == 0) client_rtt_us_ = net::tcp_rtt_us(bufferevent_getfd(client_.get()));
  records::TransactionRecord record = new_record();
  record.status = status;
  record.termination = records::Termination::kBadRequest;
  record.path = why;
  listener_->stats->slot(worker_.index()).request_errors.add(1);
  worker_.emit(record);
}

void H2Session::on_request_data(int32_t stream_id, const uint8_t* data, size_t length) {
  if (Stream* stream = find(stream_id)) stream->on_request_data(data, length);
}

void H2Session::on_request_end(int32_t stream_id) {
  if (Stream* stream = find(stream_id)) stream->on_request_end();
}

void H2Session::on_request_trailers(int32_t stream_id, std::vector<http::Header> trailers) {
  if (Stream* stream = find(stream_id)) stream->on_request_trailers(std::move(trailers));
}

void H2Session::on_request_error(int32_t stream_id, uint16_t status, const char*) {
  if (Stream* stream = find(stream_id)) stream->on_request_error(status);
}

void H2Session::on_stream_close(int32_t stream_id, uint32_t error_code) {
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return;
  it->second->end(error_code);
  // The stream may be deep in its own callback (a member event that ended it): free it later.
  ended_.push_back(std::move(it->second));
  streams_.erase(it);
  if (reap_event_) event_active(reap_event_.get(), 0, 0);
}

void H2Session::on_response_writable(int32_t stream_id) {
  if (Stream* stream = find(stream_id)) stream->on_response_writable();
}

void H2Session::write_output(const uint8_t* data, size_t length) {
  if (!client_) return;
  bufferevent_write(client_.get(), data, length);
  listener_->stats->slot(worker_.index()).bytes_out.add(length);
}

bool H2Session::output_blocked() const {
  return !client_ || evbuffer_get_length(bufferevent_get_output(client_.get())) >= kHighWatermark;
}

// ---- libevent callbacks ----

void H2Session::on_client_read(bufferevent*, void* arg) { static_cast<H2Session*>(arg)->read_client(); }

void H2Session::on_client_write(bufferevent*, void* arg) {
  auto* self = static_cast<H2Session*>(arg);
  if (self->closed_) return;
  if (self->closing_) {
    if (evbuffer_get_length(bufferevent_get_output(self->client_.get())) == 0) self->close();
    return;
  }
  self->codec_->flush();
  self->settle();
}

void H2Session::on_client_event(bufferevent*, short, void* arg) {
  // EOF, error or write timeout: the client is gone (h2 has no half-close worth keeping).
  static_cast<H2Session*>(arg)->close();
}

void H2Session::on_idle_timer(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<H2Session*>(arg);
  self->idle_armed_ = false;
  if (self->closed_) return;
  self->codec_->idle_timeout();
  self->settle();
}

void H2Session::on_header_timer(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<H2Session*>(arg);
  if (self->closed_) return;
  self->codec_->on_timer(self->worker_.now_us() / 1000);
  self->settle();
}

void H2Session::on_reap(evutil_socket_t, short, void* arg) { static_cast<H2Session*>(arg)->ended_.clear(); }

}  // namespace pharos::proxy
