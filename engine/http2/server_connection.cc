#include "engine/http2/server_connection.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <string_view>

namespace pharos::http2 {

const char* connection_error_name(ConnectionError error) {
  switch (error) {
    case ConnectionError::kNone: return "none";
    case ConnectionError::kProtocol: return "protocol_error";
    case ConnectionError::kRapidReset: return "rapid_reset";
    case ConnectionError::kControlFlood: return "control_flood";
    case ConnectionError::kHeaderTimeout: return "header_timeout";
    case ConnectionError::kIdle: return "idle";
  }
  return "unknown";
}

struct ServerConnection::Stream {
  http::RequestHead head;
  size_t header_list_bytes = 0;
  bool oversized = false;
  bool announced = false;           // on_request() delivered: the handler owns the request
  bool rejected = false;            // the codec answered it itself
  bool response_submitted = false;
  // The request's trailer section while it is decoded (RFC 9113 8.1: HEADERS with END_STREAM).
  std::vector<http::Header> request_trailers;
  size_t trailer_list_bytes = 0;
  bool trailers_oversized = false;
  // Sent after the response body, in place of END_STREAM on its last DATA frame.
  std::vector<http::Header> response_trailers;
  // Response body waiting for the data provider; body_offset bytes of it are already sent.
  std::string body;
  size_t body_offset = 0;
  bool body_end = false;
  bool deferred = false;       // the data provider returned NGHTTP2_ERR_DEFERRED
  bool want_writable = false;  // response_buffer_full() said true; notify when it drains

  size_t buffered() const { return body.size() - body_offset; }
};

namespace {

bool is_pseudo(std::string_view name) { return !name.empty() && name.front() == ':'; }

int64_t parse_content_length(std::string_view value) {
  // nghttp2 has already checked that it is a number and that DATA matches it.
  int64_t n = 0;
  for (char c : value) {
    if (c < '0' || c > '9' || n > (std::numeric_limits<int64_t>::max() - 9) / 10) return -1;
    n = n * 10 + (c - '0');
  }
  return value.empty() ? -1 : n;
}

// The member gets ":method :path HTTP/1.1": the path must be one visible-ASCII token in origin
// form ("*" only for OPTIONS), whatever nghttp2's own checks accept.
bool valid_path(const http::RequestHead& head) {
  if (head.path == "*") return head.method == "OPTIONS";
  if (head.path.empty() || head.path.front() != '/') return false;
  for (unsigned char c : head.path) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

nghttp2_nv make_nv(const std::string& name, const std::string& value) {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE};
}

// nghttp2 copies the fields; `status` must outlive the call that takes the array.
std::vector<nghttp2_nv> response_nva(const std::string& status, const std::vector<http::Header>& headers) {
  static const std::string kStatus = ":status";
  std::vector<nghttp2_nv> nva;
  nva.reserve(headers.size() + 1);
  if (!status.empty()) nva.push_back(make_nv(kStatus, status));
  for (const auto& header : headers) nva.push_back(make_nv(header.name, header.value));
  return nva;
}

}  // namespace

// nghttp2's C callbacks: cast the user data to the connection and forward.
struct ServerConnection::Callbacks {
  static ServerConnection& self(void* user_data) { return *static_cast<ServerConnection*>(user_data); }

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    auto& c = self(user_data);
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    int32_t id = frame->hd.stream_id;
    Stream* stream = c.find(id);
    if (frame->headers.cat == NGHTTP2_HCAT_REQUEST && stream == nullptr) {
      stream = c.streams_.emplace(id, std::make_unique<Stream>()).first->second.get();
    }
    if (stream != nullptr) {
      c.header_deadline_ms_ = c.now_ms_ + c.limits_.header_timeout_ms;
      c.header_stream_id_ = id;
    }
    return 0;
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                       size_t name_length, const uint8_t* value, size_t value_length, uint8_t,
                       void* user_data) {
    auto& c = self(user_data);
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    if (frame->headers.cat == NGHTTP2_HCAT_HEADERS) return on_trailer(c, frame, name, name_length, value, value_length);
    if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    Stream* stream = c.find(frame->hd.stream_id);
    if (stream == nullptr || stream->oversized) return 0;
    // RFC 9113 6.5.2: each field counts its name, its value and 32 bytes of overhead.
    stream->header_list_bytes += name_length + value_length + 32;
    if (stream->header_list_bytes > c.limits_.max_header_list_bytes) {
      stream->oversized = true;  // keep decoding (HPACK state) but store nothing more
      stream->head.headers.clear();
      return 0;
    }
    std::string_view n(reinterpret_cast<const char*>(name), name_length);
    std::string_view v(reinterpret_cast<const char*>(value), value_length);
    http::RequestHead& head = stream->head;
    if (is_pseudo(n)) {
      // nghttp2 has checked the set of pseudo-headers (RFC 9113 8.3).
      if (n == ":method") head.method.assign(v);
      else if (n == ":scheme") head.scheme.assign(v);
      else if (n == ":authority") head.authority.assign(v);
      else if (n == ":path") head.path.assign(v);
      return 0;
    }
    if (n == "host") {
      if (head.authority.empty()) head.authority.assign(v);
      return 0;  // :authority wins; the member gets one Host built from it
    }
    if (n == "content-length") head.content_length = parse_content_length(v);
    head.headers.push_back(http::Header{std::string(n), std::string(v)});
    return 0;
  }

