// The server side of one HTTP/2 connection over nghttp2's session API, without I/O: client
// bytes go in through feed(), frames for the client come out through Handler::write_output().
// Requests come out as version-neutral heads (engine/http/request.h), per-stream events go to
// the Handler, responses go in through submit_*(): interim (1xx) heads, the final head, body,
// trailers. Enforces config::Http2Limits: SETTINGS
// (concurrent streams, header list, HPACK table, initial window), rapid-reset and control-frame
// floods (GOAWAY ENHANCE_YOUR_CALM), the header-block timeout; drain() sends a graceful GOAWAY.
//
// Request bodies are flow controlled by the caller: the stream window reopens only as the
// caller calls consume(), so a slow member slows the client instead of filling memory. The
// connection window is reopened on receipt: stream windows already bound what is buffered.
// A request's trailer section is bounded by max_header_list_bytes like its header block. A
// response that ends before its request did (the member did not wait for the body) is followed
// by RST_STREAM NO_ERROR, so the client stops sending the rest (RFC 9113 8.1).
//
// Re-entrancy: Handler methods run inside feed(), flush() or submit_*(); they may call any
// method of this object except destroying it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/config/config_types.h"
#include "engine/http/request.h"
#include "engine/http2/session_pump.h"
#include "engine/http2/token_bucket.h"

struct nghttp2_session;

namespace pharos::http2 {

// RFC 9113 error codes used by callers.
enum class ErrorCode : uint32_t {
  kNoError = 0x0,
  kProtocolError = 0x1,
  kInternalError = 0x2,
  kRefusedStream = 0x7,
  kCancel = 0x8,
  kEnhanceYourCalm = 0xb,
};

// Why the codec ended the connection on its own.
enum class ConnectionError : uint8_t {
  kNone,
  kProtocol,        // the client broke HTTP/2 (bad preface, bad frame, compression error)
  kRapidReset,      // max_resets_per_second exceeded
  kControlFlood,    // max_control_frames_per_second exceeded
  kHeaderTimeout,   // a header block was not finished within header_timeout_ms
  kIdle,            // idle_timeout() was called
};
const char* connection_error_name(ConnectionError error);

class ServerConnection {
 public:
  // A stream's response body buffer above this asks the caller to stop producing
  // (response_buffer_full); on_response_writable() follows once it is below half.
  static constexpr size_t kResponseBufferHigh = 64 * 1024;

  class Handler {
   public:
    virtual ~Handler() = default;
    // A request's header block is complete and valid. end_stream: no body follows.
    virtual void on_request(int32_t stream_id, http::RequestHead head, bool end_stream) = 0;
    // The codec answered a request itself (400, 431) and will close the stream: count it.
    virtual void on_request_rejected(int32_t stream_id, uint16_t status, const char* why) = 0;
    // Request body bytes. The stream window reopens only by consume(stream_id, length).
    virtual void on_request_data(int32_t stream_id, const uint8_t* data, size_t length) = 0;
    virtual void on_request_end(int32_t stream_id) = 0;
    // The request's trailer section (a HEADERS block after the body, with END_STREAM), just
    // before on_request_end(). Names are lower case; nghttp2 has refused pseudo-headers.
    virtual void on_request_trailers(int32_t stream_id, std::vector<http::Header> trailers) = 0;
    // An announced request cannot be completed (its trailer section went over
    // max_header_list_bytes): the handler answers `status` or resets the stream;
    // on_request_end() does not follow.
    virtual void on_request_error(int32_t stream_id, uint16_t status, const char* why) = 0;
    // The stream is over: response sent in full (error_code 0), or reset by either side or
    // lost with the connection. Called once for every stream on_request() announced.
    virtual void on_stream_close(int32_t stream_id, uint32_t error_code) = 0;
    // The stream's response buffer drained below half of kResponseBufferHigh after
    // response_buffer_full() said true.
    virtual void on_response_writable(int32_t stream_id) = 0;
    // Frames for the client, in order.
    virtual void write_output(const uint8_t* data, size_t length) = 0;
    // True while the transport holds enough unsent output: the codec stops serializing and
    // the caller calls flush() when it drains.
    virtual bool output_blocked() const = 0;
  };

