#include "amphora_agent/log_reducer/log_reducer.h"

#include <algorithm>
#include <array>
#include <tuple>

#include "amphora_agent/log_reducer/reduced_sink.h"
#include "engine/records/record_codec.h"

namespace pharos::log_reducer {
namespace {

using records::StringCaps;
using records::Termination;
using records::TransactionRecord;

// Rough per-node cost of a std::unordered_map node beyond its value (next pointer, cached
// hash, allocator rounding).
constexpr size_t kNodeOverhead = 32;
// How often (in samples) a listener's slow threshold is recomputed between rotations.
constexpr uint32_t kRecomputeEvery = 256;

std::string_view capped(std::string_view s, size_t cap) { return s.substr(0, cap); }

size_t string_heap(const std::string& s) {
  // Short strings live inside the object (SSO); only longer ones own heap memory.
  return s.capacity() > 15 ? s.capacity() + 1 : 0;
}

size_t record_heap(const TransactionRecord& r) {
  return string_heap(r.listener_id) + string_heap(r.pool_id) + string_heap(r.member_id) +
         string_heap(r.client_address) + string_heap(r.method) + string_heap(r.host) +
         string_heap(r.path) + string_heap(r.user_agent) + string_heap(r.sni);
}

// Cuts a kept copy to the wire caps, so buffered records are bounded even when the caller
// built them in process rather than decoding them.
void cap_strings(TransactionRecord* r) {
  auto cap = [](std::string* s, size_t n) {
    if (s->size() > n) {
      s->resize(n);
      s->shrink_to_fit();
    }
  };
  cap(&r->listener_id, StringCaps::kListenerId);
  cap(&r->pool_id, StringCaps::kPoolId);
  cap(&r->member_id, StringCaps::kMemberId);
  cap(&r->client_address, StringCaps::kClientAddress);
  cap(&r->method, StringCaps::kMethod);
  cap(&r->host, StringCaps::kHost);
  cap(&r->path, StringCaps::kPath);
  cap(&r->user_agent, StringCaps::kUserAgent);
  cap(&r->sni, StringCaps::kSni);
}

constexpr size_t kRecordStringBound =
    records::kMaxRecordBytes + 9 * 16;  // every string at its cap, plus allocation rounding

bool key_less(const Aggregate* a, const Aggregate* b) {
  return std::tie(a->key.interval_start_us, a->key.listener_id, a->key.pool_id,
                  a->key.member_id, a->key.status_class, a->key.method) <
         std::tie(b->key.interval_start_us, b->key.listener_id, b->key.pool_id,
                  b->key.member_id, b->key.status_class, b->key.method);
}

}  // namespace

std::string_view normalize_method(std::string_view method) {
  static constexpr std::array<std::string_view, 9> kKnown = {
      "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};
  if (method.empty()) return {};
  for (std::string_view known : kKnown) {
    if (method == known) return known;
  }
  return "OTHER";
}

bool is_member_error(const TransactionRecord& r) {
  if (r.status >= 500 && r.status <= 599) return true;
  switch (r.termination) {
    case Termination::kMemberReset:
    case Termination::kMemberTimeout:
    case Termination::kConnectFailed:
    case Termination::kBadResponse:
      return true;
    default:
      return false;
  }
}

uint32_t slow_latency_us(const TransactionRecord& r) {
  return r.kind == records::RecordKind::kTcp ? r.connect_us : r.total_us;
}

Reason error_reasons(const TransactionRecord& r) {
  Reason reasons = Reason::kNone;
  if (r.status >= 400 && r.status <= 599) reasons |= Reason::kStatusError;
  if (r.termination != Termination::kNormal) reasons |= Reason::kAbnormalTermination;
  return reasons;
}

// Running latency distribution of one listener: `window` holds the previous interval plus the
// current one, so the threshold adapts within two intervals and never starts from nothing at
// an interval boundary.
struct LogReducer::ListenerState {
  uint64_t window_start_us = 0;
  bool started = false;
  bool has_threshold = false;
  uint32_t threshold_us = 0;
  uint32_t since_recompute = 0;
  LatencyHistogram current;
  LatencyHistogram window;
};

size_t LogReducer::KeyHash::operator()(const KeyView& k) const {
  std::hash<std::string_view> h;
  size_t seed = std::hash<uint64_t>{}(k.interval_start_us);
  auto mix = [&seed](size_t v) { seed ^= v + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2); };
  mix(h(k.listener_id));
  mix(h(k.pool_id));
  mix(h(k.member_id));
  mix(h(k.method));
  mix(static_cast<size_t>(k.status_class));
  return seed;
}

LogReducer::LogReducer(const ReducerConfig& config, ReducedSink* sink)
    : config_(config), sink_(sink) {
  if (config_.interval_us == 0) config_.interval_us = 60'000'000;
  if (config_.max_keys == 0) config_.max_keys = 1;
  if (config_.max_pending_significant == 0) config_.max_pending_significant = 1;
  pending_.reserve(config_.max_pending_significant);
  aggregates_.reserve(config_.max_keys);
}

LogReducer::~LogReducer() = default;

void LogReducer::add(const TransactionRecord& record) {
  ++stats_.records;
  Reason reasons = error_reasons(record);
  reasons = slow_and_anomaly_reasons(record, reasons);
  aggregate(record);
  if (reasons == Reason::kNone) return;

  ++stats_.significant;
  pending_.push_back({record, reasons});
  cap_strings(&pending_.back().record);
  if (pending_.size() >= config_.max_pending_significant) {
    ++stats_.significant_early_flushes;
    flush_significant();
  }
}

Reason LogReducer::slow_and_anomaly_reasons(const TransactionRecord& record, Reason reasons) {
  const uint64_t interval_start = record.start_unix_us / config_.interval_us * config_.interval_us;

  // Slow: above the SLA, and in the tail of its own listener once that tail is known.
  const std::string_view listener_id = capped(record.listener_id, StringCaps::kListenerId);
  auto it = listeners_.find(listener_id);
  if (it == listeners_.end()) {
    // Forgetting every threshold is crude but bounded; listeners are few per amphora.
    if (listeners_.size() >= config_.max_listeners) listeners_.clear();
    it = listeners_.emplace(std::string(listener_id), std::make_unique<ListenerState>()).first;
  }
  ListenerState& listener = *it->second;
  auto recompute = [this, &listener] {
    listener.since_recompute = 0;
    listener.has_threshold = listener.window.count() >= config_.slow_min_samples;
    listener.threshold_us = listener.has_threshold
                                ? listener.window.quantile(config_.slow_quantile)
                                : 0;
  };
  if (!listener.started) {
    listener.started = true;
    listener.window_start_us = interval_start;
  } else if (interval_start > listener.window_start_us) {
    if (interval_start == listener.window_start_us + config_.interval_us) {
      listener.window = listener.current;
    } else {
      listener.window.reset();  // a gap: the old tail says nothing about now
    }
    listener.current.reset();
    listener.window_start_us = interval_start;
    recompute();
  }
  const uint32_t latency = slow_latency_us(record);
  const bool above_sla = config_.sla_total_us == 0 || latency > config_.sla_total_us;
  if (above_sla && (!listener.has_threshold || latency > listener.threshold_us)) {
    reasons |= Reason::kSlow;
    ++stats_.slow;
  }
  listener.current.add(latency);
  listener.window.add(latency);
  if (++listener.since_recompute >= kRecomputeEvery) recompute();

  // Member anomalies: the edges of a member's error runs. Errors are kept anyway; the first
  // one after a long clean run marks when trouble began, and the first success after a run of
  // errors (otherwise folded away) marks when it ended.
  if (!record.member_id.empty()) {
    const std::string_view member_id = capped(record.member_id, StringCaps::kMemberId);
    auto m = members_.find(member_id);
    if (m == members_.end()) {
      if (members_.size() >= config_.max_members) members_.clear();
      m = members_.emplace(std::string(member_id), MemberState{}).first;
    }
    MemberState& member = m->second;
    Reason anomaly = Reason::kNone;
    if (is_member_error(record)) {
      if (member.ok_streak >= config_.member_error_streak) anomaly = Reason::kMemberFirstError;
      member.ok_streak = 0;
      if (member.error_streak < UINT32_MAX) ++member.error_streak;
    } else if (reasons == Reason::kNone || reasons == Reason::kSlow) {
      if (member.error_streak >= config_.member_recovery_errors) {
        anomaly = Reason::kMemberRecovered;
      }
      member.error_streak = 0;
      if (member.ok_streak < UINT32_MAX) ++member.ok_streak;
    }
    // Client-side errors say nothing about the member and leave its streaks alone.
    if (anomaly != Reason::kNone) {
      reasons |= anomaly;
      ++stats_.anomalies;
    }
  }
  return reasons;
}

void LogReducer::aggregate(const TransactionRecord& record) {
  const KeyView probe{record.start_unix_us / config_.interval_us * config_.interval_us,
                      capped(record.listener_id, StringCaps::kListenerId),
                      capped(record.pool_id, StringCaps::kPoolId),
                      capped(record.member_id, StringCaps::kMemberId),
                      normalize_method(record.method),
                      record.kind == records::RecordKind::kHttp
                          ? status_class_of(record.status)
                          : StatusClass::kOther};
  auto it = aggregates_.find(probe);
  if (it == aggregates_.end()) {
    if (aggregates_.size() >= config_.max_keys) spill();
    auto owned = std::make_unique<Aggregate>();
    owned->key.interval_start_us = probe.interval_start_us;
    owned->key.listener_id = probe.listener_id;
    owned->key.pool_id = probe.pool_id;
    owned->key.member_id = probe.member_id;
    owned->key.method = probe.method;
    owned->key.status_class = probe.status_class;
    owned->interval_us = static_cast<uint32_t>(
        std::min<uint64_t>(config_.interval_us, UINT32_MAX));
    const KeyView key{owned->key.interval_start_us, owned->key.listener_id,
                      owned->key.pool_id,           owned->key.member_id,
                      owned->key.method,            owned->key.status_class};
    it = aggregates_.emplace(key, std::move(owned)).first;
  }
  Aggregate& a = *it->second;
  ++a.count;
  a.bytes_in += record.bytes_in;
  a.bytes_out += record.bytes_out;
  a.total_us.add(record.total_us);
  a.ttfb_us.add(record.ttfb_us);
}

void LogReducer::emit(Aggregate& aggregate) {
  sink_->on_aggregate(aggregate);
  ++stats_.aggregates_emitted;
}

void LogReducer::spill() {
  // Counts stay exact: the sink adds these partial aggregates to whatever comes later.
  ++stats_.spills;
  flush_significant();
  std::vector<Aggregate*> all;
  all.reserve(aggregates_.size());
  for (auto& [key, aggregate] : aggregates_) all.push_back(aggregate.get());
  std::sort(all.begin(), all.end(), key_less);
  for (Aggregate* a : all) emit(*a);
  aggregates_.clear();
}

void LogReducer::flush_significant() {
  for (const Pending& p : pending_) sink_->on_significant(p.record, p.reasons);
  pending_.clear();
}

void LogReducer::flush(uint64_t now_unix_us) {
  flush_significant();
  std::vector<Aggregate*> closed;
  for (auto& [key, aggregate] : aggregates_) {
    if (key.interval_start_us + config_.interval_us + config_.close_grace_us <= now_unix_us) {
      closed.push_back(aggregate.get());
    }
  }
  std::sort(closed.begin(), closed.end(), key_less);
  for (Aggregate* a : closed) emit(*a);
  for (Aggregate* a : closed) {
    const KeyView key{a->key.interval_start_us, a->key.listener_id, a->key.pool_id,
                      a->key.member_id,         a->key.method,      a->key.status_class};
    aggregates_.erase(key);  // the key views into *a, so erase before it is freed: same call
  }
}

void LogReducer::flush_all() {
  flush(UINT64_MAX - config_.interval_us - config_.close_grace_us);
  if (!aggregates_.empty()) spill();  // timestamps near UINT64_MAX; not expected in practice
}

uint32_t LogReducer::slow_threshold_us(std::string_view listener_id) const {
  auto it = listeners_.find(listener_id);
  if (it == listeners_.end() || !it->second->has_threshold) return 0;
  return it->second->threshold_us;
}

size_t LogReducer::memory_bytes() const {
  size_t bytes = sizeof(*this);
  bytes += aggregates_.bucket_count() * sizeof(void*);
  for (const auto& [key, a] : aggregates_) {
    bytes += kNodeOverhead + sizeof(key) + sizeof(a) + sizeof(Aggregate);
    bytes += string_heap(a->key.listener_id) + string_heap(a->key.pool_id) +
             string_heap(a->key.member_id) + string_heap(a->key.method);
    bytes += a->total_us.memory_bytes() + a->ttfb_us.memory_bytes() -
             2 * sizeof(LatencyHistogram);
  }
  bytes += listeners_.bucket_count() * sizeof(void*);
  for (const auto& [id, l] : listeners_) {
    bytes += kNodeOverhead + sizeof(id) + string_heap(id) + sizeof(l) + sizeof(ListenerState);
    bytes += l->current.memory_bytes() + l->window.memory_bytes() -
             2 * sizeof(LatencyHistogram);
  }
  bytes += members_.bucket_count() * sizeof(void*);
  for (const auto& [id, m] : members_) {
    bytes += kNodeOverhead + sizeof(id) + string_heap(id) + sizeof(m);
  }
  bytes += pending_.capacity() * sizeof(Pending);
  for (const Pending& p : pending_) bytes += record_heap(p.record);
  return bytes;
}

size_t LogReducer::memory_bound(const ReducerConfig& config) {
  constexpr size_t kHistogramHeap = LatencyHistogram::kBuckets * sizeof(uint64_t);
  constexpr size_t kIdHeap = StringCaps::kListenerId + 1;
  // Hash tables keep at most ~2 buckets per element after growth.
  const size_t per_key = kNodeOverhead + sizeof(KeyView) + sizeof(void*) + sizeof(Aggregate) +
                         3 * kIdHeap + 2 * kHistogramHeap + 2 * sizeof(void*);
  const size_t per_listener = kNodeOverhead + sizeof(std::string) + kIdHeap + sizeof(void*) +
                              sizeof(ListenerState) + 2 * kHistogramHeap + 2 * sizeof(void*);
  const size_t per_member = kNodeOverhead + sizeof(std::string) + kIdHeap +
                            sizeof(MemberState) + 2 * sizeof(void*);
  const size_t per_pending = sizeof(Pending) + kRecordStringBound;
  return sizeof(LogReducer) + config.max_keys * per_key +
         config.max_listeners * per_listener + config.max_members * per_member +
         config.max_pending_significant * per_pending;
}

}  // namespace pharos::log_reducer
