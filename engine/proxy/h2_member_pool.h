// HTTP/2 connections to members, per worker, shared by every session of the worker: many
// exchanges (streams) multiplexed on one connection, up to the member's
// SETTINGS_MAX_CONCURRENT_STREAMS, another connection when those are full. Connections are kept
// per pool and member (a pool's TLS settings are its own). A connection being set up collects
// the transactions that want it, so a burst of requests opens one connection, not one each.
//
// Member stats count these connections (total and active) and their connect failures; the
// sessions count requests, bytes and response classes. A connection with no stream closes
// after the idle time (GOAWAY), as idle HTTP/1.1 member connections do; one the member sends
// GOAWAY on takes no new stream and closes when its last stream ends.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/http/request.h"
#include "engine/net/event_handles.h"
#include "engine/net/write_coalescer.h"
#include "engine/proxy/member_exchange.h"

namespace pharos::tls {
class ClientTlsContext;
}
namespace pharos::stats {
class MemberStats;
}

namespace pharos::proxy {

class H2MemberConnection;

// Where an h2 member connection goes, and how.
struct H2Target {
  std::string key;           // pool, member endpoint, TLS context: what may share a connection
  std::string endpoint_key;  // the member's "address|port" (TLS session reuse)
  sockaddr_storage address{};
  socklen_t address_length = 0;
  std::shared_ptr<const tls::ClientTlsContext> tls;  // null: h2c with prior knowledge
  std::shared_ptr<stats::MemberStats> stats;
  uint32_t connect_timeout_ms = 5000;
};

class H2MemberPool {
 public:
  // One transaction waiting for a connection being set up; hears back by exactly one call.
  class Waiter {
   public:
    virtual ~Waiter() = default;
    // The connection speaks h2 now: open the exchange on it.
    virtual void on_h2_ready(H2MemberConnection& connection) = 0;
    // The connect or the TLS handshake failed (counted in the member's connect_failures).
    virtual void on_h2_failed() = 0;
    // The member chose HTTP/1.1 (or nothing) in ALPN. One waiter gets that connected HTTP/1.1
    // connection (not yet counted in the member stats); the others get null and connect anew.
    virtual void on_h2_declined(net::BufferEventPtr connection) = 0;
  };

  struct Acquired {
    H2MemberConnection* ready = nullptr;  // open the exchange on it now
    bool waiting = false;                 // the Waiter will hear back
    // Neither: no connection could be started (counted as a connect failure).
  };

  // `coalescer` (the worker's) writes the member connections; it outlives the pool's connections.
  H2MemberPool(event_base* base, net::WriteCoalescer& coalescer, uint32_t worker_index,
               uint32_t idle_timeout_ms);
  ~H2MemberPool();
  H2MemberPool(const H2MemberPool&) = delete;
  H2MemberPool& operator=(const H2MemberPool&) = delete;

  // A live connection for `target` with room for one more stream; else `waiter` joins one
  // being set up (starting one when none has room). Never calls the waiter before returning.
  Acquired acquire(const H2Target& target, Waiter& waiter);
  // The waiter no longer waits (its transaction ended).
  void cancel(Waiter& waiter);
  // The member at target key chose HTTP/1.1 in ALPN within the last minute: connect with
  // HTTP/1.1 directly (the pool still offers h2, so a member that turns h2 on is seen later).
  bool declined(const std::string& key) const;
  // The member's SETTINGS_MAX_CONCURRENT_STREAMS as its last connection saw it (else 100): how
  // many transactions may wait for, and start on, a new connection before its SETTINGS arrive.
  uint32_t expected_max_streams(const std::string& key) const;
  size_t connection_count() const;
  // Closes every connection (worker shutdown); open exchanges fail as kLost.
  void clear();

 private:
  friend class H2MemberConnection;
  using Connections = std::list<std::unique_ptr<H2MemberConnection>>;
  // A connection closed: it leaves the pool now and is freed on the next loop turn.
  void remove(H2MemberConnection* connection);
  void decline(const std::string& key);
  static void on_reap(evutil_socket_t, short, void* arg);

  event_base* base_;
  net::WriteCoalescer& coalescer_;
  uint32_t worker_index_;
  uint32_t idle_timeout_ms_;
  std::map<std::string, Connections> connections_;
  std::vector<std::unique_ptr<H2MemberConnection>> dead_;
  std::map<std::string, uint64_t> declined_;  // key -> monotonic ms of the ALPN answer
  std::map<std::string, uint32_t> max_streams_;  // key -> the member's last SETTINGS figure
  net::EventPtr reap_event_;
};

// One h2 connection to a member. Sessions only open exchanges on it.
class H2MemberConnection {
 public:
  ~H2MemberConnection();
  // A new exchange for `head` (end_stream: no body), or null when the connection cannot take
  // one any more. data_timeout_ms: the exchange fails (kTimeout, stream reset) when the member
  // sends nothing for it that long while the session has consumed all it was given.
  std::unique_ptr<MemberExchange> open(MemberExchange::Receiver& receiver, const http::RequestHead& head,
                                       bool end_stream, uint32_t data_timeout_ms);
  bool has_room() const;

 private:
  friend class H2MemberPool;
  class Exchange;
  class Codec;
  friend class Exchange;
  friend class Codec;
  enum class State { kConnecting, kReady, kClosed };

  H2MemberConnection(H2MemberPool& pool, const H2Target& target);
  bool connect();
  void on_connected();
  void start_h2();
  void fail_connect();
  void read_member();
  void settle();
  // Tells the pool the member's SETTINGS_MAX_CONCURRENT_STREAMS once it is known.
  void note_settings();
  void close();
  void detach(int32_t stream_id, bool reset);

  static void on_read(bufferevent* bev, void* arg);
  static void on_write(bufferevent* bev, void* arg);
  static void on_event(bufferevent* bev, short events, void* arg);

  H2MemberPool& pool_;
  H2Target target_;
  State state_ = State::kConnecting;
  net::BufferEventPtr bev_;
  std::unique_ptr<Codec> codec_;
  std::map<int32_t, Exchange*> exchanges_;
  std::list<H2MemberPool::Waiter*> waiters_;
  bool counted_ = false;
  bool timing_idle_ = false;  // the bufferevent read timeout is the idle time
  bool settings_noted_ = false;  // the member's SETTINGS went to the pool's max_streams_
};

}  // namespace pharos::proxy
