#include "engine/http2/client_connection.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>
#include <string_view>

#include "engine/http/ascii_case.h"

namespace pharos::http2 {

const char* stream_error_name(StreamError error) {
  switch (error) {
    case StreamError::kNone: return "none";
    case StreamError::kRefused: return "refused";
    case StreamError::kReset: return "reset";
    case StreamError::kConnectionLost: return "connection_lost";
    case StreamError::kCancelled: return "cancelled";
  }
  return "unknown";
}

struct ClientConnection::Stream {
  http::ResponseHead head;
  size_t header_list_bytes = 0;
  bool oversized = false;
  bool announced = false;          // on_response() delivered: a HEADERS block now is trailers
  std::vector<http::Header> response_trailers;  // while the trailer block is decoded
  std::vector<http::Header> request_trailers;   // sent after the request body (submit_trailers)
  bool response_complete = false;  // END_STREAM from the member
  bool cancelled = false;          // reset_stream() by the caller
  // Request body waiting for the data provider; body_offset bytes of it are already sent.
  std::string body;
  size_t body_offset = 0;
  bool body_end = false;
  bool deferred = false;       // the data provider returned NGHTTP2_ERR_DEFERRED
  bool want_writable = false;  // request_buffer_full() said true; notify when it drains

  size_t buffered() const { return body.size() - body_offset; }
};

namespace {

nghttp2_nv make_nv(const std::string& name, const std::string& value) {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE};
}

uint16_t parse_status(std::string_view value) {
  if (value.size() != 3) return 0;
  uint16_t n = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return 0;
    n = static_cast<uint16_t>(n * 10 + (c - '0'));
  }
  return n;
}

}  // namespace

// nghttp2's C callbacks: cast the user data to the connection and forward. Nothing here throws.
struct ClientConnection::Callbacks {
  static ClientConnection& self(void* user_data) { return *static_cast<ClientConnection*>(user_data); }

