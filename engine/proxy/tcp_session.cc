#include "engine/proxy/tcp_session.h"

#include <sys/socket.h>

#include <algorithm>
#include <vector>

#include "engine/http/request.h"
#include "engine/net/engine_io.h"
#include "engine/net/write_coalescer.h"
#include "engine/tls/client_hello_sniff.h"

namespace pharos::proxy {

struct TcpSession::Side {
  TcpSession* session = nullptr;
  net::BufferEventPtr bev;
  bool is_client = false;
  bool read_eof = false;
  bool write_shut = false;
  bool paused = false;  // reading stopped because the other side's output is full
  Side* other = nullptr;
};

TcpSession::TcpSession(WorkerContext& worker, net::UniqueFd fd, ClientAddress client,
                       std::shared_ptr<WorkerSnapshot> snapshot, const ListenerRuntime* listener)
    : worker_(worker),
      snapshot_(std::move(snapshot)),
      listener_(listener),
      client_(std::move(client)),
      connector_(worker, *this),
      client_side_(std::make_unique<Side>()),
      member_side_(std::make_unique<Side>()) {
  client_side_->session = this;
  client_side_->is_client = true;
  client_side_->other = member_side_.get();
  client_side_->bev.reset(bufferevent_socket_new(worker_.base(), fd.release(), BEV_OPT_CLOSE_ON_FREE));
  net::use_engine_io(worker_.write_coalescer(), client_side_->bev.get());
  member_side_->session = this;
  member_side_->other = client_side_.get();
  sniffing_sni_ = listener_->config->protocol == config::ListenerProtocol::kHttps;
}

TcpSession::~TcpSession() = default;

void TcpSession::start() {
  start_us_ = last_activity_us_ = worker_.now_us();
  record_.kind = records::RecordKind::kTcp;
  record_.start_unix_us = worker_.wall_us();
  record_.listener_id = listener_->config->id;
  record_.client_address = client_.text;
  record_.client_port = client_.port;
  auto& slot = listener_->stats->slot(worker_.index());
  slot.active_connections.add(1);
  slot.total_connections.add(1);

  bufferevent* bev = client_side_->bev.get();
  bufferevent_setcb(bev, &TcpSession::on_read, &TcpSession::on_write, &TcpSession::on_event,
                    client_side_.get());
  bufferevent_setwatermark(bev, EV_READ, 0, kHighWatermark);
  bufferevent_setwatermark(bev, EV_WRITE, kHighWatermark / 2, 0);
  timeval timeout = net::timeval_from_ms(listener_->config->timeout_client_data_ms);
  bufferevent_set_timeouts(bev, &timeout, &timeout);
  bufferevent_enable(bev, EV_READ);
  record_.client_rtt_us = net::tcp_rtt_us(bufferevent_getfd(bev));

  uint32_t inspect_ms = listener_->config->timeout_tcp_inspect_ms;
  if (inspect_ms == 0) {
    connect_member();
    return;
  }
  // Wait for the client's first bytes (or the inspect delay) before choosing a member.
  inspect_timer_.reset(evtimer_new(worker_.base(), &TcpSession::on_inspect_timeout, this));
  timeval delay = net::timeval_from_ms(inspect_ms);
  evtimer_add(inspect_timer_.get(), &delay);
}

void TcpSession::connect_member() {
  inspect_timer_.reset();
  if (listener_->default_pool < 0) {
    on_upstream_failed(records::Termination::kNoMember);
    return;
  }
  const auto& pool = snapshot_->shared->pools[listener_->default_pool];
  record_.pool_id = pool.config->id;
  uint64_t hash = client_.hash_for(pool.config->lb_algorithm);
  // Only SOURCE_IP persistence applies here: TCP carries no cookies.
  int sticky = stickiness_.sticky_member(pool, client_.text, std::vector<http::Header>{},
                                         worker_.now_us() / 1000000);
  connector_.start(snapshot_.get(), listener_->default_pool, hash,
                   listener_->config->timeout_member_connect_ms, false, sticky);
}

void TcpSession::on_inspect_timeout(evutil_socket_t, short, void* arg) {
  static_cast<TcpSession*>(arg)->connect_member();
}

void TcpSession::on_upstream_connected(net::BufferEventPtr connection, int member_index, bool) {
  member_index_ = member_index;
  const auto& pool = snapshot_->shared->pools[listener_->default_pool];
  stickiness_.member_chosen(pool, member_index, worker_.now_us() / 1000000);
  const auto& member = pool.members[member_index];
  record_.member_id = member.config->id;
  record_.connect_us = connector_.connect_us();
  record_.retries = connector_.retries();
  member_side_->bev = std::move(connection);
  bufferevent* bev = member_side_->bev.get();
  bufferevent_setcb(bev, &TcpSession::on_read, &TcpSession::on_write, &TcpSession::on_event,
                    member_side_.get());
  bufferevent_setwatermark(bev, EV_READ, 0, kHighWatermark);
  bufferevent_setwatermark(bev, EV_WRITE, kHighWatermark / 2, 0);
  timeval timeout = net::timeval_from_ms(listener_->config->timeout_member_data_ms);
  bufferevent_set_timeouts(bev, &timeout, &timeout);
  bufferevent_enable(bev, EV_READ);  // writes go through the worker's WriteCoalescer
  pump(*client_side_, *member_side_);
  maybe_shutdown_write(*member_side_);
}

void TcpSession::on_upstream_h2(H2MemberConnection&, int member_index, bool) {
  connector_.release_exchange(member_index);
  on_upstream_failed(records::Termination::kInternal);
}

void TcpSession::on_upstream_failed(records::Termination why) {
  record_.retries = connector_.retries();
  listener_->stats->slot(worker_.index()).request_errors.add(1);
  finish(why);
}

void TcpSession::pump(Side& from, Side& to) {
  if (!to.bev || to.write_shut) return;
  evbuffer* in = bufferevent_get_input(from.bev.get());
  size_t n = evbuffer_get_length(in);
  if (n == 0) return;
  if (from.is_client && sniffing_sni_) sniff_server_name(in);
  evbuffer* out = bufferevent_get_output(to.bev.get());
  evbuffer_add_buffer(out, in);
  last_activity_us_ = worker_.now_us();
  auto& lslot = listener_->stats->slot(worker_.index());
  auto& mslot = snapshot_->shared->pools[listener_->default_pool]
                    .members[member_index_].stats->slot(worker_.index()).traffic;
  if (from.is_client) {
    record_.bytes_in += n;
    lslot.bytes_in.add(n);
    mslot.bytes_in.add(n);
  } else {
    if (first_member_byte_us_ == 0) first_member_byte_us_ = last_activity_us_;
    record_.bytes_out += n;
    lslot.bytes_out.add(n);
    mslot.bytes_out.add(n);
  }
  if (evbuffer_get_length(out) >= kHighWatermark) {
    bufferevent_disable(from.bev.get(), EV_READ);
    from.paused = true;
  }
}

// A passthrough HTTPS listener records the server name the client asked for. The bytes are
// copied, never held back: a ClientHello split over several reads is read from the copy.
void TcpSession::sniff_server_name(evbuffer* from_client) {
  constexpr size_t kMaxBytes = tls::kMaxSniffedClientHello + 1024;  // records' headers too
  const size_t take = std::min(kMaxBytes - client_hello_.size(), evbuffer_get_length(from_client));
  const size_t had = client_hello_.size();
  client_hello_.resize(had + take);
  evbuffer_copyout(from_client, client_hello_.data() + had, take);
  bool need_more = false;
  auto name = tls::peek_client_hello_sni(reinterpret_cast<const uint8_t*>(client_hello_.data()),
                                         client_hello_.size(), &need_more);
  if (name) record_.sni = std::move(*name);
  if (record_.sni.empty() && need_more && client_hello_.size() < kMaxBytes) return;
  sniffing_sni_ = false;
  std::string().swap(client_hello_);
}

void TcpSession::maybe_shutdown_write(Side& to) {
  Side& from = *to.other;
  if (!from.read_eof || to.write_shut || !to.bev) return;
  if (evbuffer_get_length(bufferevent_get_output(to.bev.get())) != 0) return;
  ::shutdown(bufferevent_getfd(to.bev.get()), SHUT_WR);
  to.write_shut = true;
  if (to.read_eof) finish(records::Termination::kNormal);
}

void TcpSession::on_read(bufferevent*, void* arg) {
  auto* side = static_cast<Side*>(arg);
  TcpSession* self = side->session;
  if (side->is_client && self->member_index_ < 0) {
    // Not connected yet: bytes wait in the client's input (bounded by the read watermark).
    if (self->inspect_timer_) self->connect_member();
    return;
  }
  self->pump(*side, *side->other);
}

void TcpSession::on_write(bufferevent*, void* arg) {
  auto* side = static_cast<Side*>(arg);
  TcpSession* self = side->session;
  Side& from = *side->other;
  if (from.paused && from.bev) {
    from.paused = false;
    bufferevent_enable(from.bev.get(), EV_READ);
    self->pump(from, *side);
  }
  self->maybe_shutdown_write(*side);
}

void TcpSession::on_event(bufferevent*, short events, void* arg) {
  auto* side = static_cast<Side*>(arg);
  side->session->on_side_event(*side, events);
}

void TcpSession::on_side_event(Side& side, short events) {
  if (finished_) return;
  if (events & BEV_EVENT_EOF) {
    side.read_eof = true;
    if (member_index_ >= 0) {
      pump(side, *side.other);
      maybe_shutdown_write(*side.other);
    }
    return;
  }
  if (events & BEV_EVENT_TIMEOUT) {
    const auto* listener = listener_->config;
    uint32_t limit_ms = side.is_client ? listener->timeout_client_data_ms
                                       : listener->timeout_member_data_ms;
    // A tunnel is idle only when neither direction moved for the side's timeout.
    if (worker_.now_us() - last_activity_us_ < uint64_t{limit_ms} * 1000) {
      bufferevent_enable(side.bev.get(), (events & BEV_EVENT_READING) ? EV_READ : EV_WRITE);
      return;
    }
    finish(side.is_client ? records::Termination::kClientTimeout
                          : records::Termination::kMemberTimeout);
    return;
  }
  finish(side.is_client ? records::Termination::kClientReset : records::Termination::kMemberReset);
}

void TcpSession::finish(records::Termination why) {
  if (finished_) return;
  finished_ = true;
  connector_.cancel();
  inspect_timer_.reset();
  uint64_t now = worker_.now_us();
  record_.termination = why;
  record_.total_us = static_cast<uint32_t>(now - start_us_);
  if (first_member_byte_us_) {
    uint64_t connected_at = start_us_ + record_.connect_us;
    record_.ttfb_us = static_cast<uint32_t>(first_member_byte_us_ - std::min(first_member_byte_us_, connected_at));
    record_.transfer_us = static_cast<uint32_t>(now - first_member_byte_us_);
  }
  listener_->stats->slot(worker_.index()).active_connections.sub(1);
  if (member_index_ >= 0) connector_.release(std::move(member_side_->bev), member_index_, false);
  worker_.emit(record_);
  client_side_->bev.reset();
  member_side_->bev.reset();
  worker_.release(this);
}

}  // namespace pharos::proxy
