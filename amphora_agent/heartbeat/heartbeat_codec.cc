#include "amphora_agent/heartbeat/heartbeat_codec.h"

#include <chrono>
#include <cstring>

#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace pharos::heartbeat {
namespace {

using nlohmann::json;

constexpr char kMagic[3] = {'P', 'H', 'B'};

bool hmac_sha256(std::string_view key, std::string_view data, unsigned char out[kMacBytes]) {
  unsigned int len = 0;
  // HMAC() accepts a zero-length key only with a non-null pointer.
  static const unsigned char kEmpty = 0;
  const void* key_ptr = key.empty() ? static_cast<const void*>(&kEmpty) : key.data();
  if (HMAC(EVP_sha256(), key_ptr, static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len) == nullptr) {
    return false;
  }
  return len == kMacBytes;
}

json quality_to_json(const TrafficQuality& q) {
  return json{{"requests", q.requests}, {"error_rate", q.error_rate}, {"p50_ms", q.p50_ms},
              {"p95_ms", q.p95_ms}, {"p99_ms", q.p99_ms}};
}

}  // namespace

json payload_to_json(const HeartbeatPayload& p) {
  json listeners = json::object();
  for (const auto& [id, s] : p.listeners) {
    listeners[id] = json{{"bytes_in", s.bytes_in}, {"bytes_out", s.bytes_out},
                         {"active_connections", s.active_connections},
                         {"total_connections", s.total_connections},
                         {"request_errors", s.request_errors}};
  }
  json listener_quality = json::object();
  for (const auto& [id, q] : p.listener_quality) listener_quality[id] = quality_to_json(q);
  json pool_quality = json::object();
  for (const auto& [id, q] : p.pool_quality) pool_quality[id] = quality_to_json(q);
  return json{{"seq", p.seq},
              {"timestamp_ms", p.timestamp_ms},
              {"amphora_id", p.amphora_id},
              {"config_version", p.config_version},
              {"engine", {{"up", p.engine_up}, {"restarts", p.engine_restarts}}},
              {"listeners", std::move(listeners)},
              {"members", p.members},
              {"quality", {{"listeners", std::move(listener_quality)}, {"pools", std::move(pool_quality)}}},
              {"resources", {{"cpu_percent", p.resources.cpu_percent},
                             {"rss_bytes", p.resources.rss_bytes},
                             {"connections", p.resources.connections}}}};
}

namespace {

// Strict readers: a field of the wrong type makes the whole datagram malformed.
bool get_u64(const json& obj, const char* key, uint64_t& out) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_unsigned()) return false;
  out = it->get<uint64_t>();
  return true;
}

bool get_double(const json& obj, const char* key, double& out) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number()) return false;
  out = it->get<double>();
  return true;
}

bool get_object(const json& obj, const char* key, const json*& out) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_object()) return false;
  out = &*it;
  return true;
}

bool quality_from_json(const json& j, TrafficQuality& q) {
  return j.is_object() && get_u64(j, "requests", q.requests) &&
         get_double(j, "error_rate", q.error_rate) && get_double(j, "p50_ms", q.p50_ms) &&
         get_double(j, "p95_ms", q.p95_ms) && get_double(j, "p99_ms", q.p99_ms);
}

bool quality_map_from_json(const json& j, std::map<std::string, TrafficQuality>& out) {
  if (!j.is_object()) return false;
  for (const auto& [id, value] : j.items()) {
    if (!quality_from_json(value, out[id])) return false;
  }
  return true;
}

}  // namespace

