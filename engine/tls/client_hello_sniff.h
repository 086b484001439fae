// The server name (SNI) of a TLS ClientHello, read from the first bytes a client sends on a
// passthrough HTTPS listener. Such listeners stay TCP: the engine never terminates TLS there,
// it only records which name the client asked for. No TLS library is involved; the parser
// trusts nothing and checks every length against the bytes it has.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace pharos::tls {

// The largest ClientHello handshake message the sniffer waits for (its body, without the
// 4-byte handshake header). Real ones are under 2 KiB even with post-quantum key shares.
inline constexpr size_t kMaxSniffedClientHello = 16 * 1024;

// Looks for the host_name of the server_name extension in `data`, the first `len` bytes of the
// connection (one or more TLS records carrying the ClientHello, possibly incomplete).
// - Returns the name when the ClientHello is complete, well formed, and carries one.
// - Returns nullopt with *need_more = true when `data` is a valid beginning of a ClientHello
//   that is not complete yet: call again with more bytes (same start).
// - Returns nullopt with *need_more = false otherwise: not TLS, not a ClientHello, malformed,
//   larger than kMaxSniffedClientHello, no server_name, or a name that is not a DNS host name.
// `need_more` may be null.
std::optional<std::string> peek_client_hello_sni(const uint8_t* data, size_t len, bool* need_more);

}  // namespace pharos::tls
