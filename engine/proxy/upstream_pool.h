// Idle keep-alive connections to members, per worker, keyed by endpoint ("address|port").
// An idle connection that the member closes, or that sends unexpected bytes, is dropped.
#pragma once

#include <cstddef>
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
  // still has the pool's callbacks and timeouts: the caller replaces both before the loop runs.
  net::BufferEventPtr take(const std::string& endpoint_key);
  // Parks a connection whose last response completed cleanly. Takes over its callbacks.
  void put(const std::string& endpoint_key, net::BufferEventPtr connection);
  size_t idle_count() const;
  void clear();

 private:
  struct Idle;
  using IdleList = std::list<std::unique_ptr<Idle>>;
  static void on_idle_read(bufferevent* bev, void* arg);
  static void on_idle_event(bufferevent* bev, short events, void* arg);
  void drop(Idle* idle);

  event_base* base_;
  size_t max_idle_per_endpoint_;
  uint32_t idle_timeout_ms_;
  std::unordered_map<std::string, IdleList> idle_;
};

}  // namespace pharos::proxy
