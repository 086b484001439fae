// Sends what one loop turn wrote to a socket bufferevent with one write at the end of that
// turn, instead of asking epoll for EPOLLOUT and writing on the next turn.
//
// A plain libevent socket bufferevent adds write interest when data enters its output and
// removes it after the write, one loop turn later: two epoll_ctl calls and an extra turn for
// every response and every forwarded request. An adopted bufferevent keeps EV_WRITE disabled
// while its output is empty. When something is added to its output (by the owner, or by the
// TLS transport encrypting into the socket it wraps), the bufferevent is queued; a per-worker
// event that runs after every callback of the turn writes each queued output with one sendmsg.
// If the socket takes it all, nothing was registered with epoll (the worker's base uses the
// epoll changelist, so an add and a remove within one turn cost nothing) and the write callback
// runs as libevent would have run it. If the socket takes only part, or fails, EV_WRITE is
// enabled and libevent finishes the job exactly as before: EPOLLOUT, write timeouts, and the
// BEV_EVENT_ERROR|BEV_EVENT_WRITING of a dead socket.
//
// Contract:
// - One coalescer per event base, used on the base's thread only. It must outlive every
//   bufferevent it adopted (the worker destroys it after its sessions and lingering TLS
//   connections, before the base).
// - adopt() takes a connected socket bufferevent, or a TLS bufferevent: then its socket is
//   adopted, and what the owner writes to the TLS bufferevent is also pushed through it
//   (bufferevent_flush(BEV_FLUSH)) at the end of the turn, which is what a transport created
//   with TlsTransportOptions::encrypt_at_flush waits for to encrypt it in as few records as
//   possible. Owners enable EV_READ only: enabling EV_WRITE on an adopted socket is harmless
//   but brings back the epoll_ctl calls until the next flush disables it again.
// - A queued bufferevent is held by a reference until the flush, so its owner may free it at
//   any time; a bufferevent freed by its owner is not written (as libevent drops the output of
//   a freed bufferevent).
// - Write callbacks run from the flush event, never inside the owner's own write.
// - A Producer (an HTTP/2 session gathering the frames of many streams) asks to run at the
//   start of the next flush: it then writes what the turn gave it, and that goes out in the
//   same sendmsg as everything else the turn wrote to its socket. A producer withdraws before
//   it is destroyed.
#pragma once

#include <cstddef>
#include <vector>

#include "engine/net/event_handles.h"

namespace pharos::net {

class WriteCoalescer {
 public:
  explicit WriteCoalescer(event_base* base);
  ~WriteCoalescer();
  WriteCoalescer(const WriteCoalescer&) = delete;
  WriteCoalescer& operator=(const WriteCoalescer&) = delete;

  // See the contract above. Adopting the same socket twice is harmless.
  void adopt(bufferevent* bev);

  class Producer {
   public:
    // Writes what it gathered into its adopted bufferevent; runs once per request.
    virtual void produce() = 0;

   protected:
    ~Producer() = default;
  };
  // produce() runs at the start of the next flush (the end of this loop turn). Asking again
  // before then adds nothing: the producer keeps its own "asked" flag and clears it in produce().
  void produce_at_flush(Producer* producer);
  // The producer will not run (call before destroying it).
  void withdraw(Producer* producer);

  // Writes everything queued now (the flush event does this at the end of each turn).
  void flush();

  // Bufferevents queued for the next flush (for tests).
  size_t queued() const { return queued_.size(); }

 private:
  static void on_output_changed(evbuffer* buffer, const evbuffer_cb_info* info, void* arg);
  static void on_flush_event(evutil_socket_t, short, void* arg);
  void enqueue(bufferevent* bev);
  void push_through(bufferevent* filter);
  void write_out(bufferevent* socket);

  event_base* base_;
  EventPtr flush_event_;
  // Each entry holds one reference (bufferevent_incref), dropped after its flush.
  std::vector<bufferevent*> queued_;
  std::vector<bufferevent*> flushing_;
  std::vector<Producer*> producers_;   // to run at the next flush; null once withdrawn
  std::vector<Producer*> producing_;  // running now; null once withdrawn
};

}  // namespace pharos::net
