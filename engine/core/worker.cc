#include "engine/core/worker.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ctime>

#include "engine/lb/balancer.h"
#include "engine/net/engine_io.h"
#include "engine/proxy/http_session.h"
#include "engine/proxy/tcp_session.h"
#include "engine/tls/server_context.h"
#include "engine/tls/tls_transport.h"

namespace pharos::core {

namespace {
constexpr int kAcceptBatch = 64;
constexpr size_t kMaxIdlePerEndpoint = 512;
constexpr uint32_t kIdleMemberTimeoutMs = 30000;

// Only this worker's thread touches its base (other threads reach it through the inbox's
// eventfd), so the base takes no lock around every event_add and callback. The epoll
// changelist folds the add/remove of write interest that bufferevents do within one loop
// turn into at most one epoll_ctl. The precise clock (not libevent's default coarse one, a
// tick of up to 4 ms) times the turns, which the worker's TurnClock tells apart by it.
event_base* new_base() {
  event_config* cfg = event_config_new();
  event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
  event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
  event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
  event_base* base = event_base_new_with_config(cfg);
  event_config_free(cfg);
  return base;
}
}  // namespace

Worker::Worker(uint32_t index, const std::string& records_socket)
    : index_(index),
      base_(new_base()),
      inbox_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      records_(base_.get(), records_socket) {
  inbox_event_.reset(event_new(base_.get(), inbox_fd_.get(), EV_READ | EV_PERSIST, &Worker::on_inbox, this));
  event_add(inbox_event_.get(), nullptr);
  cleanup_event_.reset(event_new(base_.get(), -1, 0, &Worker::on_cleanup, this));
  write_coalescer_ = std::make_unique<net::WriteCoalescer>(base_.get());
  upstream_pool_ = std::make_unique<proxy::UpstreamPool>(base_.get(), kMaxIdlePerEndpoint,
                                                         kIdleMemberTimeoutMs);
  h2_member_pool_ = std::make_unique<proxy::H2MemberPool>(base_.get(), *write_coalescer_, index_,
                                                          kIdleMemberTimeoutMs);
}

Worker::~Worker() { stop(); }

void Worker::start() {
  thread_ = std::thread([this] {
    // Keep the loop alive while idle: a persistent timer that never fires matters only here.
    net::EventPtr keepalive(event_new(base_.get(), -1, EV_PERSIST, [](evutil_socket_t, short, void*) {}, nullptr));
    timeval hour{3600, 0};
    event_add(keepalive.get(), &hour);
    event_base_dispatch(base_.get());
    // Teardown happens on this thread, in one place.
    accept_points_.clear();
    sessions_.clear();
    released_.clear();
    upstream_pool_->clear();
    h2_member_pool_->clear();
    tls::tls_close_lingering(base_.get());  // TLS connections still flushing their close_notify
    write_coalescer_.reset();  // after every connection it adopted
    records_.flush();
  });
}

void Worker::post(std::function<void()> task) {
  {
    std::lock_guard lock(inbox_mutex_);
    inbox_.push_back(std::move(task));
  }
  uint64_t one = 1;
  ssize_t unused = write(inbox_fd_.get(), &one, sizeof(one));  // fails only if the counter is full
  (void)unused;
}

void Worker::stop() {
  if (!thread_.joinable()) return;
  post([this] { event_base_loopbreak(base_.get()); });
  thread_.join();
}

void Worker::on_inbox(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Worker*>(arg);
  uint64_t posted = 0;
  ssize_t unused = read(self->inbox_fd_.get(), &posted, sizeof(posted));  // resets the counter
  (void)unused;
  std::deque<std::function<void()>> tasks;
  {
    std::lock_guard lock(self->inbox_mutex_);
    tasks.swap(self->inbox_);
  }
  for (auto& task : tasks) task();
}

void Worker::apply(std::shared_ptr<const proxy::Snapshot> snapshot,
                   const std::map<std::string, int>& accept_fds) {
  auto next = std::make_shared<proxy::WorkerSnapshot>();
  next->shared = std::move(snapshot);
  for (const auto& pool : next->shared->pools) {
    next->balancers.push_back(lb::make_balancer(pool.config->lb_algorithm, pool.specs));
  }
  current_ = std::move(next);
  // A session may end (and leave sessions_) inside its call: walk a copy.
  std::vector<proxy::Session*> live;
  live.reserve(sessions_.size());
  for (const auto& entry : sessions_) live.push_back(entry.first);
  for (proxy::Session* session : live) session->config_changed();
  if (draining_) return;
  // Sockets that stay keep their accept event; new ones get one; gone ones lose it.
  std::erase_if(accept_points_, [&](const auto& entry) {
    auto it = accept_fds.find(entry.first);
    return it == accept_fds.end() || it->second != entry.second->fd;
  });
  for (const auto& [key, fd] : accept_fds) {
    if (accept_points_.count(key)) continue;
    auto point = std::make_unique<AcceptPoint>();
    point->worker = this;
    point->key = key;
    point->fd = fd;
    point->event.reset(event_new(base_.get(), fd, EV_READ | EV_PERSIST, &Worker::on_accept, point.get()));
    event_add(point->event.get(), nullptr);
    accept_points_[key] = std::move(point);
  }
}

void Worker::begin_drain() {
  draining_ = true;
  accept_points_.clear();
  std::vector<proxy::Session*> live;
  for (const auto& [raw, session] : sessions_) live.push_back(raw);
  for (auto* session : live) {
    if (sessions_.count(session)) session->drain();
  }
}

void Worker::on_accept(evutil_socket_t fd, short, void* arg) {
  auto* point = static_cast<AcceptPoint*>(arg);
  point->worker->accept_from(*point);
}

void Worker::accept_from(AcceptPoint& point) {
  for (int i = 0; i < kAcceptBatch; ++i) {
    sockaddr_storage peer{};
    socklen_t length = sizeof(peer);
    int fd = ::accept4(point.fd, reinterpret_cast<sockaddr*>(&peer), &length,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or an error the next readiness will show again
    const proxy::ListenerRuntime* listener =
        current_ ? current_->shared->find_listener(point.key) : nullptr;
    if (listener == nullptr) {
      ::close(fd);
      continue;
    }
    admit(fd, peer, *listener);
  }
}

void Worker::admit(int fd, const sockaddr_storage& peer, const proxy::ListenerRuntime& listener) {
  const auto& config = *listener.config;
  const auto* peer_address = reinterpret_cast<const sockaddr*>(&peer);
  bool allowed = config.allowed_cidrs.empty();
  for (const auto& cidr : config.allowed_cidrs) {
    if (cidr.contains(peer_address)) {
      allowed = true;
      break;
    }
  }
  if (allowed && config.connection_limit > 0 &&
      listener.stats->totals().active_connections >= static_cast<uint64_t>(config.connection_limit)) {
    allowed = false;
  }
  if (!allowed) {
    ::close(fd);
    deny(peer, listener);
    return;
  }
  proxy::ClientAddress client;
  client.address = peer;
  client.text = net::address_text(peer_address);
  client.port = net::address_port(peer_address);
  client.hash_ip = lb::hash_client(peer_address, false);
  client.hash_ip_port = lb::hash_client(peer_address, true);
  std::unique_ptr<proxy::Session> session;
  if (config::speaks_http(config.protocol)) {
    net::BufferEventPtr connection(bufferevent_socket_new(base_.get(), fd, BEV_OPT_CLOSE_ON_FREE));
    if (connection && listener.tls) {
      // The session sees plaintext; ALPN "h2" is read by the session after the handshake.
      tls::TlsTransportOptions options;
      options.encrypt_at_flush = true;  // write_coalescer_ flushes it at the end of each turn
      connection = tls::make_tls_bufferevent(base_.get(), std::move(connection),
                                             listener.tls->new_connection(), tls::TlsRole::kServer,
                                             std::move(options));
    }
    if (!connection) return;  // out of memory; the socket went with the failed bufferevent
    net::use_engine_io(*write_coalescer_, connection.get());
    session = std::make_unique<proxy::HttpSession>(*this, std::move(connection), std::move(client), current_, &listener);
  } else {
    session = std::make_unique<proxy::TcpSession>(*this, net::UniqueFd(fd), std::move(client), current_, &listener);
  }
  adopt(std::move(session));
}

void Worker::adopt(std::unique_ptr<proxy::Session> session) {
  proxy::Session* raw = session.get();
  sessions_.emplace(raw, std::move(session));
  session_count_.store(sessions_.size(), std::memory_order_relaxed);
  raw->start();
}

void Worker::deny(const sockaddr_storage& peer, const proxy::ListenerRuntime& listener) {
  records::TransactionRecord record;
  record.kind = config::speaks_http(listener.config->protocol) ? records::RecordKind::kHttp
                                                               : records::RecordKind::kTcp;
  record.termination = records::Termination::kDenied;
  record.start_unix_us = wall_us();
  record.listener_id = listener.config->id;
  record.client_address = net::address_text(reinterpret_cast<const sockaddr*>(&peer));
  record.client_port = net::address_port(reinterpret_cast<const sockaddr*>(&peer));
  records_.emit(record);
}

void Worker::release(proxy::Session* session) {
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  released_.push_back(std::move(it->second));
  sessions_.erase(it);
  session_count_.store(sessions_.size(), std::memory_order_relaxed);
  event_active(cleanup_event_.get(), 0, 0);
}

void Worker::hand_over(proxy::Session* from, std::unique_ptr<proxy::Session> to) {
  release(from);
  adopt(std::move(to));
}

void Worker::on_cleanup(evutil_socket_t, short, void* arg) {
  static_cast<Worker*>(arg)->released_.clear();
}

// A request reads the clock about ten times, and a clock read costs more than everything else
// the engine does around it. One read per loop turn and clock suffices (as libevent's own
// timers, HAProxy's now_ms and Envoy's approximate monotonic time do): the time libevent cached
// for the turn marks a new turn when it changes (outside the loop it changes at every call).
uint64_t Worker::TurnClock::read(event_base* base, clockid_t clock) {
  timeval turn{};
  event_base_gettimeofday_cached(base, &turn);
  if (valid_ && turn.tv_sec == turn_.tv_sec && turn.tv_usec == turn_.tv_usec) return us_;
  timespec ts;
  clock_gettime(clock, &ts);
  turn_ = turn;
  us_ = uint64_t(ts.tv_sec) * 1000000 + uint64_t(ts.tv_nsec) / 1000;
  valid_ = true;
  return us_;
}

uint64_t Worker::now_us() const { return monotonic_.read(base_.get(), CLOCK_MONOTONIC); }

uint64_t Worker::wall_us() const { return wall_.read(base_.get(), CLOCK_REALTIME); }

}  // namespace pharos::core
