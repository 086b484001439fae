// One client HTTP/2 connection (h2c with prior knowledge, or ALPN h2 over a TLS transport: the
// bufferevent may be either). Each stream is one transaction: routed like HttpSession (the
// listener's default pool, the pool's balancer), sent to a member as HTTP/1.1 on a connection
// from the worker's UpstreamPool (one request in flight per member connection, many member
// connections per client connection), or, for a pool that speaks h2 to members, as a
// MemberExchange on a shared h2 member connection (H2MemberPool); streamed both ways with
// backpressure (h2 flow control towards the client, read watermarks or h2 windows towards
// members), one transaction record per stream.
//
// Interim responses and trailers cross the h1/h2 boundary (RFC 9113 8.1, RFC 9110 15.2, 6.5):
// - A member's 1xx (100 Continue, 103 Early Hints; 101 is refused with a 502) goes to the client
//   as a non-final HEADERS frame. "Expect: 100-continue" is forwarded, not answered here (as
//   HAProxy does; Envoy answers itself by default): the member keeps its chance to refuse a
//   body before the client sends it, and HttpSession behaves the same way.
// - A client's trailer section goes to the member as the trailer section of a chunked body.
//   The body is chunked when the client announced no content-length; with one, it is sent as
//   given and the trailers are dropped (HTTP/1.1 has no trailers without chunked).
// - A chunked member response's trailer section goes to the client as a trailing HEADERS frame.
// Fields a trailer must not carry (forbidden_in_trailers) are dropped both ways.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/http2/server_connection.h"
#include "engine/net/event_handles.h"
#include "engine/net/write_coalescer.h"
#include "engine/proxy/session_common.h"
#include "engine/proxy/worker_context.h"
#include "engine/tls/client_certificate_info.h"

namespace pharos::proxy {

class H2Session final : public Session,
                        private http2::ServerConnection::Handler,
                        private net::WriteCoalescer::Producer {
 public:
  // `connection` may already hold client bytes (the preface, after an HttpSession saw it).
  // connection_counted: the listener's connection counters already count this connection
  // (it was handed over by another session), so start() must not count it again.
  H2Session(WorkerContext& worker, net::BufferEventPtr connection, ClientAddress client,
            std::shared_ptr<WorkerSnapshot> snapshot, const ListenerRuntime* listener,
            bool connection_counted = false);
  ~H2Session() override;
  void start() override;
  // GOAWAY with the last stream seen; streams in flight finish, then the connection closes.
  void drain() override;
  void config_changed() override;

 private:
  class Stream;
  friend class Stream;

  // http2::ServerConnection::Handler
  void on_request(int32_t stream_id, http::RequestHead head, bool end_stream) override;
  void on_request_rejected(int32_t stream_id, uint16_t status, const char* why) override;
  void on_request_data(int32_t stream_id, const uint8_t* data, size_t length) override;
  void on_request_end(int32_t stream_id) override;
  void on_request_trailers(int32_t stream_id, std::vector<http::Header> trailers) override;
  void on_request_error(int32_t stream_id, uint16_t status, const char* why) override;
  void on_stream_close(int32_t stream_id, uint32_t error_code) override;
  void on_response_writable(int32_t stream_id) override;
  void write_output(const uint8_t* data, size_t length) override;
  bool output_blocked() const override;

  // net::WriteCoalescer::Producer: the codec's frames of this turn, serialized together.
  void produce() override;

  Stream* find(int32_t stream_id);
  void read_client();
  // After any work: close when the codec is done, else keep the timers right.
  void settle();
  void close_when_flushed();
  void close();
  void refresh_snapshot();
  records::TransactionRecord new_record() const;
  // This connection's client certificate, described on first use (for L7 rules).
  const tls::ClientCertificateInfo& client_certificate();

  static void on_client_read(bufferevent* bev, void* arg);
  static void on_client_write(bufferevent* bev, void* arg);
  static void on_client_event(bufferevent* bev, short events, void* arg);
  static void on_idle_timer(evutil_socket_t, short, void* arg);
  static void on_header_timer(evutil_socket_t, short, void* arg);
  static void on_reap(evutil_socket_t, short, void* arg);

  WorkerContext& worker_;
  std::shared_ptr<WorkerSnapshot> snapshot_;
  const ListenerRuntime* listener_;
  ClientAddress peer_;
  net::BufferEventPtr client_;
  std::unique_ptr<http2::ServerConnection> codec_;
  std::map<int32_t, std::unique_ptr<Stream>> streams_;
  // Streams that ended inside one of their own callbacks; destroyed on the next loop turn.
  std::vector<std::unique_ptr<Stream>> ended_;
  net::EventPtr idle_timer_;
  net::EventPtr header_timer_;
  net::EventPtr reap_event_;
  bool idle_armed_ = false;
  bool counted_;
  bool closing_ = false;
  bool closed_ = false;
  bool flush_asked_ = false;  // produce() will run at the end of this turn
  uint32_t client_rtt_us_ = 0;
  // X-SSL-* headers for the client's TLS connection (none over h2c); fixed per connection.
  std::vector<std::pair<std::string, std::string>> tls_headers_;
  std::optional<tls::ClientCertificateInfo> certificate_;
};

}  // namespace pharos::proxy
