#include "engine/http1/message.h"

namespace pharos::http1 {

const char* error_name(Error error) {
  switch (error) {
    case Error::kNone: return "none";
    case Error::kBadRequestLine: return "bad_request_line";
    case Error::kBadMethod: return "bad_method";
    case Error::kBadTarget: return "bad_target";
    case Error::kBadVersion: return "bad_version";
    case Error::kBadStatusLine: return "bad_status_line";
    case Error::kBadHeaderName: return "bad_header_name";
    case Error::kBadHeaderValue: return "bad_header_value";
    case Error::kObsFold: return "obs_fold";
    case Error::kHeadersTooLarge: return "headers_too_large";
    case Error::kTooManyHeaders: return "too_many_headers";
    case Error::kBadContentLength: return "bad_content_length";
    case Error::kConflictingFraming: return "conflicting_framing";
    case Error::kBadTransferEncoding: return "bad_transfer_encoding";
    case Error::kBadChunkSize: return "bad_chunk_size";
    case Error::kBadChunk: return "bad_chunk";
    case Error::kBadTrailer: return "bad_trailer";
    case Error::kMissingHost: return "missing_host";
    case Error::kDuplicateHost: return "duplicate_host";
  }
  return "unknown";
}

void RequestHead::clear() {
  method = {};
  target = {};
  version_minor = 1;
  headers.clear();
  framing = BodyFraming::kNone;
  content_length = 0;
  keep_alive = false;
  expect_continue = false;
  host = {};
  user_agent = {};
  head_bytes = 0;
}

void ResponseHead::clear() {
  version_minor = 1;
  status = 0;
  reason = {};
  headers.clear();
  framing = BodyFraming::kNone;
  content_length = 0;
  keep_alive = false;
  tunnel = false;
  head_bytes = 0;
}

}  // namespace pharos::http1
