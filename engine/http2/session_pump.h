// The write side both HTTP/2 codecs share (ServerConnection towards clients, ClientConnection
// towards members): nghttp2's frames go to the transport until it pushes back or nothing is
// left, then the streams whose body buffer drained while serializing hear that they may produce
// again; another round follows while a handler call asked for one or drained another stream.
// A flush() from inside a flush() (a handler reacting) only asks for that round.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <vector>

struct nghttp2_session;

namespace pharos::http2 {

class SessionPump {
 public:
  // The data provider saw the stream's body buffer drain below half its high mark: the stream
  // hears it once this round's frames are out.
  void mark_writable(int32_t stream_id) { writable_.push_back(stream_id); }

  // A stream whose data provider found nothing to send (NGHTTP2_ERR_DEFERRED) is handed back
  // to nghttp2 now that body bytes, the body's end or trailers have arrived.
  static void resume_deferred(nghttp2_session* session, int32_t stream_id, bool* deferred);

  // `sink` has the Handler's output_blocked() and write_output(); `send_failed()` runs when
  // nghttp2 cannot serialize (the session is broken); `writable(id)` for each marked stream,
  // which may be gone by then.
  template <typename Sink, typename SendFailed, typename Writable>
  void flush(nghttp2_session* session, Sink& sink, SendFailed&& send_failed, Writable&& writable) {
    if (flushing_) {
      flush_again_ = true;
      return;
    }
    flushing_ = true;
    do {
      flush_again_ = false;
      while (!sink.output_blocked()) {
        const uint8_t* data = nullptr;
        ssize_t n = next_frames(session, &data);
        if (n <= 0) {
          if (n < 0) send_failed();
          break;
        }
        sink.write_output(data, static_cast<size_t>(n));
      }
      std::vector<int32_t> streams;
      streams.swap(writable_);
      for (int32_t id : streams) writable(id);
    } while (flush_again_ || !writable_.empty());
    flushing_ = false;
  }

 private:
  // nghttp2_session_mem_send: bytes of the next frames, 0 when none is pending, <0 on failure.
  static ssize_t next_frames(nghttp2_session* session, const uint8_t** data);

  std::vector<int32_t> writable_;  // streams to tell after serializing
  bool flushing_ = false;
  bool flush_again_ = false;
};

}  // namespace pharos::http2
