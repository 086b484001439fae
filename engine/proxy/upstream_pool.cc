#include "engine/proxy/upstream_pool.h"

#include <event2/bufferevent_struct.h>

#include <algorithm>
#include <ctime>
#include <iterator>

#include "engine/net/bufferevent_settings.h"

namespace pharos::proxy {

namespace {

// Idle times need no precision: the kernel's tick clock, read without a clock source access.
uint64_t coarse_now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1000000;
}

}  // namespace

struct UpstreamPool::Idle {
  UpstreamPool* pool = nullptr;
  IdleList* list = nullptr;  // its endpoint's list in idle_ (unordered_map values do not move)
  net::BufferEventPtr connection;
  IdleList::iterator position;
  uint64_t parked_ms = 0;
};

UpstreamPool::UpstreamPool(event_base* base, size_t max_idle, uint32_t idle_timeout_ms)
    : base_(base),
      max_idle_per_endpoint_(max_idle),
      idle_timeout_ms_(idle_timeout_ms),
      sweep_timer_(evtimer_new(base, &UpstreamPool::on_sweep, this)) {}

UpstreamPool::~UpstreamPool() { clear(); }

bool UpstreamPool::expired(const Idle& idle, uint64_t now_ms) const {
  return now_ms - idle.parked_ms >= idle_timeout_ms_;
}

net::BufferEventPtr UpstreamPool::take(const std::string& key) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  const uint64_t now_ms = coarse_now_ms();
  IdleList& list = it->second;
  while (!list.empty()) {
    Idle& idle = list.front();
    net::BufferEventPtr connection = std::move(idle.connection);
    const uint64_t idle_ms = now_ms - idle.parked_ms;
    const bool too_old = expired(idle, now_ms);
    spare_.splice(spare_.begin(), list, list.begin());
    if (too_old) continue;  // closes it; older ones follow
    bufferevent* bev = connection.get();
    const timeval read = bev->timeout_read;
    const timeval write = bev->timeout_write;
    net::restart_timeouts(bev, &read, &write, idle_ms * 1000);
    return connection;
  }
  return nullptr;
}

void UpstreamPool::put(const std::string& key, net::BufferEventPtr connection) {
  auto& list = idle_[key];
  if (list.size() >= max_idle_per_endpoint_) return;  // connection closes here
  if (spare_.empty()) spare_.emplace_front();
  list.splice(list.begin(), spare_, spare_.begin());
  Idle& idle = list.front();
  idle.pool = this;
  idle.list = &list;
  idle.connection = std::move(connection);
  idle.position = list.begin();
  idle.parked_ms = coarse_now_ms();
  bufferevent* bev = idle.connection.get();
  bufferevent_setcb(bev, &UpstreamPool::on_idle_read, nullptr, &UpstreamPool::on_idle_event, &idle);
  net::enable(bev, EV_READ);  // usually still enabled by its last user
  if (!evtimer_pending(sweep_timer_.get(), nullptr)) arm_sweep();
}

void UpstreamPool::arm_sweep() {
  timeval period = net::timeval_from_ms(std::max<uint32_t>(idle_timeout_ms_ / 4, 1));
  evtimer_add(sweep_timer_.get(), &period);
}

void UpstreamPool::on_sweep(evutil_socket_t, short, void* arg) { static_cast<UpstreamPool*>(arg)->sweep(); }

void UpstreamPool::sweep() {
  const uint64_t now_ms = coarse_now_ms();
  bool any_left = false;
  for (auto& [key, list] : idle_) {
    while (!list.empty() && expired(list.back(), now_ms)) {
      list.back().connection.reset();
      spare_.splice(spare_.begin(), list, std::prev(list.end()));
    }
    any_left = any_left || !list.empty();
  }
  if (any_left) arm_sweep();
}

size_t UpstreamPool::idle_count() const {
  size_t n = 0;
  for (const auto& [key, list] : idle_) n += list.size();
  return n;
}

void UpstreamPool::clear() { idle_.clear(); }

void UpstreamPool::drop(Idle* idle) {
  idle->connection.reset();
  spare_.splice(spare_.begin(), *idle->list, idle->position);
}

// A member sends nothing on an idle connection; bytes now mean the connection is unusable.
void UpstreamPool::on_idle_read(bufferevent* bev, void* arg) {
  auto* idle = static_cast<Idle*>(arg);
  idle->pool->drop(idle);
}

// The member closed it, it failed, or its read timer (its last user's timeout) fired.
void UpstreamPool::on_idle_event(bufferevent* bev, short events, void* arg) {
  auto* idle = static_cast<Idle*>(arg);
  idle->pool->drop(idle);
}

}  // namespace pharos::proxy
