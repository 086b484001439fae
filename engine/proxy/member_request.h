// The request an h2 member gets, as a version-neutral head built from the client's request
// (HTTP/2 or HTTP/1.x, also version-neutral by then): connection-specific fields dropped, the
// listener's inserted headers added, the scheme the member connection uses. Both sessions
// build it the same way, so routing and L7 code never see which version either side speaks.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "engine/http/request.h"
#include "engine/http1/message.h"
#include "engine/proxy/inserted_headers.h"
#include "engine/proxy/member_exchange.h"
#include "engine/proxy/runtime_config.h"

namespace pharos::stats {
struct TrafficSlot;
}

namespace pharos::proxy {

class H2MemberConnection;

// An HTTP/1.x request head as the version-neutral model (owning copies; fields named by its
// Connection header, and hop-by-hop ones, left out; an absolute-form target split into
// authority and path). content_length is -1 unless framed by one.
http::RequestHead version_neutral_request(const http1::RequestHead& head);

// The head for the member: `client` with connection-specific fields and those the listener
// replaces dropped ("te: trailers" kept, as h2 allows), its inserted headers added for `client_address`, :scheme "https" when the
// pool re-encrypts. An empty authority (HTTP/1.0 without Host) becomes `fallback_authority`.
http::RequestHead member_request_head(const http::RequestHead& client, const ListenerRuntime& listener,
                                      const PoolRuntime& pool, std::string_view client_address,
                                      const HeaderList& certificate_headers,
                                      std::string_view fallback_authority);

// Opens the exchange that takes `head` (from member_request_head) over `connection`, and counts
// the head towards the member's bytes_in in `member_traffic`. Null when the connection cannot
// take another stream: nothing is counted, and the caller releases its exchange and answers 502.
std::unique_ptr<MemberExchange> open_member_exchange(H2MemberConnection& connection,
                                                     MemberExchange::Receiver& receiver,
                                                     const http::RequestHead& head, bool end_stream,
                                                     uint32_t data_timeout_ms,
                                                     stats::TrafficSlot& member_traffic);

// The reason phrase for an HTTP/1.1 status line (h2 responses carry none).
const char* reason_phrase(uint16_t status);

}  // namespace pharos::proxy
