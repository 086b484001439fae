// Settings of a bufferevent that change libevent's state only when they change the setting.
//
// libevent re-arms a bufferevent's events on every settings call, even one that repeats the
// current setting: bufferevent_set_timeouts() re-adds both events with their timers (a timer
// heap removal and insertion each), bufferevent_enable() re-adds the read or write event, and
// bufferevent_setwatermark() re-enables reading through its input's callback. A session that
// takes a pooled member connection, or starts its next keep-alive request, repeats the same
// settings every time; these functions compare with the bufferevent's current ones (public
// fields of struct bufferevent) and call libevent only for a difference.
//
// The effect of each is exactly the libevent call it names, when that call would change
// something. A null timeout means none, as for bufferevent_set_timeouts().
#pragma once

#include <cstddef>

#include "engine/net/event_handles.h"

namespace pharos::net {

void set_timeouts(bufferevent* bev, const timeval* read, const timeval* write);
// Timeouts that count from now, on a bufferevent whose timers libevent last armed
// `since_armed_us` ago (at a read, or at the last setting). Timers already running with these
// values are restarted only when that was more than 1% of the read timeout ago: a timeout
// that may end up to 1% early, for no re-arm on every request.
void restart_timeouts(bufferevent* bev, const timeval* read, const timeval* write, uint64_t since_armed_us);
void set_read_watermark(bufferevent* bev, size_t low, size_t high);
void set_write_watermark(bufferevent* bev, size_t low, size_t high);
// Enables those of `events` (EV_READ, EV_WRITE) not enabled yet.
void enable(bufferevent* bev, short events);

}  // namespace pharos::net
