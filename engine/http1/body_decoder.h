// Streams an HTTP/1.x message body without buffering it. The proxy forwards the consumed raw
// bytes verbatim (chunk framing included); the decoder only validates and finds the end.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/http1/message.h"

namespace pharos::http1 {

class BodyDecoder {
 public:
  // A chunk-size line (size, extensions, CRLF) longer than this is refused with kBadChunk, so a
  // peer cannot stream extension bytes forever.
  static constexpr uint32_t kMaxChunkLineBytes = 4096;

  struct Step {
    size_t consumed;  // bytes of this message in data; forward exactly these
    bool done;        // the message ended within them
    Error error;      // kNone unless the body is malformed; then consumed stops before the fault
  };

  // Starts a new body. max_trailer_bytes bounds the chunked trailer section (kBadTrailer).
  void reset(BodyFraming framing, uint64_t content_length,
             uint32_t max_trailer_bytes = Limits{}.max_trailer_bytes);

  // Consumes up to len bytes and stops exactly at the end of the message, never taking bytes of a
  // pipelined successor. kUntilClose consumes everything and ends only via finish_on_close().
  // Any split of the input gives the same result. After an error, returns it again, consuming 0.
  Step feed(const char* data, size_t len);

  // The peer closed: true when that ends the message validly (kUntilClose, or already done),
  // false when the body is truncated or was malformed.
  bool finish_on_close();

  bool done() const { return done_; }
  Error error() const { return error_; }
  // Payload bytes seen so far (chunk data only, framing excluded).
  uint64_t payload_bytes() const { return payload_bytes_; }

 private:
  enum class State : uint8_t {
    kSizeStart, kSize, kExtNameStart, kExtName, kExtValueStart, kExtToken, kExtQuoted,
    kExtQuotedEscape, kExtAfterQuoted, kSizeLf, kData, kDataCr, kDataLf,
    kTrailerLineStart, kTrailerName, kTrailerValue, kTrailerLf, kFinalLf,
  };

  Step feed_chunked(const char* data, size_t len);
  // Advances the chunk framing state machine by one byte outside chunk data.
  Error chunk_byte(uint8_t c);

  BodyFraming framing_ = BodyFraming::kNone;
  State state_ = State::kSizeStart;
  bool done_ = true;
  Error error_ = Error::kNone;
  uint8_t size_digits_ = 0;
  uint32_t line_bytes_ = 0;     // bytes of the current chunk-size line
  uint32_t trailer_bytes_ = 0;  // bytes of the trailer section so far
  uint32_t max_trailer_bytes_ = Limits{}.max_trailer_bytes;
  uint64_t remaining_ = 0;  // content-length bytes left, or chunk size being read / data left
  uint64_t payload_bytes_ = 0;
};

}  // namespace pharos::http1
