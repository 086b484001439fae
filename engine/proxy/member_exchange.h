// One request/response with a member, in the version-neutral model (engine/http/request.h):
// the session sends the request head, body and trailers, and receives interim heads, the
// response head, body, trailers and end, or an error, without seeing the member's wire
// protocol. H2 members are reached through it (h2_member_pool.h), from HTTP/2 and HTTP/1.x
// client sessions alike.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/http/request.h"

namespace pharos::proxy {

enum class ExchangeError : uint8_t {
  kRefused,  // the member did not process the request (REFUSED_STREAM, or a stream above the
             // last id of its GOAWAY): it may be sent again if the session still has all of it
  kReset,    // the member reset the stream, or its response broke the protocol
  kLost,     // the member connection closed or failed with the exchange open
  kTimeout,  // the member sent nothing for timeout_member_data
};

class MemberExchange {
 public:
  // What the session hears back. Calls come from the member connection's event callbacks; the
  // session may destroy the exchange inside any of them (nothing touches it afterwards).
  class Receiver {
   public:
    virtual ~Receiver() = default;
    // An interim head (1xx other than 101: 100 Continue, 103 Early Hints) before the final one;
    // any number may come. It is not the response.
    virtual void on_exchange_interim(http::ResponseHead head) = 0;
    // The final response head. end_stream: no body follows (on_exchange_end comes next).
    virtual void on_exchange_response(http::ResponseHead head, bool end_stream) = 0;
    // Response body bytes; the member sends more only as the session calls consume().
    virtual void on_exchange_data(const uint8_t* data, size_t length) = 0;
    // The response's trailer section (lower-case names, no pseudo-headers, not yet filtered
    // for fields a trailer must not carry), just before on_exchange_end().
    virtual void on_exchange_trailers(std::vector<http::Header> trailers) = 0;
    // The whole response arrived. The exchange is over.
    virtual void on_exchange_end() = 0;
    // The exchange failed before its end. The exchange is over.
    virtual void on_exchange_failed(ExchangeError error) = 0;
    // The request body buffer drained after send_body() returned false.
    virtual void on_exchange_writable() = 0;
  };

  virtual ~MemberExchange() = default;  // an exchange still open is cancelled (stream reset)
  // Request body bytes, `end` after the last. False when the buffer towards the member is full:
  // send nothing more until on_exchange_writable(). The bytes are taken either way.
  virtual bool send_body(const uint8_t* data, size_t length, bool end) = 0;
  // Ends the request body with a trailer section, after the bytes sent before; empty
  // `trailers` end it like send_body(nullptr, 0, true). The session has filtered the fields.
  virtual void send_trailers(std::vector<http::Header> trailers) = 0;
  // The session passed on `length` response body bytes: the member may send that much more.
  virtual void consume(size_t length) = 0;
};

}  // namespace pharos::proxy
