// An L4 session: bytes both ways between a client and one member, half-close propagated,
// one transaction record per connection.
#pragma once

#include <memory>

#include "engine/net/event_handles.h"
#include "engine/net/socket_ops.h"
#include "engine/proxy/session_common.h"
#include "engine/proxy/session_persistence.h"
#include "engine/proxy/upstream_connector.h"
#include "engine/proxy/worker_context.h"

namespace pharos::proxy {

class TcpSession final : public Session, private UpstreamConnector::Observer {
 public:
  TcpSession(WorkerContext& worker, net::UniqueFd fd, ClientAddress client,
             std::shared_ptr<WorkerSnapshot> snapshot, const ListenerRuntime* listener);
  ~TcpSession() override;
  void start() override;
  void drain() override {}  // an L4 session has no boundary to stop at; it runs to its end

 private:
  struct Side;
  void on_upstream_connected(net::BufferEventPtr connection, int member_index, bool reused) override;
  // Never for a TCP pool (the config loader keeps h2 to HTTP pools); refused if it were.
  void on_upstream_h2(H2MemberConnection& connection, int member_index, bool reused) override;
  void on_upstream_failed(records::Termination why) override;
  void connect_member();
  void pump(Side& from, Side& to);
  void on_side_event(Side& side, short events);
  void maybe_shutdown_write(Side& to);
  void sniff_server_name(evbuffer* from_client);
  void finish(records::Termination why);

  static void on_read(bufferevent* bev, void* arg);
  static void on_write(bufferevent* bev, void* arg);
  static void on_event(bufferevent* bev, short events, void* arg);
  static void on_inspect_timeout(evutil_socket_t, short, void* arg);

  WorkerContext& worker_;
  std::shared_ptr<WorkerSnapshot> snapshot_;
  const ListenerRuntime* listener_;
  ClientAddress client_;
  UpstreamConnector connector_;
  std::unique_ptr<Side> client_side_;
  std::unique_ptr<Side> member_side_;
  net::EventPtr inspect_timer_;
  int member_index_ = -1;
  Stickiness stickiness_;  // SOURCE_IP session persistence
  bool finished_ = false;
  uint64_t start_us_ = 0;
  uint64_t first_member_byte_us_ = 0;
  uint64_t last_activity_us_ = 0;
  records::TransactionRecord record_;
  // Passthrough HTTPS: the first client bytes, kept until the ClientHello's SNI is read.
  bool sniffing_sni_ = false;
  std::string client_hello_;
};

}  // namespace pharos::proxy