  // nghttp2 files only the first HEADERS of a stream as a response (NGHTTP2_HCAT_RESPONSE); a
  // final head after an interim one, and trailers, come as NGHTTP2_HCAT_HEADERS. Which of them
  // a block is follows from whether the final head has been delivered.
  static bool is_headers(const nghttp2_frame* frame) {
    return frame->hd.type == NGHTTP2_HEADERS &&
           (frame->headers.cat == NGHTTP2_HCAT_RESPONSE || frame->headers.cat == NGHTTP2_HCAT_HEADERS);
  }

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    if (!is_headers(frame)) return 0;
    if (Stream* stream = self(user_data).find(frame->hd.stream_id)) {
      if (stream->announced) {
        stream->response_trailers.clear();
      } else {
        stream->head = http::ResponseHead{};  // a final head after an interim one starts afresh
      }
      stream->header_list_bytes = 0;
    }
    return 0;
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                       size_t name_length, const uint8_t* value, size_t value_length, uint8_t,
                       void* user_data) {
    if (!is_headers(frame)) return 0;
    auto& c = self(user_data);
    Stream* stream = c.find(frame->hd.stream_id);
    if (stream == nullptr || stream->oversized) return 0;
    stream->header_list_bytes += name_length + value_length + 32;  // RFC 9113 6.5.2
    if (stream->header_list_bytes > c.settings_.max_header_list_bytes) {
      stream->oversized = true;
      stream->head.headers.clear();
      stream->response_trailers.clear();
      return 0;
    }
    std::string_view n(reinterpret_cast<const char*>(name), name_length);
    std::string_view v(reinterpret_cast<const char*>(value), value_length);
    if (stream->announced) return on_trailer(*stream, n, v);
    if (n == ":status") {
      stream->head.status = parse_status(v);
      return 0;
    }
    if (!n.empty() && n.front() == ':') return 0;  // nghttp2 has checked the pseudo-headers
    stream->head.headers.push_back(http::Header{std::string(n), std::string(v)});
    return 0;
  }

  // A field of the response's trailer section. nghttp2 checks it as it checks header fields and
  // resets a stream whose trailers carry a pseudo-header or lack END_STREAM (RFC 9113 8.1).
  static int on_trailer(Stream& stream, std::string_view name, std::string_view value) {
    if (!name.empty() && name.front() == ':') return 0;
    stream.response_trailers.push_back(http::Header{std::string(name), std::string(value)});
    return 0;
  }

  static int on_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    auto& c = self(user_data);
    const int32_t id = frame->hd.stream_id;
    const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    switch (frame->hd.type) {
      case NGHTTP2_HEADERS: {
        Stream* stream = c.find(id);
        if (stream == nullptr) return 0;
        if (!stream->announced) {
          if (stream->oversized || stream->head.status == 0 || stream->head.status == 101) {
            nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, id, NGHTTP2_INTERNAL_ERROR);
            return 0;
          }
          if (stream->head.status < 200) {  // interim: the final head follows
            http::ResponseHead head = std::move(stream->head);
            stream->head = http::ResponseHead{};
            c.handler_.on_interim_response(id, std::move(head));
            return 0;
          }
          stream->announced = true;
          if (end_stream) stream->response_complete = true;
          http::ResponseHead head = std::move(stream->head);
          stream->head = http::ResponseHead{};
          c.handler_.on_response(id, std::move(head), end_stream);
        } else if (end_stream) {
          if (stream->oversized) {
            nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, id, NGHTTP2_INTERNAL_ERROR);
            return 0;
          }
          stream->response_complete = true;  // trailers end the response
          std::vector<http::Header> trailers;
          trailers.swap(stream->response_trailers);
          c.handler_.on_response_trailers(id, std::move(trailers));
        }
        return 0;
      }
      case NGHTTP2_DATA:
        if (end_stream) {
          if (Stream* stream = c.find(id)) stream->response_complete = stream->announced;
        }
        return 0;
      case NGHTTP2_SETTINGS:
        if ((frame->hd.flags & NGHTTP2_FLAG_ACK) == 0) c.settings_received_ = true;
        return 0;
      case NGHTTP2_GOAWAY:
        c.goaway_received_ = true;
        c.handler_.on_goaway(frame->goaway.last_stream_id, frame->goaway.error_code);
        return 0;
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
      nghttp2_session_consume_stream(session, id, length);
      return 0;
    }
    c.handler_.on_response_data(id, data, length);
    return 0;
  }

  static int on_stream_close(nghttp2_session*, int32_t id, uint32_t error_code, void* user_data) {
    auto& c = self(user_data);
    auto it = c.streams_.find(id);
    if (it == c.streams_.end()) return 0;
    std::unique_ptr<Stream> stream = std::move(it->second);
    c.streams_.erase(it);
    StreamError why = StreamError::kReset;
    if (stream->response_complete) {
      why = StreamError::kNone;  // a reset after the whole response (e.g. NO_ERROR) costs nothing
    } else if (stream->cancelled) {
      why = StreamError::kCancelled;
    } else if (error_code == NGHTTP2_REFUSED_STREAM && !stream->announced) {
      why = StreamError::kRefused;
    } else if (c.failed_) {
      why = StreamError::kConnectionLost;
    }
    c.handler_.on_stream_close(id, why);
    return 0;
  }

  // The request body's last bytes are going out: END_STREAM on them, or a trailer section after.
  static void end_body(ClientConnection& c, int32_t id, Stream& stream, uint32_t* flags) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (stream.request_trailers.empty()) return;
    std::vector<nghttp2_nv> nva;
    nva.reserve(stream.request_trailers.size());
    for (const auto& field : stream.request_trailers) nva.push_back(make_nv(field.name, field.value));
    if (nghttp2_submit_trailer(c.session_.get(), id, nva.data(), nva.size()) == 0) {
      *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    }
    stream.request_trailers.clear();
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
    } else if (stream->body_offset >= kRequestBufferHigh) {
      stream->body.erase(0, stream->body_offset);
      stream->body_offset = 0;
    }
    if (stream->want_writable && stream->buffered() < kRequestBufferHigh / 2) {
      stream->want_writable = false;
      c.pump_.mark_writable(id);
    }
    return static_cast<ssize_t>(n);
  }
};

ClientConnection::ClientConnection(Handler& handler, const ClientSettings& settings)
    : handler_(handler), settings_(settings), session_(nullptr, &nghttp2_session_del) {
  nghttp2_session_callbacks* callbacks = nullptr;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, &Callbacks::on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, &Callbacks::on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &Callbacks::on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &Callbacks::on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &Callbacks::on_stream_close);

  nghttp2_option* option = nullptr;
  nghttp2_option_new(&option);
  nghttp2_option_set_no_auto_window_update(option, 1);
  nghttp2_option_set_max_send_header_block_length(option, 64 * 1024);
  nghttp2_option_set_peer_max_concurrent_streams(option, std::max<uint32_t>(1, settings.assumed_max_concurrent_streams));

  nghttp2_session* session = nullptr;
  nghttp2_session_client_new2(&session, callbacks, this, option);
  session_.reset(session);
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(callbacks);

  nghttp2_settings_entry entries[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, settings.initial_window_bytes},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, settings.max_header_list_bytes},
      {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, settings.header_table_bytes},
  };
  nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, entries, std::size(entries));
}

ClientConnection::~ClientConnection() {
  session_.reset();  // before the stream map its callbacks look into
}

ClientConnection::Stream* ClientConnection::find(int32_t stream_id) {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : it->second.get();
}

bool ClientConnection::feed(const uint8_t* data, size_t length) {
  if (failed_) return false;
  ++depth_;
  ssize_t rv = nghttp2_session_mem_recv(session_.get(), data, length);
  --depth_;
  if (rv < 0) fail();
  flush();
  if (nghttp2_session_want_read(session_.get()) == 0 && !streams_.empty()) {
    connection_lost();  // nghttp2 ended the session on a bad frame, once its GOAWAY is out
  }
  return !failed_ && nghttp2_session_want_read(session_.get()) != 0;
}

