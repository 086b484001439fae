// What an HTTP session sets on an HTTP/1.1 member connection when it takes it, new or from the
// pool. HttpSession and H2Session's streams set the same; only their callbacks differ.
#pragma once

#include <cstdint>

#include "engine/net/event_handles.h"

namespace pharos::proxy {

struct MemberCallbacks {
  bufferevent_data_cb read;
  bufferevent_data_cb write;
  bufferevent_event_cb event;
  void* arg;
};

// Installs `callbacks`; no read watermark; the write watermark that paces what is sent to the
// member; the member data timeout both ways; reading on (writes go through the worker's
// WriteCoalescer). A pooled connection usually has all of it but the callbacks from its
// previous exchange, and then libevent is not called again for it (net::set_*).
void apply_member_connection_settings(bufferevent* bev, const MemberCallbacks& callbacks,
                                      uint32_t data_timeout_ms);

}  // namespace pharos::proxy
