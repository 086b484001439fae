#include "engine/tls/client_hello_sniff.h"

#include <algorithm>
#include <vector>

namespace pharos::tls {

namespace {

constexpr uint8_t kContentHandshake = 22;
constexpr uint8_t kHandshakeClientHello = 1;
constexpr size_t kRecordHeader = 5;
constexpr size_t kMaxRecordPayload = 16 * 1024;  // a plaintext record (RFC 8446 5.1)
constexpr size_t kHandshakeHeader = 4;
constexpr uint16_t kExtServerName = 0;
constexpr uint8_t kNameTypeHostName = 0;
constexpr size_t kMaxHostName = 253;

enum class Outcome { kFound, kNeedMore, kReject };

// Bounds-checked reads over one byte range; every failed read poisons the reader.
class Reader {
 public:
  Reader(const uint8_t* data, size_t len) : data_(data), len_(len) {}

  bool ok() const { return ok_; }
  size_t remaining() const { return ok_ ? len_ - pos_ : 0; }

  uint32_t u8() { return take(1) ? data_[pos_ - 1] : 0; }
  uint32_t u16() { return take(2) ? (uint32_t{data_[pos_ - 2]} << 8) | data_[pos_ - 1] : 0; }
  uint32_t u24() {
    return take(3) ? (uint32_t{data_[pos_ - 3]} << 16) | (uint32_t{data_[pos_ - 2]} << 8) | data_[pos_ - 1] : 0;
  }
  // A sub-reader over the next `n` bytes, which this reader skips.
  Reader sub(size_t n) {
    if (!take(n)) return Reader(nullptr, 0, false);
    return Reader(data_ + pos_ - n, n);
  }
  bool skip(size_t n) { return take(n); }

 private:
  Reader(const uint8_t* data, size_t len, bool ok) : data_(data), len_(len), ok_(ok) {}
  bool take(size_t n) {
    if (!ok_ || len_ - pos_ < n) {
      ok_ = false;
      return false;
    }
    pos_ += n;
    return true;
  }

  const uint8_t* data_;
  size_t len_;
  size_t pos_ = 0;
  bool ok_ = true;
};

bool is_host_name_byte(uint8_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

// server_name extension data (RFC 6066 3): the first host_name, lowercased.
Outcome read_server_name(Reader ext, std::string* name) {
  Reader list = ext.sub(ext.u16());
  if (!ext.ok() || ext.remaining() != 0 || list.remaining() == 0) return Outcome::kReject;
  bool found = false;
  while (list.remaining() > 0) {
    uint32_t type = list.u8();
    Reader host = list.sub(list.u16());
    if (!list.ok()) return Outcome::kReject;
    if (type != kNameTypeHostName) continue;
    if (found) return Outcome::kReject;  // at most one name of a type
    size_t n = host.remaining();
    if (n == 0 || n > kMaxHostName) return Outcome::kReject;
    name->clear();
    for (size_t i = 0; i < n; ++i) {
      auto c = static_cast<uint8_t>(host.u8());
      if (!is_host_name_byte(c)) return Outcome::kReject;
      name->push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c));
    }
    found = true;
  }
  return found ? Outcome::kFound : Outcome::kReject;
}

// The ClientHello body (RFC 8446 4.1.2, with the TLS 1.2 fields it keeps).
Outcome read_client_hello(Reader hello, std::string* name) {
  uint32_t legacy_version = hello.u16();
  if ((legacy_version >> 8) != 3) return Outcome::kReject;
  hello.skip(32);  // random
  uint32_t session_id = hello.u8();
  if (session_id > 32 || !hello.skip(session_id)) return Outcome::kReject;
  uint32_t suites = hello.u16();
  if (suites < 2 || suites % 2 != 0 || !hello.skip(suites)) return Outcome::kReject;
  uint32_t compressions = hello.u8();
  if (compressions < 1 || !hello.skip(compressions)) return Outcome::kReject;
  if (!hello.ok() || hello.remaining() == 0) return Outcome::kReject;  // no extensions, no name
  Reader extensions = hello.sub(hello.u16());
  if (!hello.ok() || hello.remaining() != 0) return Outcome::kReject;
  bool seen_server_name = false;
  Outcome result = Outcome::kReject;
  while (extensions.remaining() > 0) {
    uint32_t type = extensions.u16();
    Reader body = extensions.sub(extensions.u16());
    if (!extensions.ok()) return Outcome::kReject;
    if (type != kExtServerName) continue;
    if (seen_server_name) return Outcome::kReject;  // duplicate extension
    seen_server_name = true;
    result = read_server_name(body, name);
    if (result == Outcome::kReject) return result;
  }
  return result;  // the whole list was checked, not just up to the name
}

// Handshake bytes gathered so far: complete message, still incomplete, or not a ClientHello.
Outcome check_handshake(const uint8_t* hs, size_t n, std::string* name) {
  if (n >= 1 && hs[0] != kHandshakeClientHello) return Outcome::kReject;
  if (n < kHandshakeHeader) return Outcome::kNeedMore;
  Reader header(hs, kHandshakeHeader);
  header.u8();
  size_t body = header.u24();
  if (body > kMaxSniffedClientHello) return Outcome::kReject;
  if (n - kHandshakeHeader < body) return Outcome::kNeedMore;
  return read_client_hello(Reader(hs + kHandshakeHeader, body), name);
}

Outcome sniff(const uint8_t* data, size_t len, std::string* name) {
  std::vector<uint8_t> gathered;  // only when the ClientHello spans records
  size_t pos = 0;
  bool first = true;
  while (pos < len) {
    size_t available = len - pos;
    const uint8_t* record = data + pos;
    if (record[0] != kContentHandshake) return Outcome::kReject;
    if (available >= 2 && record[1] != 3) return Outcome::kReject;
    if (available >= 3 && record[2] > 4) return Outcome::kReject;
    if (available < kRecordHeader) return Outcome::kNeedMore;
    size_t payload = (size_t{record[3]} << 8) | record[4];
    if (payload == 0 || payload > kMaxRecordPayload) return Outcome::kReject;
    size_t have = std::min(payload, available - kRecordHeader);
    const uint8_t* bytes = record + kRecordHeader;
    pos += kRecordHeader + have;
    Outcome outcome;
    if (first && (have == payload || pos == len)) {
      outcome = check_handshake(bytes, have, name);  // the common case: one record, no copy
      if (outcome != Outcome::kNeedMore || have < payload) return outcome;
      gathered.assign(bytes, bytes + have);
    } else {
      gathered.insert(gathered.end(), bytes, bytes + have);
      outcome = check_handshake(gathered.data(), gathered.size(), name);
      if (outcome != Outcome::kNeedMore || have < payload) return outcome;
    }
    first = false;
  }
  return Outcome::kNeedMore;
}

}  // namespace

std::optional<std::string> peek_client_hello_sni(const uint8_t* data, size_t len, bool* need_more) {
  if (need_more != nullptr) *need_more = false;
  if (data == nullptr || len == 0) {
    if (need_more != nullptr) *need_more = true;
    return std::nullopt;
  }
  std::string name;
  switch (sniff(data, len, &name)) {
    case Outcome::kFound: return name;
    case Outcome::kNeedMore:
      if (need_more != nullptr) *need_more = true;
      return std::nullopt;
    case Outcome::kReject: break;
  }
  return std::nullopt;
}

}  // namespace pharos::tls
