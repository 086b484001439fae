#include "amphora_agent/health/health_checker.h"

#include <event2/thread.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "amphora_agent/health/check_spec.h"
#include "amphora_agent/health/event_handles.h"
#include "amphora_agent/health/probe.h"

namespace pharos::health {

using Clock = std::chrono::steady_clock;

namespace {

void on_wakeup(evutil_socket_t, short, void* arg);
void on_reap(evutil_socket_t, short, void* arg);
void on_member_timer(evutil_socket_t, short, void* arg);

}  // namespace

// One configured member on the checker thread: its spec, schedule, running probe and counters.
class MemberEntry final : public ProbeListener {
 public:
  MemberEntry(HealthChecker::Impl* owner, std::shared_ptr<const CheckSpec> spec)
      : owner_(owner), spec_(std::move(spec)) {}
  ~MemberEntry() override {
    probe_.reset();  // cancels a running check before the timer and spec go
    timer_.reset();
  }

  void schedule_first(event_base* base, std::mt19937_64& rng);
  void run_check();
  void on_probe_done(ProbeResult result) override;

  const CheckSpec& spec() const { return *spec_; }

 private:
  void schedule_at(Clock::time_point when);

  HealthChecker::Impl* owner_;
  std::shared_ptr<const CheckSpec> spec_;
  EventPtr timer_;
  std::unique_ptr<Probe> probe_;
  Clock::time_point started_{};
  MemberStatus status_ = MemberStatus::kUnknown;
  uint32_t successes_in_a_row_ = 0;
  uint32_t failures_in_a_row_ = 0;
};

class HealthChecker::Impl {
 public:
  explicit Impl(StatusCallback on_status);
  ~Impl();

  std::vector<RejectedMember> configure(const std::vector<MemberCheck>& members);
  MemberStatus status(const std::string& member_id) const;
  CheckerStats stats() const;

  // Checker thread side.
  void drain_inbox();
  void reap();
  void retire(std::unique_ptr<Probe> probe);
  void report(const std::string& member_id, MemberStatus status, const std::string& reason);
  void count_result(const ProbeResult& result);
  void count_started() { checks_started_.fetch_add(1, std::memory_order_relaxed); }
  const ProbeEnv& env() const { return env_; }

 private:
  void apply(std::vector<std::shared_ptr<const CheckSpec>> desired);
  void teardown();

  // Declared first so it is destroyed last: every event below belongs to it.
  EventBasePtr base_;
  SslCtxPtr ssl_ctx_;
  EventPtr wakeup_;
  EventPtr reaper_;
  ProbeEnv env_;
  StatusCallback on_status_;
  std::mt19937_64 rng_{std::random_device{}()};

  // Checker thread only.
  std::unordered_map<std::string, std::unique_ptr<MemberEntry>> members_;
  std::vector<std::unique_ptr<Probe>> graveyard_;

  // Inbox: only the newest desired set matters, so it is one slot, not a queue of sets.
  std::mutex inbox_mutex_;
  std::optional<std::vector<std::shared_ptr<const CheckSpec>>> pending_;
  bool stopping_ = false;

  // Published for status() from other threads.
  mutable std::mutex status_mutex_;
  std::unordered_map<std::string, MemberStatus> statuses_;

  std::atomic<uint64_t> checks_started_{0};
  std::atomic<uint64_t> checks_succeeded_{0};
  std::atomic<uint64_t> checks_failed_{0};
  std::atomic<uint64_t> checks_timed_out_{0};
  std::atomic<uint64_t> transitions_{0};
  std::atomic<uint64_t> callback_exceptions_{0};
  std::atomic<size_t> member_count_{0};

  std::thread thread_;
};

namespace {

void on_wakeup(evutil_socket_t, short, void* arg) { static_cast<HealthChecker::Impl*>(arg)->drain_inbox(); }
void on_reap(evutil_socket_t, short, void* arg) { static_cast<HealthChecker::Impl*>(arg)->reap(); }
void on_member_timer(evutil_socket_t, short, void* arg) { static_cast<MemberEntry*>(arg)->run_check(); }

void use_pthreads_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (evthread_use_pthreads() != 0) throw std::runtime_error("evthread_use_pthreads failed");
  });
}

}  // namespace

// ---- MemberEntry ----

void MemberEntry::schedule_first(event_base* base, std::mt19937_64& rng) {
  timer_.reset(evtimer_new(base, on_member_timer, this));
  if (!timer_) std::abort();
  auto delay_us = std::chrono::duration_cast<std::chrono::microseconds>(spec_->member.monitor.delay).count();
  std::uniform_int_distribution<int64_t> jitter(0, delay_us > 0 ? delay_us - 1 : 0);
  schedule_at(Clock::now() + std::chrono::microseconds(jitter(rng)));
}

