#include "engine/proxy/upstream_connector.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "engine/net/engine_io.h"
#include "engine/net/write_coalescer.h"
#include "engine/proxy/upstream_pool.h"
#include "engine/tls/client_context.h"
#include "engine/tls/tls_transport.h"

namespace pharos::proxy {

void UpstreamConnector::start(WorkerSnapshot* snapshot, int pool_index, uint64_t client_hash,
                              uint32_t connect_timeout_ms, bool reuse_idle, int sticky_member) {
  cancel();
  snapshot_ = snapshot;
  pool_index_ = pool_index;
  client_hash_ = client_hash;
  sticky_member_ = sticky_member;
  connect_timeout_ms_ = connect_timeout_ms;
  reuse_idle_ = reuse_idle;
  const PoolRuntime& pool = snapshot_->shared->pools[pool_index];
  tried_.assign(pool.members.size(), false);
  attempts_left_ = 1 + static_cast<int>(pool.config->connect_retries);
  retries_ = 0;
  connect_us_ = 0;
  attempt();
}

void UpstreamConnector::cancel() {
  if (waiting_h2_) worker_.h2_member_pool().cancel(*this);
  waiting_h2_ = false;
  pending_.reset();
  current_member_ = -1;
}

void UpstreamConnector::attempt() {
  const PoolRuntime& pool = snapshot_->shared->pools[pool_index_];
  lb::Balancer& balancer = *snapshot_->balancers[pool_index_];
  auto eligible = [&](uint32_t i) {
    return pool.config->admin_state_up && !tried_[i] && pool.members[i].eligible();
  };
  while (attempts_left_ > 0) {
    int index = sticky_member_;
    sticky_member_ = -1;  // once: after a failed connect the balancer chooses
    if (index < 0 || static_cast<size_t>(index) >= tried_.size() ||
        !eligible(static_cast<uint32_t>(index))) {
      index = balancer.pick(lb::PickContext{client_hash_}, lb::EligibleFn(eligible));
    }
    if (index < 0) break;
    --attempts_left_;
    tried_[index] = true;
    const MemberRuntime& member = pool.members[index];
    connect_started_us_ = worker_.now_us();
    if (pool.config->member_http != config::MemberHttp::kHttp1) {
      H2Target target;
      // Connections are shared within a pool and its TLS settings: a config that changes the
      // pool's CA or certificate gets new ones (the context lives as long as they do).
      target.key.append(pool.config->id).append("|").append(member.endpoint_key);
      if (pool.tls) target.key.append("|").append(std::to_string(reinterpret_cast<uintptr_t>(pool.tls.get())));
      if (!worker_.h2_member_pool().declined(target.key)) {
        target.endpoint_key = member.endpoint_key;
        target.address = member.address;
        target.address_length = member.address_length;
        target.tls = pool.tls;
        target.stats = member.stats;
        target.connect_timeout_ms = connect_timeout_ms_;
        H2MemberPool::Acquired got = worker_.h2_member_pool().acquire(target, *this);
        if (got.ready != nullptr) {
          snapshot_->balancers[pool_index_]->on_connection_open(index);
          observer_.on_upstream_h2(*got.ready, index, true);
          return;
        }
        if (got.waiting) {
          current_member_ = index;
          waiting_h2_ = true;
          return;  // the pool calls back (on_h2_*)
        }
        ++retries_;  // counted as the member's connect failure by the pool
        continue;
      }
    }
    if (reuse_idle_) {
      if (auto idle = worker_.upstream_pool().take(member.endpoint_key)) {
        count_open(index, true);
        observer_.on_upstream_connected(std::move(idle), index, true);
        return;
      }
    }
    if (connect_http1(index)) return;  // completion arrives in on_connect_event
    member.stats->slot(worker_.index()).connect_failures.add(1);
    ++retries_;
  }
  bool any_tried = false;
  for (bool t : tried_) any_tried = any_tried || t;
  observer_.on_upstream_failed(any_tried ? records::Termination::kConnectFailed
                                         : records::Termination::kNoMember);
}

bool UpstreamConnector::connect_http1(int index) {
  const PoolRuntime& pool = snapshot_->shared->pools[pool_index_];
  const MemberRuntime& member = pool.members[index];
  pending_.reset(bufferevent_socket_new(worker_.base(), -1, BEV_OPT_CLOSE_ON_FREE));
  current_member_ = index;
  if (pending_ &&
      bufferevent_socket_connect(pending_.get(), reinterpret_cast<const sockaddr*>(&member.address),
                                 static_cast<int>(member.address_length)) == 0) {
    if (pool.tls) {
      // Re-encryption: "connected" means the TLS handshake is done (and the member's
      // certificate verified when the pool has a CA); the connect timeout bounds both.
      tls::TlsTransportOptions options;
      options.report_connected = true;
      options.encrypt_at_flush = true;  // adopted by the worker's WriteCoalescer once connected
      pending_ = tls::make_tls_bufferevent(worker_.base(), std::move(pending_),
                                           pool.tls->new_connection("", member.endpoint_key),
                                           tls::TlsRole::kClient, std::move(options));
    }
    if (pending_) {
      bufferevent_setcb(pending_.get(), nullptr, nullptr, &UpstreamConnector::on_connect_event, this);
      timeval timeout = net::timeval_from_ms(connect_timeout_ms_);
      bufferevent_set_timeouts(pending_.get(), &timeout, &timeout);
      return true;
    }
  }
  pending_.reset();
  current_member_ = -1;
  return false;
}

void UpstreamConnector::on_h2_ready(H2MemberConnection& connection) {
  waiting_h2_ = false;
  int index = current_member_;
  current_member_ = -1;
  connect_us_ = static_cast<uint32_t>(worker_.now_us() - connect_started_us_);
  snapshot_->balancers[pool_index_]->on_connection_open(index);
  observer_.on_upstream_h2(connection, index, false);
}

void UpstreamConnector::on_h2_failed() {
  waiting_h2_ = false;
  current_member_ = -1;
  ++retries_;
  attempt();
}

void UpstreamConnector::on_h2_declined(net::BufferEventPtr connection) {
  waiting_h2_ = false;
  int index = current_member_;
  if (connection) {
    current_member_ = -1;
    connect_us_ = static_cast<uint32_t>(worker_.now_us() - connect_started_us_);
    count_open(index, false);
    observer_.on_upstream_connected(std::move(connection), index, false);
    return;
  }
  // Another transaction got that connection: this one connects to the member with HTTP/1.1.
  if (connect_http1(index)) return;
  snapshot_->shared->pools[pool_index_].members[index].stats->slot(worker_.index()).connect_failures.add(1);
  ++retries_;
  attempt();
}

void UpstreamConnector::release_exchange(int member_index) {
  snapshot_->balancers[pool_index_]->on_connection_close(member_index);
}

void UpstreamConnector::count_open(int member_index, bool reused) {
  auto& traffic = snapshot_->shared->pools[pool_index_].members[member_index].stats->slot(worker_.index()).traffic;
  traffic.active_connections.add(1);
  if (!reused) traffic.total_connections.add(1);  // counts connections opened, not requests
  snapshot_->balancers[pool_index_]->on_connection_open(member_index);
}

void UpstreamConnector::release(net::BufferEventPtr connection, int member_index, bool reusable) {
  const MemberRuntime& member = snapshot_->shared->pools[pool_index_].members[member_index];
  member.stats->slot(worker_.index()).traffic.active_connections.sub(1);
  snapshot_->balancers[pool_index_]->on_connection_close(member_index);
  const bool clean = reusable && evbuffer_get_length(bufferevent_get_output(connection.get())) == 0 &&
                     evbuffer_get_length(bufferevent_get_input(connection.get())) == 0;
  if (clean) worker_.upstream_pool().put(member.endpoint_key, std::move(connection));
}

void UpstreamConnector::on_connect_event(bufferevent* bev, short events, void* arg) {
  auto* self = static_cast<UpstreamConnector*>(arg);
  int index = self->current_member_;
  const PoolRuntime& pool = self->snapshot_->shared->pools[self->pool_index_];
  if (events & BEV_EVENT_CONNECTED) {
    int one = 1;
    setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    bufferevent_setcb(bev, nullptr, nullptr, nullptr, nullptr);
    bufferevent_set_timeouts(bev, nullptr, nullptr);
    net::use_engine_io(self->worker_.write_coalescer(), bev);
    self->connect_us_ = static_cast<uint32_t>(self->worker_.now_us() - self->connect_started_us_);
    self->current_member_ = -1;
    self->count_open(index, false);
    self->observer_.on_upstream_connected(std::move(self->pending_), index, false);
    return;
  }
  // Refused, unreachable or timed out: try another member.
  pool.members[index].stats->slot(self->worker_.index()).connect_failures.add(1);
  self->pending_.reset();
  self->current_member_ = -1;
  ++self->retries_;
  self->attempt();
}

}  // namespace pharos::proxy
