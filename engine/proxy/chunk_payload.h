// Chunk data out of a chunked HTTP/1.1 body, for the sessions that turn one into HTTP/2 DATA.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>

namespace pharos::proxy {

// The payload of a chunked body that http1::BodyDecoder has already validated: chunk data only,
// sizes, extensions and trailers dropped (h2 frames the body itself).
class ChunkPayload {
 public:
  void reset() {
    state_ = State::kSize;
    remaining_ = 0;
  }
  void extract(const char* data, size_t length, std::string* out) {
    size_t i = 0;
    while (i < length) {
      switch (state_) {
        case State::kSize: {
          char c = data[i++];
          int v = hex(c);
          if (v >= 0) {
            remaining_ = remaining_ * 16 + static_cast<uint64_t>(v);
          } else {
            state_ = c == '\n' ? after_size() : State::kSizeLine;
          }
          break;
        }
        case State::kSizeLine:
          if (data[i++] == '\n') state_ = after_size();
          break;
        case State::kData: {
          size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, length - i));
          out->append(data + i, n);
          i += n;
          remaining_ -= n;
          if (remaining_ == 0) state_ = State::kDataEnd;
          break;
        }
        case State::kDataEnd:
          if (data[i++] == '\n') state_ = State::kSize;
          break;
        case State::kTrailers:
          return;
      }
    }
  }

 private:
  enum class State : uint8_t { kSize, kSizeLine, kData, kDataEnd, kTrailers };
  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  State after_size() { return remaining_ == 0 ? State::kTrailers : State::kData; }
  State state_ = State::kSize;
  uint64_t remaining_ = 0;
};

}  // namespace pharos::proxy
