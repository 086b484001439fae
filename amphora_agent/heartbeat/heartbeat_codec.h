// Encodes and verifies heartbeat datagrams: "PHB" + version byte + compact JSON + HMAC-SHA256
// of everything before the MAC. schema/heartbeat.md is the normative description.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "amphora_agent/heartbeat/heartbeat_payload.h"

namespace pharos::heartbeat {

enum class HeartbeatError {
  kOk = 0,
  kMalformed,      // too short, wrong magic, JSON missing, ill-typed or not UTF-8
  kWrongVersion,   // an envelope version this code does not speak
  kBadSignature,   // MAC mismatch: wrong key or altered bytes
  kReplay,         // seq not above the last accepted one, or timestamp outside the window
};

const char* to_string(HeartbeatError error);

// The payload as the JSON object carried inside the envelope (schema/heartbeat.md), and back.
// payload_from_json returns false for a document that does not have the documented shape.
nlohmann::json payload_to_json(const HeartbeatPayload& payload);
bool payload_from_json(const nlohmann::json& document, HeartbeatPayload& payload);

inline constexpr size_t kMacBytes = 32;
inline constexpr size_t kHeaderBytes = 4;  // "PHB" + version
// The largest datagram the receiver reads; encode refuses to build a bigger one.
inline constexpr size_t kMaxDatagramBytes = 65000;

struct EncodeResult {
  std::string datagram;  // empty when the payload does not fit kMaxDatagramBytes
  bool ok() const { return !datagram.empty(); }
};

// Serializes and signs. The key must be the controller's shared heartbeat key.
EncodeResult encode(const HeartbeatPayload& payload, std::string_view key);

struct DecodeOptions {
  uint64_t now_ms = 0;             // 0: the system clock
  uint64_t max_skew_ms = 120000;   // |now - timestamp| beyond this is treated as a replay
};

struct DecodeResult {
  HeartbeatError error = HeartbeatError::kMalformed;
  HeartbeatPayload payload;  // meaningful only when error == kOk
  bool ok() const { return error == HeartbeatError::kOk; }
};

// Checks, in this order: length and magic, version, MAC (constant time), JSON shape, then
// seq > last_seq and the timestamp window. Nothing of an unauthenticated datagram is parsed.
DecodeResult decode_and_verify(std::string_view datagram, std::string_view key, uint64_t last_seq,
                               const DecodeOptions& options = {});

}  // namespace pharos::heartbeat
