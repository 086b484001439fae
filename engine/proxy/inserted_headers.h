// Request headers that describe the client's TLS connection (Octavia's X-SSL-* insert_headers
// on TERMINATED_HTTPS listeners), with values formatted as Octavia's HAProxy template gives them,
// so members see the same headers whichever provider serves them.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/config/config_types.h"

typedef struct ssl_st SSL;

namespace pharos::proxy {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// The X-SSL-* headers `inserts` asks for, for the connection `ssl` (after its handshake).
HeaderList client_certificate_headers(const config::InsertHeaders& inserts, const SSL* ssl);

// Whether a client-sent header must be dropped because the engine inserts its own value.
bool replaced_by_client_certificate_header(const config::InsertHeaders& inserts, std::string_view name);

}  // namespace pharos::proxy
