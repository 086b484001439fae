#include "engine/proxy/upstream_pool.h"

#include "engine/net/bufferevent_settings.h"

namespace pharos::proxy {

struct UpstreamPool::Idle {
  UpstreamPool* pool;
  std::string key;
  net::BufferEventPtr connection;
  IdleList::iterator position;
};

UpstreamPool::UpstreamPool(event_base* base, size_t max_idle, uint32_t idle_timeout_ms)
    : base_(base), max_idle_per_endpoint_(max_idle), idle_timeout_ms_(idle_timeout_ms) {}

UpstreamPool::~UpstreamPool() { clear(); }

net::BufferEventPtr UpstreamPool::take(const std::string& key) {
  auto it = idle_.find(key);
  if (it == idle_.end() || it->second.empty()) return nullptr;
  std::unique_ptr<Idle> idle = std::move(it->second.front());
  it->second.pop_front();
  // The pool's callbacks and idle timeout stay until the caller installs its own, at once.
  return std::move(idle->connection);
}

void UpstreamPool::put(const std::string& key, net::BufferEventPtr connection) {
  auto& list = idle_[key];
  if (list.size() >= max_idle_per_endpoint_) return;  // connection closes here
  auto idle = std::make_unique<Idle>();
  idle->pool = this;
  idle->key = key;
  idle->connection = std::move(connection);
  bufferevent* bev = idle->connection.get();
  list.push_front(std::move(idle));
  Idle* raw = list.front().get();
  raw->position = list.begin();
  bufferevent_setcb(bev, &UpstreamPool::on_idle_read, nullptr, &UpstreamPool::on_idle_event, raw);
  timeval timeout = net::timeval_from_ms(idle_timeout_ms_);
  bufferevent_set_timeouts(bev, &timeout, nullptr);
  net::enable(bev, EV_READ);  // usually still enabled by its last session
}

size_t UpstreamPool::idle_count() const {
  size_t n = 0;
  for (const auto& [key, list] : idle_) n += list.size();
  return n;
}

void UpstreamPool::clear() { idle_.clear(); }

void UpstreamPool::drop(Idle* idle) {
  auto it = idle_.find(idle->key);
  it->second.erase(idle->position);  // frees the connection
}

// A member sends nothing on an idle connection; bytes now mean the connection is unusable.
void UpstreamPool::on_idle_read(bufferevent* bev, void* arg) {
  auto* idle = static_cast<Idle*>(arg);
  idle->pool->drop(idle);
}

void UpstreamPool::on_idle_event(bufferevent* bev, short events, void* arg) {
  auto* idle = static_cast<Idle*>(arg);
  idle->pool->drop(idle);
}

}  // namespace pharos::proxy
