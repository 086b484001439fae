// A TLS transport under the engine's sessions: a bufferevent that speaks TLS over a socket
// bufferevent. A session reads plaintext from its input and writes plaintext to its output,
// with watermarks, timeouts and EOF/ERROR events, exactly as on a plain socket, so the session
// code does not know whether its connection is encrypted.
//
// How it is built (tls_transport.cc): a libevent filter bufferevent over the socket one; the SSL
// object reads and writes the socket's evbuffers directly through a custom BIO (no memory-BIO
// copy), decrypts straight into the filter's input and encrypts from its output.
//
// Contract, beyond a socket bufferevent's:
// - Callbacks are deferred (BEV_OPT_DEFER_CALLBACKS): a session callback never runs inside the
//   session's own bufferevent_write() or inside the transport, so it may free the bufferevent
//   from any of its callbacks.
// - Events: BEV_EVENT_EOF|BEV_EVENT_READING when the peer's close_notify arrives or the socket
//   ends after the handshake (a truncation: tls_state()->close_notify_received says which).
//   BEV_EVENT_ERROR (with READING or WRITING) for a failed handshake, a TLS alert, a bad record,
//   a socket error, or a socket EOF before the handshake completed: all of these before the
//   handshake count as a failed handshake, with the reason in tls_state()->failure_reason.
//   BEV_EVENT_TIMEOUT from the session's own timeouts, which also bound the handshake (no
//   plaintext arrives during it, so the read timeout is not reset). The TCP connect completion
//   of a client socket is not reported; see TlsTransportOptions::report_connected.
// - The handshake progresses while EV_READ is enabled on the TLS bufferevent (it is enabled at
//   creation). Plaintext written before the handshake completes is held and sent after it.
// - Backpressure: while the session has EV_READ disabled or its input is at the read high
//   watermark, the socket is not read. Each socket read is decrypted whole, so the input may
//   exceed the high watermark by at most about 32 KiB (one socket read plus one record).
//   Ciphertext waiting for the socket is bounded (64 KiB) before plaintext is encrypted.
//   When the socket has room again, the transport encrypts more at once.
// - bufferevent_getfd() gives the socket's fd; the socket bufferevent is owned by the TLS
//   bufferevent (it must have been created with BEV_OPT_CLOSE_ON_FREE).
// - Freeing: bufferevent_free() on the TLS bufferevent never blocks. What the session wrote is
//   encrypted, a close_notify is queued (after a completed, healthy handshake; see
//   tls_queue_close_notify to send it with the last response), and whatever
//   the socket has not yet accepted is flushed in the background ("linger") for at most
//   linger_ms, then the socket is closed. libevent destroys a freed bufferevent on the next
//   loop turn, so that is when the close_notify leaves. Worker shutdown calls
//   tls_close_lingering() before event_base_free().
// - Asynchronous BoringSSL callbacks (SSL_ERROR_WANT_X509_LOOKUP, _PRIVATE_KEY_OPERATION, ...)
//   are not supported: a context must answer its callbacks synchronously.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <functional>
#include <string>

#include "engine/net/event_handles.h"

namespace pharos::tls {

enum class TlsRole { kServer, kClient };

struct TlsTransportOptions {
  // Called once, synchronously, when the handshake completes and before any application data
  // of the connection reaches the read callback, so the owner can read ALPN and install the
  // session's callbacks and watermarks on the bufferevent it is given. It may also free it.
  std::function<void(bufferevent*)> on_handshake_done;
  // Also report the handshake completion as BEV_EVENT_CONNECTED on the TLS bufferevent (what a
  // member connection's owner waits for, as with bufferevent_socket_connect). Off by default:
  // an HTTP session treats unexpected events as the end of the connection.
  bool report_connected = false;
  // Upper bound on the background flush after the bufferevent is freed; 0 closes at once.
  uint32_t linger_ms = 5000;
  // Encrypt what the session writes only when the TLS bufferevent is flushed
  // (bufferevent_flush(bev, EV_WRITE, BEV_FLUSH)), so that everything one loop turn wrote
  // (an HTTP/1 head and body, HTTP/2 frames of many streams) becomes as few records as
  // possible. The owner must then have the bufferevent flushed at the end of every turn in
  // which it wrote: net::WriteCoalescer::adopt() does that. Off: every write is encrypted at once.
  bool encrypt_at_flush = false;
};

// What happened on one TLS connection; valid while its bufferevent lives.
struct TlsState {
  bool handshake_done = false;
  bool handshake_failed = false;       // the connection ended or failed before the handshake completed
  bool close_notify_received = false;  // false at EOF: the peer truncated the stream
  bool close_notify_sent = false;
  std::string failure_reason;          // why it failed, for logs and records; empty if it did not
};

// Wraps `socket_bev` (connected, accepted, or still connecting for a client) in a TLS
// bufferevent on `base` driving `ssl`, whose context, SNI and ALPN the caller configured.
// A client starts its handshake at once (the ClientHello leaves when the connect completes).
// Returns null (and frees its arguments) only if libevent cannot allocate.
net::BufferEventPtr make_tls_bufferevent(event_base* base, net::BufferEventPtr socket_bev,
                                         bssl::UniquePtr<SSL> ssl, TlsRole role,
                                         TlsTransportOptions options = {});

// Encrypts what the session wrote and queues the close_notify on the socket now, so both leave
// with this loop turn's write (one segment with the last response) instead of a separate write
// when libevent destroys the freed bufferevent. Call it right before freeing `bev` at the end of
// a connection; nothing may be written after it. A no-op for a non-TLS bufferevent, before the
// handshake completed, after a failure, or if the close_notify already went.
void tls_queue_close_notify(bufferevent* bev);

// The SSL object of a TLS bufferevent, or null if `bev` is not one (e.g. a plain socket).
SSL* tls_ssl(bufferevent* bev);

// The connection's TLS state, or null if `bev` is not a TLS bufferevent.
const TlsState* tls_state(bufferevent* bev);

// True once the handshake completed (false for a non-TLS bufferevent).
bool tls_handshake_done(bufferevent* bev);

// Why the connection failed; empty if it did not or `bev` is not a TLS bufferevent.
std::string tls_failure_reason(bufferevent* bev);

// Closes the connections of `base` that are still flushing after their bufferevents were freed,
// and stops new ones from lingering on it; returns how many it closed. Call it after freeing
// the worker's sessions and before event_base_free(base).
size_t tls_close_lingering(event_base* base);

// How many connections of `base` are still flushing after their bufferevents were freed.
size_t tls_lingering_count(event_base* base);

}  // namespace pharos::tls