  // A field of a request's trailer section. nghttp2 has checked it as it checks header fields
  // and refuses pseudo-headers and a trailer block without END_STREAM (RFC 9113 8.1).
  static int on_trailer(ServerConnection& c, const nghttp2_frame* frame, const uint8_t* name,
                        size_t name_length, const uint8_t* value, size_t value_length) {
    Stream* stream = c.find(frame->hd.stream_id);
    if (stream == nullptr || !stream->announced || stream->trailers_oversized) return 0;
    stream->trailer_list_bytes += name_length + value_length + 32;
    if (stream->trailer_list_bytes > c.limits_.max_header_list_bytes) {
      stream->trailers_oversized = true;
      stream->request_trailers.clear();
      return 0;
    }
    std::string_view n(reinterpret_cast<const char*>(name), name_length);
    if (is_pseudo(n)) return 0;
    stream->request_trailers.push_back(
        http::Header{std::string(n), std::string(reinterpret_cast<const char*>(value), value_length)});
    return 0;
  }

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    auto& c = self(user_data);
    const int32_t id = frame->hd.stream_id;
    const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    switch (frame->hd.type) {
      case NGHTTP2_HEADERS: {
        if (id == c.header_stream_id_) c.header_deadline_ms_ = 0;  // the block is complete
        Stream* stream = c.find(id);
        if (stream == nullptr) return 0;
        if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
          if (stream->oversized) {
            c.reject(id, *stream, 431, "header_list_too_large");
          } else if (stream->head.method == "CONNECT") {
            c.reject(id, *stream, 501, "connect_not_supported");
          } else if (stream->head.authority.empty()) {
            c.reject(id, *stream, 400, "missing_authority");
          } else if (!valid_path(stream->head)) {
            c.reject(id, *stream, 400, "bad_path");
          } else {
            stream->announced = true;
            c.handler_.on_request(id, std::move(stream->head), end_stream);
            stream = c.find(id);
            if (stream != nullptr) stream->head = http::RequestHead{};
          }
        } else if (end_stream && stream->announced) {
          // A trailer section ends the request.
          if (stream->trailers_oversized) {
            c.handler_.on_request_error(id, 431, "trailers_too_large");
            return 0;
          }
          std::vector<http::Header> trailers;
          trailers.swap(stream->request_trailers);
          c.handler_.on_request_trailers(id, std::move(trailers));
          if (c.find(id) != nullptr) c.handler_.on_request_end(id);
        }
        return 0;
      }
      case NGHTTP2_DATA: {
        if (frame->hd.length == 0 && !end_stream && !c.count_control_frame()) {
          return NGHTTP2_ERR_CALLBACK_FAILURE;  // empty DATA frames cost work and carry nothing
        }
        Stream* stream = c.find(id);
        if (end_stream && stream != nullptr && stream->announced) c.handler_.on_request_end(id);
        return 0;
      }
      case NGHTTP2_RST_STREAM:
        return c.count_reset() ? 0 : NGHTTP2_ERR_CALLBACK_FAILURE;
      case NGHTTP2_PING:
      case NGHTTP2_SETTINGS:
        if (frame->hd.flags & NGHTTP2_FLAG_ACK) return 0;
        return c.count_control_frame() ? 0 : NGHTTP2_ERR_CALLBACK_FAILURE;
      case NGHTTP2_PRIORITY:
        return c.count_control_frame() ? 0 : NGHTTP2_ERR_CALLBACK_FAILURE;
      default:
        return 0;
    }
  }

  static int on_data_chunk(nghttp2_session* session, uint8_t, int32_t id, const uint8_t* data,
                           size_t length, void* user_data) {
    auto& c = self(user_data);
    // The connection window reopens at once; the stream window when the handler consumes.
    nghttp2_session_consume_connection(session, length);
    Stream* stream = c.find(id);
    if (stream == nullptr || !stream->announced) {
      nghttp2_session_consume_stream(session, id, length);  // answered already: discard
      return 0;
    }
    c.handler_.on_request_data(id, data, length);
    return 0;
  }

  static int on_frame_send(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    auto& c = self(user_data);
    const int32_t id = frame->hd.stream_id;
    if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) && c.find(id) != nullptr &&
        nghttp2_session_get_stream_remote_close(session, id) == 0) {
      // The response is complete but the request is not (a member that refused the body, a
      // local answer): ask the client to stop sending it, without error (RFC 9113 8.1).
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, id, NGHTTP2_NO_ERROR);
      return 0;
    }
    if (frame->hd.type == NGHTTP2_RST_STREAM) {
      // A stream refused or reset before its response counts like a client reset: that is
      // how a client makes the server do work for nothing.
      Stream* stream = c.find(frame->hd.stream_id);
      if (stream == nullptr || !stream->response_submitted) c.count_reset();
    }
    return 0;
  }

  static int on_stream_close(nghttp2_session*, int32_t id, uint32_t error_code, void* user_data) {
    auto& c = self(user_data);
    if (id == c.header_stream_id_) c.header_deadline_ms_ = 0;
    auto it = c.streams_.find(id);
    if (it == c.streams_.end()) return 0;
    bool announced = it->second->announced;
    if (id == c.last_found_id_) c.last_found_ = nullptr;
    c.streams_.erase(it);
    if (announced) c.handler_.on_stream_close(id, error_code);
    return 0;
  }

  // The body's last bytes are going out: END_STREAM on them, or a trailer section after them.
  static void end_body(ServerConnection& c, int32_t id, Stream& stream, uint32_t* flags) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (stream.response_trailers.empty()) return;
    std::vector<nghttp2_nv> nva = response_nva({}, stream.response_trailers);
    if (nghttp2_submit_trailer(c.session_.get(), id, nva.data(), nva.size()) == 0) {
      *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    }
    stream.response_trailers.clear();
  }

  static ssize_t read_body(nghttp2_session*, int32_t id, uint8_t* buf, size_t length,
                           uint32_t* flags, nghttp2_data_source*, void* user_data) {
    auto& c = self(user_data);
    Stream* stream = c.find(id);
    if (stream == nullptr) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    size_t available = stream->buffered();
    if (available == 0) {
      if (stream->body_end) {
        end_body(c, id, *stream, flags);
        return 0;
      }
      stream->deferred = true;
      return NGHTTP2_ERR_DEFERRED;
    }
    size_t n = std::min(available, length);
    std::memcpy(buf, stream->body.data() + stream->body_offset, n);
    stream->body_offset += n;
    if (stream->body_offset == stream->body.size()) {
      stream->body.clear();
      stream->body_offset = 0;
      if (stream->body_end) end_body(c, id, *stream, flags);
    } else if (stream->body_offset >= kResponseBufferHigh) {
      stream->body.erase(0, stream->body_offset);  // keep the buffer from growing forever
      stream->body_offset = 0;
    }
    if (stream->want_writable && stream->buffered() < kResponseBufferHigh / 2) {
      stream->want_writable = false;
      c.pump_.mark_writable(id);
    }
    return static_cast<ssize_t>(n);
  }
};