void MemberEntry::schedule_at(Clock::time_point when) {
  timeval tv = to_timeval(std::chrono::duration_cast<std::chrono::microseconds>(when - Clock::now()));
  event_add(timer_.get(), &tv);
}

void MemberEntry::run_check() {
  started_ = Clock::now();
  owner_->count_started();
  probe_ = start_probe(owner_->env(), spec_, this);
}

void MemberEntry::on_probe_done(ProbeResult result) {
  // This runs inside the probe's own callback: free it on the next loop turn, not here.
  owner_->retire(std::move(probe_));
  owner_->count_result(result);

  const HealthMonitor& monitor = spec_->member.monitor;
  std::optional<MemberStatus> decision;
  std::string reason;
  if (result.success) {
    failures_in_a_row_ = 0;
    ++successes_in_a_row_;
    if (status_ == MemberStatus::kUnknown ||
        (status_ == MemberStatus::kDown && successes_in_a_row_ >= monitor.max_retries)) {
      decision = MemberStatus::kUp;
      reason = std::string(to_string(monitor.type)) + " check passed " + std::to_string(successes_in_a_row_) +
               " time(s) in a row: " + result.reason;
    }
  } else {
    successes_in_a_row_ = 0;
    ++failures_in_a_row_;
    if (status_ != MemberStatus::kDown && failures_in_a_row_ >= monitor.max_retries_down) {
      decision = MemberStatus::kDown;
      reason = std::string(to_string(monitor.type)) + " check failed " + std::to_string(failures_in_a_row_) +
               " time(s) in a row: " + result.reason;
    }
  }
  // Next check one delay after this one started, or now if the check overran the delay.
  schedule_at(std::max(started_ + monitor.delay, Clock::now()));
  if (decision) {
    status_ = *decision;
    // Last: the callback may call configure(), which only queues, so this entry stays valid.
    owner_->report(spec_->member.member_id, *decision, reason);
  }
}

// ---- Impl ----

HealthChecker::Impl::Impl(StatusCallback on_status) : on_status_(std::move(on_status)) {
  use_pthreads_once();
  base_.reset(event_base_new());
  if (!base_) throw std::runtime_error("event_base_new failed");
  ssl_ctx_.reset(SSL_CTX_new(TLS_client_method()));
  if (!ssl_ctx_) throw std::runtime_error("SSL_CTX_new failed");
  // Like HAProxy's "check-ssl verify none": the check proves a TLS server answers, not who it is.
  SSL_CTX_set_verify(ssl_ctx_.get(), SSL_VERIFY_NONE, nullptr);
  // Nothing secret crosses a check, and a member still on an old TLS stack is up, not down.
  SSL_CTX_set_security_level(ssl_ctx_.get(), 0);
  SSL_CTX_set_min_proto_version(ssl_ctx_.get(), TLS1_VERSION);
  SSL_CTX_set_session_cache_mode(ssl_ctx_.get(), SSL_SESS_CACHE_OFF);
  wakeup_.reset(event_new(base_.get(), -1, 0, on_wakeup, this));
  reaper_.reset(event_new(base_.get(), -1, 0, on_reap, this));
  if (!wakeup_ || !reaper_) throw std::runtime_error("event_new failed");
  env_.base = base_.get();
  env_.ssl_ctx = ssl_ctx_.get();
  thread_ = std::thread([this] {
    // OpenSSL writes with write(2): a member that resets mid-check must not SIGPIPE the agent.
    // SIGPIPE is delivered to the writing thread, so blocking it here is enough.
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, nullptr);
    // Runs until drain_inbox() sees stopping_; EVLOOP_NO_EXIT_ON_EMPTY keeps an idle loop alive.
    event_base_loop(base_.get(), EVLOOP_NO_EXIT_ON_EMPTY);
  });
}

HealthChecker::Impl::~Impl() { teardown(); }

void HealthChecker::Impl::teardown() {
  {
    std::lock_guard<std::mutex> lock(inbox_mutex_);
    stopping_ = true;
  }
  event_active(wakeup_.get(), EV_TIMEOUT, 0);
  if (thread_.joinable()) thread_.join();
  // The loop has stopped: free members (their probes and timers), then loop-level events.
  members_.clear();
  graveyard_.clear();
  reaper_.reset();
  wakeup_.reset();
  ssl_ctx_.reset();
  base_.reset();
}

std::vector<RejectedMember> HealthChecker::Impl::configure(const std::vector<MemberCheck>& members) {
  std::vector<RejectedMember> rejected;
  std::vector<std::shared_ptr<const CheckSpec>> desired;
  desired.reserve(members.size());
  std::unordered_set<std::string> seen;
  for (const MemberCheck& member : members) {
    if (!seen.insert(member.member_id).second) {
      rejected.push_back({member.member_id, "duplicate member_id"});
      continue;
    }
    std::string error;
    auto spec = compile_check(member, &error);
    if (!spec) {
      rejected.push_back({member.member_id, std::move(error)});
      continue;
    }
    desired.push_back(std::move(spec));
  }
  {
    std::lock_guard<std::mutex> lock(inbox_mutex_);
    pending_ = std::move(desired);
  }
  event_active(wakeup_.get(), EV_TIMEOUT, 0);
  return rejected;
}

