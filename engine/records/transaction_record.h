// One transaction record: an HTTP request/response pair or a TCP connection, with its timing.
// The engine writes them; the agent's log reducer reads them. Wire format: record_codec.h and
// schema/transaction-record.md.
#pragma once

#include <cstdint>
#include <string>

namespace pharos::records {

enum class RecordKind : uint8_t { kHttp = 1, kTcp = 2 };

// How the transaction ended. Anything but kNormal is significant to the log reducer.
enum class Termination : uint8_t {
  kNormal = 0,
  kClientReset = 1,     // client closed or reset before the response completed
  kMemberReset = 2,     // member closed or reset mid-response
  kClientTimeout = 3,   // timeout_client_data expired
  kMemberTimeout = 4,   // timeout_member_data expired
  kConnectFailed = 5,   // no member could be connected within timeout_member_connect/retries
  kNoMember = 6,        // pool empty or every member down
  kBadRequest = 7,      // the HTTP parser refused the request
  kBadResponse = 8,     // the HTTP parser refused the member's response
  kDenied = 9,          // allowed_cidrs, connection_limit or an L7 REJECT policy refused the client
  kInternal = 10,
};

struct TransactionRecord {
  RecordKind kind = RecordKind::kHttp;
  Termination termination = Termination::kNormal;
  uint16_t status = 0;         // HTTP status sent to the client; 0 for TCP
  uint16_t client_port = 0;
  uint8_t retries = 0;         // connect attempts beyond the first
  bool tls = false;            // the engine terminated TLS on the client connection
  bool http2 = false;          // the request came over HTTP/2
  uint64_t start_unix_us = 0;  // when the request (HTTP) or the connection (TCP) started
  uint32_t client_rtt_us = 0;  // smoothed RTT from TCP_INFO on the client socket
  uint32_t connect_us = 0;     // member connect time; 0 when a pooled connection was reused
  uint32_t ttfb_us = 0;        // request fully sent to member -> first response byte (app time)
  uint32_t transfer_us = 0;    // first response byte -> last byte to the client
  uint32_t total_us = 0;       // start -> end, end to end
  uint64_t bytes_in = 0;       // from the client
  uint64_t bytes_out = 0;      // to the client
  std::string listener_id;
  std::string pool_id;
  std::string member_id;
  std::string client_address;  // textual IPv4/IPv6
  std::string method;
  std::string host;
  std::string path;
  std::string user_agent;
  std::string sni;             // TLS server name the client sent (terminated or passthrough)
};

}  // namespace pharos::records
