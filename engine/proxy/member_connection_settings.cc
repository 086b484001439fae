#include "engine/proxy/member_connection_settings.h"

#include "engine/net/bufferevent_settings.h"
#include "engine/proxy/session_common.h"

namespace pharos::proxy {

void apply_member_connection_settings(bufferevent* bev, const MemberCallbacks& callbacks,
                                      uint32_t data_timeout_ms) {
  bufferevent_setcb(bev, callbacks.read, callbacks.write, callbacks.event, callbacks.arg);
  // No read watermark: a member's input is bounded without one. Its response head waits whole
  // only up to the parser's max_header_bytes; after it, both sessions drain every read and
  // stop reading the member while their client is behind. libevent's watermark would
  // re-enable reading, and so re-arm the read timer, at every add and drain.
  net::set_read_watermark(bev, 0, 0);
  net::set_write_watermark(bev, kHighWatermark / 2, 0);
  // As a pooled connection has them: the pool restarted its timers at the take.
  timeval timeout = net::timeval_from_ms(data_timeout_ms);
  net::set_timeouts(bev, &timeout, &timeout);
  net::enable(bev, EV_READ);
}

}  // namespace pharos::proxy
