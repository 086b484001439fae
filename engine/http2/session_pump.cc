#include "engine/http2/session_pump.h"

#include <nghttp2/nghttp2.h>

namespace pharos::http2 {

ssize_t SessionPump::next_frames(nghttp2_session* session, const uint8_t** data) {
  return nghttp2_session_mem_send(session, data);
}

void SessionPump::resume_deferred(nghttp2_session* session, int32_t stream_id, bool* deferred) {
  if (!*deferred) return;
  *deferred = false;
  nghttp2_session_resume_data(session, stream_id);
}

}  // namespace pharos::http2