ServerConnection::ServerConnection(Handler& handler, const config::Http2Limits& limits, uint64_t now_ms)
    : handler_(handler),
      limits_(limits),
      session_(nullptr, &nghttp2_session_del),
      resets_(limits.max_resets_per_second, now_ms),
      control_frames_(limits.max_control_frames_per_second, now_ms),
      now_ms_(now_ms) {
  nghttp2_session_callbacks* callbacks = nullptr;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, &Callbacks::on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, &Callbacks::on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &Callbacks::on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &Callbacks::on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, &Callbacks::on_frame_send);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &Callbacks::on_stream_close);

  nghttp2_option* option = nullptr;
  nghttp2_option_new(&option);
  nghttp2_option_set_no_auto_window_update(option, 1);
  // Our own limiter counts client resets and refused streams, on the configured rate; nghttp2's
  // (a fixed 1000 burst, 33/s) is turned off so that the configured one is what applies.
  nghttp2_option_set_stream_reset_rate_limit(option, uint64_t(1) << 40, uint64_t(1) << 40);

  nghttp2_session* session = nullptr;
  nghttp2_session_server_new2(&session, callbacks, this, option);
  session_.reset(session);
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(callbacks);

  nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, limits.initial_window_bytes},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, limits.max_header_list_bytes},
      {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, limits.header_table_bytes},
  };
  nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, settings, std::size(settings));
}

