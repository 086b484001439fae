// The request headers a listener inserts (Octavia's insert_headers): X-Forwarded-For, -Port and
// -Proto, and on TERMINATED_HTTPS listeners the X-SSL-* headers that describe the client's
// certificate, formatted as Octavia's HAProxy template gives them, so members see the same
// headers whichever provider serves them. Both HTTP sessions build member requests with these.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/config/config_types.h"
#include "engine/proxy/runtime_config.h"

typedef struct ssl_st SSL;

namespace pharos::proxy {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// The X-SSL-* headers `inserts` asks for, for the connection `ssl` (after its handshake).
HeaderList client_certificate_headers(const config::InsertHeaders& inserts, const SSL* ssl);

// Whether a client-sent header must be dropped because the engine inserts its own value (no
// spoofing): X-Forwarded-Port, X-Forwarded-Proto and the X-SSL-* headers, when inserted.
bool replaced_by_inserted_header(const config::InsertHeaders& inserts, std::string_view name);

// Appends the headers `listener` inserts, as HTTP/1 lines, for a client at `client_address`
// whose certificate headers are `certificate_headers` (from client_certificate_headers).
void append_inserted_headers(std::string* out, const ListenerRuntime& listener,
                             std::string_view client_address, const HeaderList& certificate_headers);

}  // namespace pharos::proxy
