#include "engine/http2/session_pump.h"

#include <nghttp2/nghttp2.h>

namespace pharos::http2 {

ssize_t SessionPump::next_frames(nghttp2_session* session, const uint8_t** data) {
  return nghttp2_session_mem_send(session, data);
}

}  // namespace pharos::http2
