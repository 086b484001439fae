// Reads a socket bufferevent's socket without asking the kernel first how much there is.
//
// libevent's socket bufferevent sizes every read with ioctl(FIONREAD) before its readv: two
// syscalls for every read, where one suffices. A socket given to read_directly() is read by
// the engine's own read callback instead: one recv of up to 16 KiB (libevent's own cap per
// read) into a per-thread buffer, then added to the bufferevent's input. What is small (an
// HTTP request, a response head) costs a copy of a few hundred bytes and an evbuffer chain
// of the size libevent would have allocated; a full 16 KiB read costs one memcpy of it.
//
// Everything else stays libevent's: enabling and disabling reads, the read timeout (the event
// keeps its timeout, re-armed by libevent at each activation), watermarks (the input's
// watermark callback suspends reading when the high watermark is reached, as before), the
// read callback (bufferevent_trigger: deferred if the bufferevent defers its callbacks) and
// the EOF/ERROR/TIMEOUT events with BEV_EVENT_READING. A read beyond the high watermark never
// happens: the read is capped by it, as libevent caps it.
//
// Contract:
// - `bev` is a connected socket bufferevent, or a filter over one (the TLS transport): then
//   its underlying socket is the one read directly. Anything else is left as it is.
// - Call it after the socket's fd is final: bufferevent_setfd() and bufferevent_socket_connect()
//   give the socket libevent's read callback back (harmless: it only costs the extra syscall).
// - Reads already enabled stay enabled, with their timeout.
// - The event base runs on one thread (the buffer is per thread).
#pragma once

#include "engine/net/event_handles.h"

namespace pharos::net {

// See the contract above.
void read_directly(bufferevent* bev);

// True if `bev` (or the socket under it) is read by read_directly()'s callback (for tests).
bool reads_directly(bufferevent* bev);

}  // namespace pharos::net