ServerConnection::~ServerConnection() {
  session_.reset();  // before the stream map its callbacks look into
}

ServerConnection::Stream* ServerConnection::find(int32_t stream_id) {
  if (last_found_ != nullptr && stream_id == last_found_id_) return last_found_;
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return nullptr;
  last_found_id_ = stream_id;
  last_found_ = it->second.get();
  return last_found_;
}

bool ServerConnection::feed(const uint8_t* data, size_t length, uint64_t now_ms) {
  if (error_ != ConnectionError::kNone) return false;
  now_ms_ = std::max(now_ms_, now_ms);
  ++depth_;
  ssize_t rv = nghttp2_session_mem_recv(session_.get(), data, length);
  --depth_;
  if (rv < 0 && error_ == ConnectionError::kNone) fail(ConnectionError::kProtocol, ErrorCode::kProtocolError);
  flush();
  return error_ == ConnectionError::kNone;
}

void ServerConnection::flush() {
  ++depth_;
  pump_.flush(
      session_.get(), handler_,
      [this] {
        if (error_ == ConnectionError::kNone) error_ = ConnectionError::kProtocol;
      },
      [this](int32_t id) {
        if (find(id) != nullptr) handler_.on_response_writable(id);
      });
  --depth_;
}

void ServerConnection::after_user_call() {
  if (depth_ != 0) return;
  if (schedule_flush_) {
    schedule_flush_();
  } else {
    flush();
  }
}

bool ServerConnection::submit_interim(int32_t stream_id, const http::ResponseHead& head) {
  Stream* stream = find(stream_id);
  if (stream == nullptr || stream->response_submitted) return false;
  if (head.status < 100 || head.status > 199 || head.status == 101) return false;
  const std::string status = std::to_string(head.status);
  std::vector<nghttp2_nv> nva = response_nva(status, head.headers);
  int rv = nghttp2_submit_headers(session_.get(), NGHTTP2_FLAG_NONE, stream_id, nullptr, nva.data(),
                                  nva.size(), nullptr);
  after_user_call();
  return rv == 0;
}

bool ServerConnection::submit_response(int32_t stream_id, const http::ResponseHead& head, bool end_stream) {
  Stream* stream = find(stream_id);
  if (stream == nullptr || stream->response_submitted) return false;
  const std::string status = std::to_string(head.status);
  std::vector<nghttp2_nv> nva = response_nva(status, head.headers);
  nghttp2_data_provider provider{};
  provider.read_callback = &Callbacks::read_body;
  stream->response_submitted = true;
  stream->body_end = end_stream;
  int rv = nghttp2_submit_response(session_.get(), stream_id, nva.data(), nva.size(),
                                   end_stream ? nullptr : &provider);
  if (rv != 0) {
    nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_INTERNAL_ERROR);
  }
  after_user_call();
  return rv == 0;
}