void ClientConnection::flush() {
  ++depth_;
  pump_.flush(session_.get(), handler_, [this] { fail(); }, [this](int32_t id) {
    if (find(id) != nullptr) handler_.on_request_writable(id);
  });
  --depth_;
}

void ClientConnection::after_user_call() {
  if (depth_ == 0) flush();
}

int32_t ClientConnection::submit_request(const http::RequestHead& head, bool end_stream) {
  if (failed_ || shutdown_ || goaway_received_) return 0;
  static const std::string kMethod = ":method", kScheme = ":scheme", kAuthority = ":authority",
                           kPath = ":path";
  std::vector<std::string> names;
  names.reserve(head.headers.size());
  std::vector<nghttp2_nv> nva;
  nva.reserve(head.headers.size() + 4);
  nva.push_back(make_nv(kMethod, head.method));
  nva.push_back(make_nv(kScheme, head.scheme));
  nva.push_back(make_nv(kAuthority, head.authority));
  nva.push_back(make_nv(kPath, head.path));
  for (const auto& header : head.headers) names.push_back(http::ascii_lowercase(header.name));
  for (size_t i = 0; i < head.headers.size(); ++i) nva.push_back(make_nv(names[i], head.headers[i].value));
  nghttp2_data_provider provider{};
  provider.read_callback = &Callbacks::read_body;
  int32_t id = nghttp2_submit_request(session_.get(), nullptr, nva.data(), nva.size(),
                                      end_stream ? nullptr : &provider, nullptr);
  if (id <= 0) return 0;
  auto stream = std::make_unique<Stream>();
  stream->body_end = end_stream;
  streams_.emplace(id, std::move(stream));
  after_user_call();
  return find(id) != nullptr ? id : 0;
}

bool ClientConnection::submit_data(int32_t stream_id, const uint8_t* data, size_t length, bool end_stream) {
  Stream* stream = find(stream_id);
  if (stream == nullptr || stream->body_end) return false;
  stream->body.append(reinterpret_cast<const char*>(data), length);
  if (end_stream) stream->body_end = true;
  if (length > 0 || end_stream) SessionPump::resume_deferred(session_.get(), stream_id, &stream->deferred);
  after_user_call();
  return true;
}

bool ClientConnection::submit_trailers(int32_t stream_id, std::vector<http::Header> trailers) {
  Stream* stream = find(stream_id);
  if (stream == nullptr || stream->body_end) return false;
  for (auto& field : trailers) field.name = http::ascii_lowercase(field.name);
  stream->request_trailers = std::move(trailers);
  stream->body_end = true;
  SessionPump::resume_deferred(session_.get(), stream_id, &stream->deferred);
  after_user_call();
  return true;
}

void ClientConnection::reset_stream(int32_t stream_id) {
  Stream* stream = find(stream_id);
  if (stream == nullptr) return;
  stream->cancelled = true;
  // A stream whose response and request are both whole closes by itself: no RST_STREAM.
  if (stream->response_complete && stream->body_end && stream->buffered() == 0) return;
  nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
  after_user_call();
}

void ClientConnection::consume(int32_t stream_id, size_t length) {
  if (length == 0 || find(stream_id) == nullptr) return;
  nghttp2_session_consume_stream(session_.get(), stream_id, length);
  after_user_call();
}

bool ClientConnection::request_buffer_full(int32_t stream_id) {
  Stream* stream = find(stream_id);
  if (stream == nullptr || stream->buffered() < kRequestBufferHigh) return false;
  stream->want_writable = true;
  return true;
}

uint32_t ClientConnection::max_concurrent_streams() const {
  return nghttp2_session_get_remote_settings(session_.get(), NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
}

bool ClientConnection::can_open_stream() const {
  return !failed_ && !shutdown_ && !goaway_received_ &&
         nghttp2_session_check_request_allowed(session_.get()) != 0 &&
         streams_.size() < max_concurrent_streams();
}

void ClientConnection::shutdown() {
  if (shutdown_ || failed_) return;
  shutdown_ = true;
  nghttp2_submit_goaway(session_.get(), NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(session_.get()), NGHTTP2_NO_ERROR,
                        nullptr, 0);
  after_user_call();
}

void ClientConnection::fail() {
  if (failed_) return;
  failed_ = true;
  nghttp2_session_terminate_session(session_.get(), NGHTTP2_PROTOCOL_ERROR);
  connection_lost();
}

void ClientConnection::connection_lost() {
  failed_ = true;
  // Each close may make the handler touch other streams: take them one at a time.
  while (!streams_.empty()) {
    auto it = streams_.begin();
    int32_t id = it->first;
    bool complete = it->second->response_complete;
    streams_.erase(it);
    handler_.on_stream_close(id, complete ? StreamError::kNone : StreamError::kConnectionLost);
  }
}

bool ClientConnection::finished() const {
  return failed_ || (nghttp2_session_want_read(session_.get()) == 0 &&
                     nghttp2_session_want_write(session_.get()) == 0);
}

}  // namespace pharos::http2
