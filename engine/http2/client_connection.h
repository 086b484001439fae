// The client side of one HTTP/2 connection to a member, over nghttp2's session API, without
// I/O: member bytes go in through feed(), frames for the member come out through
// Handler::write_output(). Requests go in as version-neutral heads (engine/http/request.h),
// responses come out as version-neutral heads and body bytes, so the proxy never sees frames.
//
// Flow control both ways: response bodies reopen their stream window only as the caller calls
// consume() (a slow client slows the member); request bodies are buffered per stream until
// the member's windows let them out, and request_buffer_full() tells the caller to stop
// producing until on_request_writable().
//
// Errors are values: feed() says whether the connection can go on, per-stream outcomes come as
// StreamError in on_stream_close(). No exception crosses nghttp2's C callbacks.
//
// Re-entrancy: Handler methods run inside feed(), flush() or the submit_* calls; they may call
// any method of this object except destroying it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/http/request.h"
#include "engine/http2/session_pump.h"

struct nghttp2_session;

namespace pharos::http2 {

// How a member stream ended.
enum class StreamError : uint8_t {
  kNone,           // the whole response arrived
  kRefused,        // the member did not process the request (REFUSED_STREAM, or above the last
                   // stream id of its GOAWAY): safe to send again elsewhere
  kReset,          // the member reset the stream, or the response broke HTTP/2 rules
  kConnectionLost, // the connection failed or was closed with the stream open
  kCancelled,      // the caller reset it
};
const char* stream_error_name(StreamError error);

struct ClientSettings {
  uint32_t initial_window_bytes = 256 * 1024;  // per response stream
  uint32_t max_header_list_bytes = 65536;      // response header lists beyond this reset the stream
  uint32_t header_table_bytes = 4096;
  // The member's SETTINGS_MAX_CONCURRENT_STREAMS assumed until its SETTINGS arrive (streams
  // beyond it wait in the codec): what an earlier connection to the member learned, else 100.
  uint32_t assumed_max_concurrent_streams = 100;
};

class ClientConnection {
 public:
  // A stream's request body buffer above this asks the caller to stop producing
  // (request_buffer_full); on_request_writable() follows once it is below half.
  static constexpr size_t kRequestBufferHigh = 64 * 1024;

  class Handler {
   public:
    virtual ~Handler() = default;
    // An interim head (1xx other than 101) before the final one; any number may come.
    virtual void on_interim_response(int32_t stream_id, http::ResponseHead head) = 0;
    // The final response head. end_stream: no body follows.
    virtual void on_response(int32_t stream_id, http::ResponseHead head, bool end_stream) = 0;
    // Response body bytes. The stream window reopens only by consume(stream_id, length).
    virtual void on_response_data(int32_t stream_id, const uint8_t* data, size_t length) = 0;
    // The response's trailer section (a HEADERS block after the body, with END_STREAM), just
    // before on_stream_close(kNone). Names are lower case; nghttp2 has refused pseudo-headers;
    // a section over max_header_list_bytes resets the stream instead.
    virtual void on_response_trailers(int32_t stream_id, std::vector<http::Header> trailers) = 0;
    // The stream is over, once for every stream submit_request() opened: kNone after the whole
    // response (on_response and any data came first), else why it ended.
    virtual void on_stream_close(int32_t stream_id, StreamError error) = 0;
    // The stream's request buffer drained below half of kRequestBufferHigh after
    // request_buffer_full() said true.
    virtual void on_request_writable(int32_t stream_id) = 0;
    // The member sent GOAWAY: no new stream may start; streams above last_stream_id close as
    // kRefused right after this.
    virtual void on_goaway(int32_t last_stream_id, uint32_t error_code) = 0;
    // Frames for the member, in order (the connection preface first).
    virtual void write_output(const uint8_t* data, size_t length) = 0;
    // True while the transport holds enough unsent output: the codec stops serializing and
    // the caller calls flush() when it drains.
    virtual bool output_blocked() const = 0;
  };

  ClientConnection(Handler& handler, const ClientSettings& settings);
  ~ClientConnection();
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  // Feeds member bytes. False once nothing more will be read (a protocol error, or the member's
  // GOAWAY with no stream left): open streams have been closed as kConnectionLost; flush, then
  // close.
  bool feed(const uint8_t* data, size_t length);
  // Serializes pending frames into write_output() until nothing is left or output_blocked().
  void flush();

  // Opens a stream for `head` (method, scheme, authority, path, regular fields; connection-
  // specific fields must already be gone). end_stream: no body. Returns the stream id, or 0
  // when no stream can start (GOAWAY, ids exhausted, connection failed).
  int32_t submit_request(const http::RequestHead& head, bool end_stream);
  // Appends request body bytes; end_stream ends the body once they are sent.
  bool submit_data(int32_t stream_id, const uint8_t* data, size_t length, bool end_stream);
  // Ends the request body with a trailer section (HEADERS with END_STREAM) once the bytes
  // submitted before are sent; empty `trailers` end it like submit_data(..., true). Callers
  // filter the fields (no pseudo-headers, none forbidden in trailers).
  bool submit_trailers(int32_t stream_id, std::vector<http::Header> trailers);
  // Resets the stream (CANCEL) unless it is whole both ways; its on_stream_close follows, maybe
  // inside this call (kNone when the response was whole, else kCancelled).
  void reset_stream(int32_t stream_id);
  // The caller passed on `length` response body bytes of the stream: reopen its window.
  void consume(int32_t stream_id, size_t length);
  bool request_buffer_full(int32_t stream_id);

  // Whether a new stream may start now: no GOAWAY either way, no failure, and fewer open
  // streams than the member's SETTINGS_MAX_CONCURRENT_STREAMS.
  bool can_open_stream() const;
  // The member's SETTINGS_MAX_CONCURRENT_STREAMS (nghttp2's assumption until its SETTINGS).
  uint32_t max_concurrent_streams() const;
  size_t open_streams() const { return streams_.size(); }
  // The member's first SETTINGS arrived (max_concurrent_streams() is its own figure).
  bool settings_received() const { return settings_received_; }
  bool goaway_received() const { return goaway_received_; }
  bool failed() const { return failed_; }
  // Graceful close: GOAWAY NO_ERROR; streams in flight finish.
  void shutdown();
  // The transport is gone: every open stream closes now as kConnectionLost.
  void connection_lost();
  // Nothing more to read or write: the caller closes once its transport is flushed.
  bool finished() const;

 private:
  struct Stream;
  struct Callbacks;
  friend struct Callbacks;

  Stream* find(int32_t stream_id);
  void after_user_call();
  void fail();

  Handler& handler_;
  ClientSettings settings_;
  std::unique_ptr<nghttp2_session, void (*)(nghttp2_session*)> session_;
  std::map<int32_t, std::unique_ptr<Stream>> streams_;
  SessionPump pump_;  // flush(); its writable streams hear on_request_writable
  int depth_ = 0;     // >0 inside feed() or flush(): submit_* defer their flush
  bool goaway_received_ = false;
  bool settings_received_ = false;
  bool shutdown_ = false;
  bool failed_ = false;
};

}  // namespace pharos::http2
