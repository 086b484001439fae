#include "engine/net/bufferevent_settings.h"

// struct bufferevent's timeouts, watermarks and enabled events are public fields of libevent's
// installed headers.
#include <event2/bufferevent_struct.h>

namespace pharos::net {

namespace {

bool same_timeout(const timeval& current, const timeval* wanted) {
  if (wanted == nullptr) return current.tv_sec == 0 && current.tv_usec == 0;
  return current.tv_sec == wanted->tv_sec && current.tv_usec == wanted->tv_usec;
}

}  // namespace

void set_timeouts(bufferevent* bev, const timeval* read, const timeval* write) {
  if (same_timeout(bev->timeout_read, read) && same_timeout(bev->timeout_write, write)) return;
  bufferevent_set_timeouts(bev, read, write);
}

void restart_timeouts(bufferevent* bev, const timeval* read, const timeval* write, uint64_t since_armed_us) {
  const uint64_t read_ms = read != nullptr ? timeval_to_ms(*read) : 0;
  if (since_armed_us <= read_ms * 10) {  // 1% of the read timeout, in µs
    set_timeouts(bev, read, write);
  } else {
    bufferevent_set_timeouts(bev, read, write);
  }
}

void set_read_watermark(bufferevent* bev, size_t low, size_t high) {
  if (bev->wm_read.low == low && bev->wm_read.high == high) return;
  bufferevent_setwatermark(bev, EV_READ, low, high);
}

void set_write_watermark(bufferevent* bev, size_t low, size_t high) {
  if (bev->wm_write.low == low && bev->wm_write.high == high) return;
  bufferevent_setwatermark(bev, EV_WRITE, low, high);
}

void enable(bufferevent* bev, short events) {
  short missing = static_cast<short>(events & ~bufferevent_get_enabled(bev));
  if (missing != 0) bufferevent_enable(bev, missing);
}

}  // namespace pharos::net