  ServerConnection(Handler& handler, const config::Http2Limits& limits, uint64_t now_ms);
  ~ServerConnection();
  ServerConnection(const ServerConnection&) = delete;
  ServerConnection& operator=(const ServerConnection&) = delete;

  // Feeds client bytes (the connection preface first). Returns false once the connection is
  // over (protocol error or a limit): the GOAWAY is queued; flush, then close.
  bool feed(const uint8_t* data, size_t length, uint64_t now_ms);
  // Serializes pending frames into write_output() until nothing is left or output_blocked().
  void flush();
  // From now on, the submit_*() calls and events made outside feed() and flush() call
  // `schedule` instead of flushing at once; the owner then calls flush() once for all of them
  // (at the end of its loop turn), so the frames of many streams are serialized together.
  void defer_flushes(std::function<void()> schedule) { schedule_flush_ = std::move(schedule); }

  // An interim response (1xx other than 101) before the final head: a HEADERS frame without
  // END_STREAM. May be called several times. False when the stream is gone, the final head was
  // already submitted, or the status is not interim.
  bool submit_interim(int32_t stream_id, const http::ResponseHead& head);
  // Response head; end_stream for a response without body. False when the stream is gone.
  bool submit_response(int32_t stream_id, const http::ResponseHead& head, bool end_stream);
  // Appends response body bytes; end_stream ends the body once they are sent.
  bool submit_data(int32_t stream_id, const uint8_t* data, size_t length, bool end_stream);
  // Ends the response body with a trailer section (HEADERS with END_STREAM) once the bytes
  // submitted before are sent; empty `trailers` end it like submit_data(..., true). Needs a
  // head submitted with end_stream false.
  bool submit_trailers(int32_t stream_id, std::vector<http::Header> trailers);
  // A whole local response (status, text/plain body) in one call.
  bool submit_local_response(int32_t stream_id, uint16_t status, const std::string& body);
  void reset_stream(int32_t stream_id, ErrorCode error);
  // The caller passed on `length` request body bytes of the stream: reopen its window.
  void consume(int32_t stream_id, size_t length);
  bool response_buffer_full(int32_t stream_id);

  // Graceful shutdown: GOAWAY NO_ERROR with the last stream id seen; streams in flight finish.
  void drain();
  // The connection was idle too long: GOAWAY NO_ERROR and finish.
  void idle_timeout();
  // Enforces the header timeout; call at next_deadline_ms() (0: none pending).
  void on_timer(uint64_t now_ms);
  uint64_t next_deadline_ms() const { return header_deadline_ms_; }

  // Nothing more to read or write: the caller closes once its transport is flushed.
  bool finished() const;
  bool draining() const { return draining_; }
  size_t open_streams() const { return streams_.size(); }
  ConnectionError error() const { return error_; }

 private:
  struct Stream;
  struct Callbacks;
  friend struct Callbacks;

  Stream* find(int32_t stream_id);
  void fail(ConnectionError why, ErrorCode code);
  bool count_reset();
  bool count_control_frame();
  void reject(int32_t stream_id, Stream& stream, uint16_t status, const char* why);
  void after_user_call();

  Handler& handler_;
  config::Http2Limits limits_;
  std::unique_ptr<nghttp2_session, void (*)(nghttp2_session*)> session_;
  std::unordered_map<int32_t, std::unique_ptr<Stream>> streams_;  // by id; looked up for every frame and submit
  // find()'s last answer: the callbacks of one frame (a header block's fields above all) ask
  // for the same stream in a row. Cleared when that stream is erased; ids are never reused.
  int32_t last_found_id_ = 0;
  Stream* last_found_ = nullptr;
  SessionPump pump_;  // flush(); its writable streams hear on_response_writable
  TokenBucket resets_;
  TokenBucket control_frames_;
  uint64_t now_ms_;
  // The open header block's deadline, 0 when none is open. There is at most one: nothing may
  // interleave with a header block's CONTINUATION frames (RFC 9113 6.10).
  uint64_t header_deadline_ms_ = 0;
  int32_t header_stream_id_ = 0;
  int depth_ = 0;          // >0 while inside feed() or flush(): submit_* defer their flush
  std::function<void()> schedule_flush_;  // defer_flushes()
  bool draining_ = false;
  ConnectionError error_ = ConnectionError::kNone;
};

}  // namespace pharos::http2
