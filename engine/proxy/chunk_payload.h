// Chunk data out of a chunked HTTP/1.1 body, for the sessions that turn one into HTTP/2 DATA
// (a member's response towards an h2 client, an HTTP/1 client's request towards an h2 member).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/http/ascii_case.h"
#include "engine/http/request.h"
#include "engine/http1/body_decoder.h"
#include "engine/proxy/header_rules.h"

namespace pharos::proxy {

// The payload of a chunked body that http1::BodyDecoder has already validated: chunk data only,
// sizes and extensions dropped (h2 frames the body itself); the trailer section is kept whole
// (bounded by the decoder's max_trailer_bytes) for trailers().
class ChunkPayload {
 public:
  void reset() {
    state_ = State::kSize;
    remaining_ = 0;
    trailer_section_.clear();
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
          trailer_section_.append(data + i, length - i);
          return;
      }
    }
  }

  // The trailer fields once the body is done: names lower-cased, values as validated, those a
  // trailer must not carry dropped. False when there are more than max_fields.
  bool trailers(uint32_t max_fields, std::vector<http::Header>* out) const {
    std::string_view rest(trailer_section_);
    uint32_t fields = 0;
    while (!rest.empty()) {
      size_t end = rest.find("\r\n");
      if (end == 0 || end == std::string_view::npos) break;  // the empty line ends the section
      std::string_view line = rest.substr(0, end);
      rest.remove_prefix(end + 2);
      if (++fields > max_fields) return false;
      size_t colon = line.find(':');
      std::string_view name = line.substr(0, colon);
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
      if (forbidden_in_trailers(name)) continue;
      out->push_back(http::Header{http::ascii_lowercase(name), std::string(value)});
    }
    return true;
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
  std::string trailer_section_;
};

// One step of an HTTP/1.1 body on its way into HTTP/2 DATA.
struct PayloadStep {
  http1::BodyDecoder::Step step;  // what the decoder made of the bytes; look at step.error first
  std::string_view payload;       // what the peer gets of the step.consumed bytes
};

// Feeds `data` to `body`. The payload is the consumed bytes themselves, or, with `chunks` (a
// chunked body), their chunk data, extracted into `scratch`. After an error, or when nothing was
// consumed, the payload is empty and `scratch` untouched.
inline PayloadStep feed_payload(http1::BodyDecoder& body, ChunkPayload* chunks, const char* data,
                                size_t length, std::string* scratch) {
  PayloadStep out{body.feed(data, length), {}};
  if (out.step.error != http1::Error::kNone || out.step.consumed == 0) return out;
  if (chunks == nullptr) {
    out.payload = std::string_view(data, out.step.consumed);
    return out;
  }
  scratch->clear();
  chunks->extract(data, out.step.consumed, scratch);
  out.payload = *scratch;
  return out;
}

}  // namespace pharos::proxy
