// Binary wire codec for TransactionRecord: the engine encodes, the agent decodes. Little-endian,
// versioned, self-delimiting; several records concatenate into one unix datagram (a batch).
// Field-by-field layout: schema/transaction-record.md. No I/O here; the data plane never throws,
// so every decode failure is an error value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/records/transaction_record.h"

namespace pharos::records {

inline constexpr uint8_t kRecordMagic = 0xA7;
inline constexpr uint8_t kRecordVersion = 1;
inline constexpr size_t kHeaderBytes = 4;        // magic, version, u16 record length
inline constexpr size_t kFixedBytes = 52;        // numeric fields after the header
inline constexpr size_t kStringCount = 9;
inline constexpr size_t kMinRecordBytes = kHeaderBytes + kFixedBytes + 2 * kStringCount;
// A datagram the engine sends and the agent reads; one record always fits with room to spare.
inline constexpr size_t kMaxDatagramBytes = 65536;

// Per-string byte caps, in wire order. The encoder cuts longer strings (at a UTF-8 boundary)
// and sets kFlagTruncated; the decoder refuses a length above the cap as corrupt.
struct StringCaps {
  static constexpr size_t kListenerId = 64;
  static constexpr size_t kPoolId = 64;
  static constexpr size_t kMemberId = 64;
  static constexpr size_t kClientAddress = 64;
  static constexpr size_t kMethod = 32;
  static constexpr size_t kHost = 256;
  static constexpr size_t kPath = 1024;
  static constexpr size_t kUserAgent = 256;
  static constexpr size_t kSni = 256;
};
inline constexpr size_t kMaxRecordBytes =
    kMinRecordBytes + StringCaps::kListenerId + StringCaps::kPoolId + StringCaps::kMemberId +
    StringCaps::kClientAddress + StringCaps::kMethod + StringCaps::kHost + StringCaps::kPath +
    StringCaps::kUserAgent + StringCaps::kSni;
static_assert(kMaxRecordBytes <= 0xFFFF, "record length must fit its u16 header field");

// Bits of the wire flags byte.
inline constexpr uint8_t kFlagTruncated = 0x01;  // the encoder cut at least one string
inline constexpr uint8_t kFlagTls = 0x02;        // TransactionRecord::tls
inline constexpr uint8_t kFlagHttp2 = 0x04;      // TransactionRecord::http2

enum class DecodeError : uint8_t {
  kOk = 0,
  kTruncated,           // the buffer ends inside the record (header or body)
  kBadMagic,            // first byte is not kRecordMagic: not a record, or lost framing
  kUnsupportedVersion,  // a version this decoder does not know
  kBadLength,           // record length below the minimum, or a string overruns the record
  kStringTooLong,       // a string length above its cap
  kBadEnum,             // kind or termination out of range
};

const char* to_string(DecodeError error);

// Appends the encoding of `record` to `*out` and returns the number of bytes appended.
// Never fails: strings above their cap are cut, so the result is at most kMaxRecordBytes.
size_t encode(const TransactionRecord& record, std::string* out);

// Size encode() would append, without encoding.
size_t encoded_size(const TransactionRecord& record);

struct DecodeResult {
  DecodeError error = DecodeError::kOk;
  size_t consumed = 0;  // bytes of `in` used by the record; 0 on error
};

// Decodes the record at the front of `in` into `*out` (whose strings are reused, so decoding
// into the same object in a loop does not allocate). On error `*out` is unspecified.
// `truncated`, when given, receives whether the encoder cut a string.
DecodeResult decode(std::string_view in, TransactionRecord* out, bool* truncated = nullptr);

// Walks a datagram of concatenated records. Framing is the record length only, so a corrupt
// record ends the walk: records returned before it stay valid, error() says why it stopped.
class BatchReader {
 public:
  explicit BatchReader(std::string_view datagram) : rest_(datagram) {}

  // Decodes the next record into `*out`; false at the end of the datagram or on error.
  bool next(TransactionRecord* out);
  // kOk once the whole datagram was consumed cleanly, else the error that stopped next().
  DecodeError error() const { return error_; }
  size_t records() const { return records_; }

 private:
  std::string_view rest_;
  DecodeError error_ = DecodeError::kOk;
  size_t records_ = 0;
};

// Appends every record of `datagram` to `*out`; returns kOk or the error that stopped it
// (records decoded before the error are still appended).
DecodeError decode_batch(std::string_view datagram, std::vector<TransactionRecord>* out);

// Packs records into datagrams of at most `max_bytes` for the engine's sender.
class BatchWriter {
 public:
  explicit BatchWriter(size_t max_bytes = kMaxDatagramBytes) : max_bytes_(max_bytes) {}

  // Appends `record` if it fits; false (and nothing appended) when the datagram is full.
  bool add(const TransactionRecord& record);
  const std::string& datagram() const { return buffer_; }
  size_t records() const { return records_; }
  bool empty() const { return records_ == 0; }
  // Starts the next datagram, keeping the buffer's capacity.
  void clear() {
    buffer_.clear();
    records_ = 0;
  }

 private:
  size_t max_bytes_;
  std::string buffer_;
  size_t records_ = 0;
};

}  // namespace pharos::records
