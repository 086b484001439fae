#include "engine/http1/body_decoder.h"

#include <algorithm>

#include "engine/http1/char_class.h"

namespace pharos::http1 {

using detail::is_tchar;

void BodyDecoder::reset(BodyFraming framing, uint64_t content_length,
                        uint32_t max_trailer_bytes) {
  framing_ = framing;
  state_ = State::kSizeStart;
  error_ = Error::kNone;
  size_digits_ = 0;
  line_bytes_ = 0;
  trailer_bytes_ = 0;
  max_trailer_bytes_ = max_trailer_bytes;
  remaining_ = framing == BodyFraming::kContentLength ? content_length : 0;
  payload_bytes_ = 0;
  done_ = framing == BodyFraming::kNone ||
          (framing == BodyFraming::kContentLength && content_length == 0);
}

BodyDecoder::Step BodyDecoder::feed(const char* data, size_t len) {
  if (error_ != Error::kNone) return {0, false, error_};
  if (done_) return {0, true, Error::kNone};
  switch (framing_) {
    case BodyFraming::kContentLength: {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, len));
      remaining_ -= n;
      payload_bytes_ += n;
      done_ = remaining_ == 0;
      return {n, done_, Error::kNone};
    }
    case BodyFraming::kUntilClose:
      payload_bytes_ += len;
      return {len, false, Error::kNone};
    case BodyFraming::kChunked:
      return feed_chunked(data, len);
    case BodyFraming::kNone:
      break;
  }
  return {0, true, Error::kNone};
}

bool BodyDecoder::finish_on_close() {
  if (error_ != Error::kNone) return false;
  if (framing_ == BodyFraming::kUntilClose) done_ = true;
  return done_;
}

BodyDecoder::Step BodyDecoder::feed_chunked(const char* data, size_t len) {
  const auto* p = reinterpret_cast<const uint8_t*>(data);
  const auto* const begin = p;
  const auto* const end = p + len;
  while (p < end) {
    if (state_ == State::kData) {
      // The hot path: chunk data is skipped in bulk, never looked at.
      const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, end - p));
      p += n;
      remaining_ -= n;
      payload_bytes_ += n;
      if (remaining_ == 0) state_ = State::kDataCr;
      continue;
    }
    const Error e = chunk_byte(*p);
    if (e != Error::kNone) {
      error_ = e;
      return {static_cast<size_t>(p - begin), false, e};
    }
    ++p;
    if (done_) break;
  }
  return {static_cast<size_t>(p - begin), done_, Error::kNone};
}

Error BodyDecoder::chunk_byte(uint8_t c) {
  switch (state_) {
    case State::kSizeStart:
    case State::kSize:
    case State::kExtNameStart:
    case State::kExtName:
    case State::kExtValueStart:
    case State::kExtToken:
    case State::kExtQuoted:
    case State::kExtQuotedEscape:
    case State::kExtAfterQuoted:
    case State::kSizeLf:
      if (++line_bytes_ > kMaxChunkLineBytes) return Error::kBadChunk;
      break;
    case State::kTrailerLineStart:
    case State::kTrailerName:
    case State::kTrailerValue:
    case State::kTrailerLf:
    case State::kFinalLf:
      if (++trailer_bytes_ > max_trailer_bytes_) return Error::kBadTrailer;
      break;
    case State::kData:
    case State::kDataCr:
    case State::kDataLf:
      break;
  }

  switch (state_) {
    case State::kSizeStart:
    case State::kSize: {
      const uint8_t v = detail::kHex[c];
      if (v != 0xFF) {
        // 16 hex digits fill a u64 exactly, so refusing a 17th rules out overflow.
        if (size_digits_ == 16) return Error::kBadChunkSize;
        remaining_ = (remaining_ << 4) | v;
        ++size_digits_;
        state_ = State::kSize;
        return Error::kNone;
      }
      // BWS before ';' is not accepted: senders must not generate it and refusing it leaves no
      // room for a member to read the size line differently.
      if (state_ == State::kSizeStart) return Error::kBadChunkSize;
      if (c == ';') {
        state_ = State::kExtNameStart;
      } else if (c == '\r') {
        state_ = State::kSizeLf;
      } else {
        return Error::kBadChunkSize;
      }
      return Error::kNone;
    }
    case State::kExtNameStart:
      if (!is_tchar(c)) return Error::kBadChunk;
      state_ = State::kExtName;
      return Error::kNone;
    case State::kExtName:
    case State::kExtToken:
      if (is_tchar(c)) return Error::kNone;
      if (c == '=' && state_ == State::kExtName) {
        state_ = State::kExtValueStart;
      } else if (c == ';') {
        state_ = State::kExtNameStart;
      } else if (c == '\r') {
        state_ = State::kSizeLf;
      } else {
        return Error::kBadChunk;
      }
      return Error::kNone;
    case State::kExtValueStart:
      if (is_tchar(c)) {
        state_ = State::kExtToken;
      } else if (c == '"') {
        state_ = State::kExtQuoted;
      } else {
        return Error::kBadChunk;
      }
      return Error::kNone;
    case State::kExtQuoted:
      if (c == '"') {
        state_ = State::kExtAfterQuoted;
      } else if (c == '\\') {
        state_ = State::kExtQuotedEscape;
      } else if (!detail::kQdtext[c]) {
        return Error::kBadChunk;
      }
      return Error::kNone;
    case State::kExtQuotedEscape:
      // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
      if (!detail::kFieldValue[c]) return Error::kBadChunk;
      state_ = State::kExtQuoted;
      return Error::kNone;
    case State::kExtAfterQuoted:
      if (c == ';') {
        state_ = State::kExtNameStart;
      } else if (c == '\r') {
        state_ = State::kSizeLf;
      } else {
        return Error::kBadChunk;
      }
      return Error::kNone;
    case State::kSizeLf:
      if (c != '\n') return Error::kBadChunk;
      line_bytes_ = 0;
      size_digits_ = 0;
      state_ = remaining_ == 0 ? State::kTrailerLineStart : State::kData;
      return Error::kNone;
    case State::kData:
      return Error::kNone;  // not reached: feed_chunked consumes data in bulk
    case State::kDataCr:
      if (c != '\r') return Error::kBadChunk;
      state_ = State::kDataLf;
      return Error::kNone;
    case State::kDataLf:
      if (c != '\n') return Error::kBadChunk;
      state_ = State::kSizeStart;
      return Error::kNone;
    case State::kTrailerLineStart:
      if (c == '\r') {
        state_ = State::kFinalLf;
      } else if (is_tchar(c)) {
        state_ = State::kTrailerName;
      } else {
        return Error::kBadTrailer;  // includes obs-fold (SP/HTAB) and an empty name
      }
      return Error::kNone;
    case State::kTrailerName:
      if (is_tchar(c)) return Error::kNone;
      if (c != ':') return Error::kBadTrailer;
      state_ = State::kTrailerValue;
      return Error::kNone;
    case State::kTrailerValue:
      if (detail::kFieldValue[c]) return Error::kNone;
      if (c != '\r') return Error::kBadTrailer;
      state_ = State::kTrailerLf;
      return Error::kNone;
    case State::kTrailerLf:
      if (c != '\n') return Error::kBadTrailer;
      state_ = State::kTrailerLineStart;
      return Error::kNone;
    case State::kFinalLf:
      if (c != '\n') return Error::kBadTrailer;
      done_ = true;
      return Error::kNone;
  }
  return Error::kNone;
}

}  // namespace pharos::http1
