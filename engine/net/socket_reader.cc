#include "engine/net/socket_reader.h"

// The layout of struct bufferevent (its ev_read, input, watermarks and read timeout) is part of
// libevent's installed headers; only those public fields are used.
#include <event2/bufferevent_struct.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>

namespace pharos::net {

namespace {

// libevent's own cap on one socket read (MAX_SINGLE_READ_DEFAULT in bufferevent-internal.h).
constexpr size_t kMaxRead = 16384;

thread_local char t_read_buffer[kMaxRead];

// libevent's read callback for socket bufferevents (static inside libevent), taken once from a
// socket bufferevent made for the purpose on `base`: it handles what this file leaves to
// libevent.
event_callback_fn libevent_socket_read_callback(event_base* base) {
  static const event_callback_fn callback = [base] {
    bufferevent* probe = bufferevent_socket_new(base, -1, 0);
    event_callback_fn found = probe != nullptr ? event_get_callback(&probe->ev_read) : nullptr;
    if (probe != nullptr) bufferevent_free(probe);
    return found;
  }();
  return callback;
}

void on_readable(evutil_socket_t fd, short what, void* arg) {
  auto* bev = static_cast<bufferevent*>(arg);
  evbuffer* input = bev->input;
  size_t budget = kMaxRead;
  if (bev->wm_read.high != 0) {
    size_t length = evbuffer_get_length(input);
    budget = length >= bev->wm_read.high ? 0 : std::min(budget, bev->wm_read.high - length);
  }
  if (what == EV_TIMEOUT || budget == 0) {
    // A read timeout, or an input already at its high watermark (reading is suspended, by
    // libevent's own callback): both are libevent's to handle.
    libevent_socket_read_callback(bev->ev_base)(fd, what, arg);
    return;
  }
  ssize_t received = recv(fd, t_read_buffer, budget, 0);
  if (received < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;

  bufferevent_incref(bev);  // the callbacks below may free it
  if (received > 0) {
    // The input's back is frozen against the owner; libevent unfreezes it around its reads.
    evbuffer_unfreeze(input, 0);
    evbuffer_add(input, t_read_buffer, static_cast<size_t>(received));
    evbuffer_freeze(input, 0);
    bufferevent_trigger(bev, EV_READ, 0);  // honours the low watermark and deferral
  } else {
    int error = errno;
    bufferevent_disable(bev, EV_READ);
    errno = error;  // the event callback may ask what went wrong, as after libevent's read
    bufferevent_trigger_event(bev, BEV_EVENT_READING | (received == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR), 0);
  }
  bufferevent_decref(bev);
}

bufferevent* socket_of(bufferevent* bev) {
  if (bev == nullptr) return nullptr;
  bufferevent* underlying = bufferevent_get_underlying(bev);
  return underlying != nullptr ? underlying : bev;
}

}  // namespace

void read_directly(bufferevent* bev) {
  bufferevent* socket = socket_of(bev);
  if (socket == nullptr) return;
  evutil_socket_t fd = bufferevent_getfd(socket);
  event* read_event = &socket->ev_read;
  event_callback_fn current = event_get_callback(read_event);
  if (fd < 0 || current == &on_readable ||
      current != libevent_socket_read_callback(bufferevent_get_base(socket))) {
    return;  // not a socket bufferevent with a socket, or already done
  }
  // An enabled read is pending (or active this turn): take it out, and put it back with the
  // same timeout. epoll is level-triggered, so readiness seen this turn is seen again.
  bool enabled = event_pending(read_event, EV_READ | EV_TIMEOUT, nullptr) != 0;
  if (enabled) event_del(read_event);
  event_assign(read_event, bufferevent_get_base(socket), fd, EV_READ | EV_PERSIST | EV_FINALIZE,
               &on_readable, socket);
  if (enabled) event_add(read_event, evutil_timerisset(&socket->timeout_read) ? &socket->timeout_read : nullptr);
}

bool reads_directly(bufferevent* bev) {
  bufferevent* socket = socket_of(bev);
  return socket != nullptr && event_get_callback(&socket->ev_read) == &on_readable;
}

}  // namespace pharos::net