void HealthChecker::Impl::drain_inbox() {
  std::optional<std::vector<std::shared_ptr<const CheckSpec>>> desired;
  {
    std::lock_guard<std::mutex> lock(inbox_mutex_);
    if (stopping_) {
      event_base_loopbreak(base_.get());
      return;
    }
    desired.swap(pending_);
  }
  if (desired) apply(std::move(*desired));
}

void HealthChecker::Impl::apply(std::vector<std::shared_ptr<const CheckSpec>> desired) {
  std::unordered_map<std::string, std::unique_ptr<MemberEntry>> next;
  next.reserve(desired.size());
  std::vector<std::string> fresh;
  for (auto& spec : desired) {
    const std::string& id = spec->member.member_id;
    auto old = members_.find(id);
    if (old != members_.end() && old->second->spec().member == spec->member) {
      next.emplace(id, std::move(old->second));
      continue;
    }
    auto entry = std::make_unique<MemberEntry>(this, std::move(spec));
    entry->schedule_first(base_.get(), rng_);
    fresh.push_back(id);
    next.emplace(id, std::move(entry));
  }
  // Entries left in members_ are removed or changed; destroying them cancels their checks.
  members_.swap(next);
  next.clear();
  member_count_.store(members_.size(), std::memory_order_relaxed);

  std::lock_guard<std::mutex> lock(status_mutex_);
  for (auto it = statuses_.begin(); it != statuses_.end();) {
    it = members_.count(it->first) ? std::next(it) : statuses_.erase(it);
  }
  for (const std::string& id : fresh) statuses_[id] = MemberStatus::kUnknown;
}

void HealthChecker::Impl::retire(std::unique_ptr<Probe> probe) {
  graveyard_.push_back(std::move(probe));
  event_active(reaper_.get(), EV_TIMEOUT, 0);
}

void HealthChecker::Impl::reap() { graveyard_.clear(); }

void HealthChecker::Impl::count_result(const ProbeResult& result) {
  (result.success ? checks_succeeded_ : checks_failed_).fetch_add(1, std::memory_order_relaxed);
  if (result.timed_out) checks_timed_out_.fetch_add(1, std::memory_order_relaxed);
}

void HealthChecker::Impl::report(const std::string& member_id, MemberStatus status, const std::string& reason) {
  transitions_.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(status_mutex_);
    statuses_[member_id] = status;
  }
  if (!on_status_) return;
  // No exception may unwind through libevent: count it and carry on.
  try {
    on_status_(member_id, status, reason);
  } catch (...) {
    callback_exceptions_.fetch_add(1, std::memory_order_relaxed);
  }
}

MemberStatus HealthChecker::Impl::status(const std::string& member_id) const {
  std::lock_guard<std::mutex> lock(status_mutex_);
  auto it = statuses_.find(member_id);
  return it == statuses_.end() ? MemberStatus::kUnknown : it->second;
}

CheckerStats HealthChecker::Impl::stats() const {
  CheckerStats s;
  s.checks_started = checks_started_.load(std::memory_order_relaxed);
  s.checks_succeeded = checks_succeeded_.load(std::memory_order_relaxed);
  s.checks_failed = checks_failed_.load(std::memory_order_relaxed);
  s.checks_timed_out = checks_timed_out_.load(std::memory_order_relaxed);
  s.transitions = transitions_.load(std::memory_order_relaxed);
  s.callback_exceptions = callback_exceptions_.load(std::memory_order_relaxed);
  s.members = member_count_.load(std::memory_order_relaxed);
  clockid_t clock;
  timespec ts;
  if (pthread_getcpuclockid(const_cast<std::thread&>(thread_).native_handle(), &clock) == 0 &&
      clock_gettime(clock, &ts) == 0) {
    s.thread_cpu_time = std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
  }
  return s;
}

// ---- HealthChecker ----

HealthChecker::HealthChecker(StatusCallback on_status) : impl_(std::make_unique<Impl>(std::move(on_status))) {}
HealthChecker::~HealthChecker() = default;

std::vector<RejectedMember> HealthChecker::configure(const std::vector<MemberCheck>& members) {
  return impl_->configure(members);
}
MemberStatus HealthChecker::status(const std::string& member_id) const { return impl_->status(member_id); }
CheckerStats HealthChecker::stats() const { return impl_->stats(); }

}  // namespace pharos::health
