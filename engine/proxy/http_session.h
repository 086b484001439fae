// One client connection on an HTTP listener: parses requests strictly, picks a member per
// request, streams bodies both ways without buffering them whole, reuses member connections
// through the worker's UpstreamPool, and emits one transaction record per request. For a pool
// that speaks h2 to members, the request goes as a MemberExchange (a stream on a shared h2
// member connection) in the version-neutral model; HTTP/1 framing stays on the client side.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/http/request.h"
#include "engine/http1/parser.h"
#include "engine/net/event_handles.h"
#include "engine/net/socket_ops.h"
#include "engine/proxy/chunk_payload.h"
#include "engine/proxy/member_exchange.h"
#include "engine/proxy/session_common.h"
#include "engine/proxy/session_persistence.h"
#include "engine/proxy/upstream_connector.h"
#include "engine/proxy/worker_context.h"
#include "engine/tls/client_certificate_info.h"

namespace pharos::proxy {

class HttpSession final : public Session, private UpstreamConnector::Observer, private MemberExchange::Receiver {
 public:
  // `connection` is the client's bufferevent: a socket, or a TLS transport over one.
  HttpSession(WorkerContext& worker, net::BufferEventPtr connection, ClientAddress client,
              std::shared_ptr<WorkerSnapshot> snapshot, const ListenerRuntime* listener);
  ~HttpSession() override;
  void start() override;
  void drain() override;
  void config_changed() override;

 private:
  enum class State { kReadingHead, kConnecting, kExchanging, kClosing, kClosed };

  void on_upstream_connected(net::BufferEventPtr connection, int member_index, bool reused) override;
  void on_upstream_h2(H2MemberConnection& connection, int member_index, bool reused) override;
  void on_upstream_failed(records::Termination why) override;
  // The member the connector chose, for either protocol: remembered, told to stickiness, and
  // put in the record (the retries aside: each protocol counts its own).
  const MemberRuntime& take_member(int member_index, bool reused);

  // MemberExchange::Receiver: an h2 member answers this HTTP/1.x request.
  void on_exchange_interim(http::ResponseHead head) override;
  void on_exchange_response(http::ResponseHead head, bool end_stream) override;
  void on_exchange_data(const uint8_t* data, size_t length) override;
  void on_exchange_trailers(std::vector<http::Header> trailers) override;
  void on_exchange_end() override;
  void on_exchange_failed(ExchangeError error) override;
  void on_exchange_writable() override;
  // The request body towards the exchange (payload only; HTTP/1 framing stays here).
  void forward_request_body_to_exchange();

  void read_request_head();
  // h2c prior knowledge: true when the caller must stop (handed over, or preface incomplete).
  bool hand_over_h2c();
  bool negotiated_h2() const;
  void begin_transaction();
  bool body_prefix_valid(evbuffer* input) const;
  void build_member_request(std::string* out) const;
  // Session persistence: the member this request is kept on, from the client address or the
  // request's cookies (read before the head leaves the input buffer).
  void choose_sticky_member(const PoolRuntime& pool);
  void forward_request_body();
  void read_response();
  bool send_response_head();
  void forward_response_body();
  void finish_transaction();
  void release_member(bool reusable);
  // The engine's own response (an error, an L7 403 or redirect with `location`), then close.
  void respond_local(uint16_t status, records::Termination why, std::string_view location = {});
  // This connection's client certificate, described on first use.
  const tls::ClientCertificateInfo& client_certificate();
  void abort_transaction(records::Termination why);
  void close_when_flushed();
  void close();
  void refresh_snapshot();
  void bound_client_input();
  // Stops reading the client (a member or exchange that cannot take more, a full input).
  void pause_client_reading();
  // Reads the client again if it was paused; false if it was not.
  bool resume_client_reading();
  void restart_client_timeout(uint64_t transaction_us);  // before the next keep-alive request
  http1::Limits parser_limits() const;

  static void on_client_read(bufferevent* bev, void* arg);
  static void on_client_write(bufferevent* bev, void* arg);
  static void on_client_event(bufferevent* bev, short events, void* arg);
  static void on_member_read(bufferevent* bev, void* arg);
  static void on_member_write(bufferevent* bev, void* arg);
  static void on_member_event(bufferevent* bev, short events, void* arg);

  WorkerContext& worker_;
  std::shared_ptr<WorkerSnapshot> snapshot_;
  const ListenerRuntime* listener_;
  ClientAddress peer_;
  UpstreamConnector connector_;
  net::BufferEventPtr client_;
  net::BufferEventPtr member_;
  // h2 members: the exchange of the current transaction, the request as the version-neutral
  // model (built while the head is still in the input buffer), and the response framing.
  std::unique_ptr<MemberExchange> exchange_;
  http::RequestHead neutral_request_;
  ChunkPayload request_chunks_;
  std::string scratch_;
  bool response_chunked_ = false;  // the client gets the h2 body chunked
  std::vector<http::Header> response_trailers_;  // for the last chunk, when the body is chunked
  bool body_sent_to_exchange_ = false;
  size_t unconsumed_ = 0;  // h2 response body bytes not yet passed on to the client
  int exchange_retries_ = 0;
  State state_ = State::kReadingHead;
  bool draining_ = false;
  bool client_eof_ = false;

  // The transaction in progress.
  http1::RequestHead request_;
  http1::ResponseHead response_;
  http1::BodyDecoder request_body_;
  http1::BodyDecoder response_body_;
  std::string member_request_head_;
  int pool_index_ = -1;
  int member_index_ = -1;
  Stickiness stickiness_;  // session persistence of the current transaction
  bool member_reused_ = false;
  bool request_done_ = false;
  bool response_head_done_ = false;
  bool response_done_ = false;
  bool is_head_request_ = false;
  bool client_keep_alive_ = false;
  bool member_keep_alive_ = false;
  bool retried_stale_ = false;
  bool interim_seen_ = false;  // a 1xx came before the final response
  uint64_t transaction_seq_ = 0;  // tells a callback whether its transaction is still current
  bool client_reading_paused_ = false;
  bool member_reading_paused_ = false;
  uint64_t start_us_ = 0;
  uint64_t request_sent_us_ = 0;
  uint64_t first_response_byte_us_ = 0;
  uint32_t client_rtt_us_ = 0;
  records::TransactionRecord record_;
  // X-SSL-* headers for the client certificate of this connection, computed once.
  std::vector<std::pair<std::string, std::string>> tls_headers_;
  bool tls_headers_ready_ = false;
  std::optional<tls::ClientCertificateInfo> certificate_;  // for L7 rules, on first use
};

}  // namespace pharos::proxy