bool payload_from_json(const json& j, HeartbeatPayload& p) {
  if (!j.is_object()) return false;
  auto amphora = j.find("amphora_id");
  if (amphora == j.end() || !amphora->is_string()) return false;
  p.amphora_id = amphora->get<std::string>();
  if (!get_u64(j, "seq", p.seq) || !get_u64(j, "timestamp_ms", p.timestamp_ms) ||
      !get_u64(j, "config_version", p.config_version)) {
    return false;
  }
  const json* engine = nullptr;
  if (!get_object(j, "engine", engine)) return false;
  auto up = engine->find("up");
  if (up == engine->end() || !up->is_boolean()) return false;
  p.engine_up = up->get<bool>();
  if (!get_u64(*engine, "restarts", p.engine_restarts)) return false;

  const json* listeners = nullptr;
  if (!get_object(j, "listeners", listeners)) return false;
  for (const auto& [id, s] : listeners->items()) {
    ListenerStats& out = p.listeners[id];
    if (!s.is_object() || !get_u64(s, "bytes_in", out.bytes_in) ||
        !get_u64(s, "bytes_out", out.bytes_out) ||
        !get_u64(s, "active_connections", out.active_connections) ||
        !get_u64(s, "total_connections", out.total_connections) ||
        !get_u64(s, "request_errors", out.request_errors)) {
      return false;
    }
  }
  const json* members = nullptr;
  if (!get_object(j, "members", members)) return false;
  for (const auto& [id, status] : members->items()) {
    if (!status.is_string()) return false;
    p.members[id] = status.get<std::string>();
  }
  const json* quality = nullptr;
  if (!get_object(j, "quality", quality)) return false;
  const json* lq = nullptr;
  const json* pq = nullptr;
  if (!get_object(*quality, "listeners", lq) || !get_object(*quality, "pools", pq) ||
      !quality_map_from_json(*lq, p.listener_quality) ||
      !quality_map_from_json(*pq, p.pool_quality)) {
    return false;
  }
  const json* resources = nullptr;
  return get_object(j, "resources", resources) &&
         get_double(*resources, "cpu_percent", p.resources.cpu_percent) &&
         get_u64(*resources, "rss_bytes", p.resources.rss_bytes) &&
         get_u64(*resources, "connections", p.resources.connections);
}

namespace {

uint64_t system_now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

const char* to_string(HeartbeatError error) {
  switch (error) {
    case HeartbeatError::kOk: return "ok";
    case HeartbeatError::kMalformed: return "malformed";
    case HeartbeatError::kWrongVersion: return "wrong_version";
    case HeartbeatError::kBadSignature: return "bad_signature";
    case HeartbeatError::kReplay: return "replay";
  }
  return "unknown";
}

EncodeResult encode(const HeartbeatPayload& payload, std::string_view key) {
  // error_handler::replace keeps a non-UTF-8 id from throwing; the receiver sees U+FFFD.
  const std::string body =
      payload_to_json(payload).dump(-1, ' ', false, json::error_handler_t::replace);
  std::string datagram;
  datagram.reserve(kHeaderBytes + body.size() + kMacBytes);
  datagram.append(kMagic, sizeof(kMagic));
  datagram.push_back(static_cast<char>(kHeartbeatVersion));
  datagram.append(body);
  unsigned char mac[kMacBytes];
  if (!hmac_sha256(key, datagram, mac)) return {};
  datagram.append(reinterpret_cast<const char*>(mac), kMacBytes);
  if (datagram.size() > kMaxDatagramBytes) return {};
  return {std::move(datagram)};
}

DecodeResult decode_and_verify(std::string_view datagram, std::string_view key, uint64_t last_seq,
                               const DecodeOptions& options) {
  DecodeResult result;
  if (datagram.size() < kHeaderBytes + 2 + kMacBytes || datagram.size() > kMaxDatagramBytes ||
      std::memcmp(datagram.data(), kMagic, sizeof(kMagic)) != 0) {
    result.error = HeartbeatError::kMalformed;
    return result;
  }
  if (static_cast<uint8_t>(datagram[3]) != kHeartbeatVersion) {
    result.error = HeartbeatError::kWrongVersion;
    return result;
  }
  const std::string_view signed_part = datagram.substr(0, datagram.size() - kMacBytes);
  const std::string_view mac = datagram.substr(datagram.size() - kMacBytes);
  unsigned char expected[kMacBytes];
  if (!hmac_sha256(key, signed_part, expected) ||
      CRYPTO_memcmp(expected, mac.data(), kMacBytes) != 0) {
    result.error = HeartbeatError::kBadSignature;
    return result;
  }
  const json doc = json::parse(signed_part.substr(kHeaderBytes), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !payload_from_json(doc, result.payload)) {
    result.payload = {};
    result.error = HeartbeatError::kMalformed;
    return result;
  }
  const uint64_t now = options.now_ms != 0 ? options.now_ms : system_now_ms();
  const uint64_t ts = result.payload.timestamp_ms;
  const uint64_t skew = ts > now ? ts - now : now - ts;
  if (result.payload.seq <= last_seq || skew > options.max_skew_ms) {
    result.error = HeartbeatError::kReplay;
    return result;
  }
  result.error = HeartbeatError::kOk;
  return result;
}

}  // namespace pharos::heartbeat