bool ServerConnection::submit_data(int32_t stream_id, const uint8_t* data, size_t length, bool end_stream) {
  Stream* stream = find(stream_id);
  if (stream == nullptr || !stream->response_submitted || stream->body_end) return false;
  stream->body.append(reinterpret_cast<const char*>(data), length);
  if (end_stream) stream->body_end = true;
  if (length > 0 || end_stream) SessionPump::resume_deferred(session_.get(), stream_id, &stream->deferred);
  after_user_call();
  return true;
}

bool ServerConnection::submit_trailers(int32_t stream_id, std::vector<http::Header> trailers) {
  Stream* stream = find(stream_id);
  if (stream == nullptr || !stream->response_submitted || stream->body_end) return false;
  stream->response_trailers = std::move(trailers);
  stream->body_end = true;
  SessionPump::resume_deferred(session_.get(), stream_id, &stream->deferred);
  after_user_call();
  return true;
}

bool ServerConnection::submit_local_response(int32_t stream_id, uint16_t status, const std::string& body) {
  http::ResponseHead head;
  head.status = status;
  head.headers.push_back({"content-type", "text/plain"});
  head.headers.push_back({"content-length", std::to_string(body.size())});
  ++depth_;  // one flush for head and body
  bool ok = submit_response(stream_id, head, body.empty());
  if (ok && !body.empty()) {
    ok = submit_data(stream_id, reinterpret_cast<const uint8_t*>(body.data()), body.size(), true);
  }
  --depth_;
  after_user_call();
  return ok;
}

void ServerConnection::reject(int32_t stream_id, Stream& stream, uint16_t status, const char* why) {
  stream.rejected = true;
  handler_.on_request_rejected(stream_id, status, why);
  std::string body = std::string("The request was refused: ") + why + ".\n";
  submit_local_response(stream_id, status, body);
}

void ServerConnection::reset_stream(int32_t stream_id, ErrorCode error) {
  if (find(stream_id) == nullptr) return;
  nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, stream_id, static_cast<uint32_t>(error));
  after_user_call();
}

void ServerConnection::consume(int32_t stream_id, size_t length) {
  if (length == 0 || find(stream_id) == nullptr) return;
  nghttp2_session_consume_stream(session_.get(), stream_id, length);
  after_user_call();
}

bool ServerConnection::response_buffer_full(int32_t stream_id) {
  Stream* stream = find(stream_id);
  if (stream == nullptr) return false;
  if (stream->buffered() < kResponseBufferHigh) return false;
  stream->want_writable = true;
  return true;
}

void ServerConnection::fail(ConnectionError why, ErrorCode code) {
  if (error_ != ConnectionError::kNone) return;
  error_ = why;
  nghttp2_session_terminate_session(session_.get(), static_cast<uint32_t>(code));
}

bool ServerConnection::count_reset() {
  if (resets_.take(now_ms_)) return true;
  fail(ConnectionError::kRapidReset, ErrorCode::kEnhanceYourCalm);
  return false;
}

bool ServerConnection::count_control_frame() {
  if (control_frames_.take(now_ms_)) return true;
  fail(ConnectionError::kControlFlood, ErrorCode::kEnhanceYourCalm);
  return false;
}

void ServerConnection::drain() {
  if (draining_) return;
  draining_ = true;
  if (error_ == ConnectionError::kNone) {
    int32_t last = nghttp2_session_get_last_proc_stream_id(session_.get());
    nghttp2_submit_goaway(session_.get(), NGHTTP2_FLAG_NONE, last, NGHTTP2_NO_ERROR, nullptr, 0);
  }
  after_user_call();
}

void ServerConnection::idle_timeout() {
  fail(ConnectionError::kIdle, ErrorCode::kNoError);
  after_user_call();
}

void ServerConnection::on_timer(uint64_t now_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  uint64_t next = next_deadline_ms();
  if (next == 0 || next > now_ms_) return;
  // A header block holds the whole connection (nothing may interleave with CONTINUATION), so a
  // stalled one ends the connection, not just the stream.
  fail(ConnectionError::kHeaderTimeout, ErrorCode::kEnhanceYourCalm);
  after_user_call();
}

bool ServerConnection::finished() const {
  return nghttp2_session_want_read(session_.get()) == 0 && nghttp2_session_want_write(session_.get()) == 0;
}

}  // namespace pharos::http2
