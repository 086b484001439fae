// An HTTP/1.1 member's response head, read from the member connection's input buffer by both
// sessions (HTTP/1.x clients and h2 clients) with the same limits and the same refusals; what
// each then builds from it for its client differs.
#pragma once

#include <cstdint>

#include "engine/http1/parser.h"

struct evbuffer;

namespace pharos::proxy {

enum class MemberHead : uint8_t {
  kIncomplete,  // wait for more bytes
  kBad,         // unparseable, over the limits, or 101 (no upgrade crosses the proxy): 502
  kInterim,     // a 1xx: the caller relays or drops it, drains head_bytes, and reads again
  kFinal,       // the response head
};

// Parses the head at the start of `input` (not empty) into `out`, whose views point into
// `input` until it is drained. `head_request`: the response to a HEAD has no body.
MemberHead read_member_head(evbuffer* input, const http1::Limits& limits, bool head_request,
                            http1::ResponseHead* out);

}  // namespace pharos::proxy
