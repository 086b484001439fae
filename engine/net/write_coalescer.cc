#include "engine/net/write_coalescer.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>

namespace pharos::net {

namespace {

// The coalescer of the event base running on this thread. An output callback only carries
// its bufferevent, so this is how it finds the coalescer; the base check below guards the
// (test-only) case of several bases on one thread.
thread_local WriteCoalescer* t_current = nullptr;
thread_local event_base* t_current_base = nullptr;

// Passes of flush() in one run: write callbacks may queue more (the TLS transport encrypting
// the next 64 KiB); anything still queued after these waits for the next loop turn.
constexpr int kMaxPasses = 8;

}  // namespace

WriteCoalescer::WriteCoalescer(event_base* base)
    : base_(base), flush_event_(event_new(base, -1, 0, &WriteCoalescer::on_flush_event, this)) {}

WriteCoalescer::~WriteCoalescer() {
  for (bufferevent* socket : queued_) bufferevent_decref(socket);
  if (t_current == this) {
    t_current = nullptr;
    t_current_base = nullptr;
  }
}

void WriteCoalescer::adopt(bufferevent* bev) {
  if (bev == nullptr) return;
  t_current = this;
  t_current_base = base_;
  bufferevent* socket = bufferevent_get_underlying(bev);
  if (socket == nullptr) {
    socket = bev;
  } else {
    // A filter (the TLS transport): what its owner writes is pushed through it at turn end.
    evbuffer_add_cb(bufferevent_get_output(bev), &WriteCoalescer::on_output_changed, bev);
  }
  evbuffer_add_cb(bufferevent_get_output(socket), &WriteCoalescer::on_output_changed, socket);
  if (evbuffer_get_length(bufferevent_get_output(socket)) == 0) {
    bufferevent_disable(socket, EV_WRITE);
  } else {
    enqueue(socket);  // e.g. a TLS alert or ClientHello already waiting
  }
}

void WriteCoalescer::on_output_changed(evbuffer*, const evbuffer_cb_info* info, void* arg) {
  if (info->n_added == 0) return;
  auto* bev = static_cast<bufferevent*>(arg);
  if (t_current == nullptr || t_current_base != bufferevent_get_base(bev)) {
    // No coalescer for this base (it is being torn down): let libevent write.
    if (bufferevent_get_underlying(bev) != nullptr) {
      bufferevent_flush(bev, EV_WRITE, BEV_FLUSH);
    } else {
      bufferevent_enable(bev, EV_WRITE);
    }
    return;
  }
  t_current->enqueue(bev);
}

void WriteCoalescer::enqueue(bufferevent* bev) {
  if (!queued_.empty() && queued_.back() == bev) return;  // several adds in a row
  bufferevent_incref(bev);
  queued_.push_back(bev);
  if (queued_.size() == 1) event_active(flush_event_.get(), 0, 0);
}

void WriteCoalescer::produce_at_flush(Producer* producer) {
  producers_.push_back(producer);
  event_active(flush_event_.get(), 0, 0);  // no-op when already active this turn
}

void WriteCoalescer::withdraw(Producer* producer) {
  std::replace(producers_.begin(), producers_.end(), producer, static_cast<Producer*>(nullptr));
  std::replace(producing_.begin(), producing_.end(), producer, static_cast<Producer*>(nullptr));
}

void WriteCoalescer::on_flush_event(evutil_socket_t, short, void* arg) {
  static_cast<WriteCoalescer*>(arg)->flush();
}

void WriteCoalescer::flush() {
  for (int pass = 0; pass < kMaxPasses && !(queued_.empty() && producers_.empty()); ++pass) {
    producing_.swap(producers_);
    for (size_t i = 0; i < producing_.size(); ++i) {
      if (producing_[i] != nullptr) producing_[i]->produce();  // may withdraw later entries
    }
    producing_.clear();
    flushing_.swap(queued_);
    for (bufferevent* bev : flushing_) {
      if (bufferevent_get_underlying(bev) != nullptr) {
        push_through(bev);  // queues its socket for the next pass
      } else {
        write_out(bev);
      }
    }
    for (bufferevent* socket : flushing_) bufferevent_decref(socket);
    flushing_.clear();
  }
  if (!queued_.empty() || !producers_.empty()) event_active(flush_event_.get(), 0, 0);
}

namespace {

// Most chains one send takes (libevent's own writev takes up to 128).
constexpr int kMaxSendChains = 64;

// Sends what `output` holds, kMaxSendChains chains per sendmsg, until it is empty or the
// socket takes less than it was offered; what was sent is drained. sendmsg rather than
// libevent's writev: a socket write through the VFS costs a few percent more kernel time per
// call (vfs_writev, fdget_pos) for the same bytes. A failure leaves the output as it is, for
// libevent's own write to meet and report.
void send_output(evbuffer* output, evutil_socket_t fd) {
  evbuffer_iovec chains[kMaxSendChains];
  iovec vectors[kMaxSendChains];
  for (;;) {
    int count = std::min(evbuffer_peek(output, -1, nullptr, chains, kMaxSendChains), kMaxSendChains);
    if (count <= 0) return;
    size_t offered = 0;
    for (int i = 0; i < count; ++i) {
      vectors[i] = iovec{chains[i].iov_base, chains[i].iov_len};
      offered += chains[i].iov_len;
    }
    msghdr message{};
    message.msg_iov = vectors;
    message.msg_iovlen = static_cast<size_t>(count);
    ssize_t sent = sendmsg(fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent <= 0) return;
    // A socket bufferevent keeps the front of its output frozen against its owner; libevent's
    // own write unfreezes it around the write in the same way.
    evbuffer_unfreeze(output, 1);
    evbuffer_drain(output, static_cast<size_t>(sent));
    evbuffer_freeze(output, 1);
    if (static_cast<size_t>(sent) < offered) return;  // the socket is full
  }
}

// libevent clears the callbacks of a bufferevent its owner freed.
bool freed_by_owner(bufferevent* bev) {
  bufferevent_data_cb readcb = nullptr;
  bufferevent_data_cb writecb = nullptr;
  bufferevent_event_cb eventcb = nullptr;
  void* arg = nullptr;
  bufferevent_getcb(bev, &readcb, &writecb, &eventcb, &arg);
  return readcb == nullptr && writecb == nullptr && eventcb == nullptr;
}
}  // namespace

void WriteCoalescer::push_through(bufferevent* filter) {
  if (freed_by_owner(filter)) return;  // the TLS transport encrypts what is left as it closes
  bufferevent_flush(filter, EV_WRITE, BEV_FLUSH);
}

void WriteCoalescer::write_out(bufferevent* socket) {
  if (freed_by_owner(socket)) return;

  evbuffer* output = bufferevent_get_output(socket);
  if (evbuffer_get_length(output) == 0) {
    bufferevent_disable(socket, EV_WRITE);
    return;
  }
  evutil_socket_t fd = bufferevent_getfd(socket);
  if (fd >= 0) send_output(output, fd);
  if (evbuffer_get_length(output) > 0) {
    // The socket is full, or failed: libevent waits for EPOLLOUT, or reports the error.
    bufferevent_enable(socket, EV_WRITE);
    return;
  }
  bufferevent_disable(socket, EV_WRITE);  // cancels, in the changelist, an add made this turn
  bufferevent_trigger(socket, EV_WRITE, 0);  // the write callback, as after libevent's own write
}

}  // namespace pharos::net
