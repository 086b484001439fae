// Idle keep-alive connections to members, per worker, keyed by endpoint ("address|port").
// An idle connection that the member closes, or that sends unexpected bytes, is dropped; so is
// one idle for longer than the pool's idle timeout (a sweep every quarter of it, and take()).
//
// A parked connection keeps the timeouts its last user set (they are usually the next user's
// too, and libevent re-arms both timers on every bufferevent_set_timeouts): its read timer
// runs on while it is idle, and a timeout closes it like a member's close would. take()
// restarts the timers of a connection idle for more than 1% of its read timeout, so the
// taker's timeouts count from the take.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>

#include "engine/net/event_handles.h"

namespace pharos::proxy {

class UpstreamPool {
 public:
  UpstreamPool(event_base* base, size_t max_idle_per_endpoint, uint32_t idle_timeout_ms);
  ~UpstreamPool();
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  // A live idle connection to the endpoint, most recently used first; null when none. It
  // still has the pool's callbacks: the caller replaces them before the loop runs.
  net::BufferEventPtr take(const std::string& endpoint_key);
  // Parks a connection whose last response completed cleanly. Takes over its callbacks.
  void put(const std::string& endpoint_key, net::BufferEventPtr connection);
  size_t idle_count() const;
  void clear();

 private:
  struct Idle;
  using IdleList = std::list<Idle>;
  static void on_idle_read(bufferevent* bev, void* arg);
  static void on_idle_event(bufferevent* bev, short events, void* arg);
  static void on_sweep(evutil_socket_t, short, void* arg);
  void drop(Idle* idle);
  bool expired(const Idle& idle, uint64_t now_ms) const;
  void sweep();
  void arm_sweep();  // one sweep, a quarter of the idle timeout from now

  event_base* base_;
  size_t max_idle_per_endpoint_;
  uint32_t idle_timeout_ms_;
  std::unordered_map<std::string, IdleList> idle_;  // each list: most recently parked first
  // List nodes without a connection, moved (spliced) between here and idle_ so that parking
  // and taking a connection allocate nothing once the pool has been as full as it gets.
  IdleList spare_;
  net::EventPtr sweep_timer_;
};

}  // namespace pharos::proxy
