// Test harness for the engine integration tests: real pharos-engine and member processes on
// loopback, driven through raw sockets. Nothing here sleeps to wait for readiness: every wait
// polls a condition until a deadline. Every process started is killed by pid when its owner
// goes away (and by the kernel if the test binary dies first: PR_SET_PDEATHSIG).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/records/record_codec.h"
#include "tests/support/test_ports.h"

namespace pharos::itest {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// ---- small socket helpers ----

// A port nothing listens on right now: bind port 0, read it, close.
using pharos::testing::free_port;
// Whether this machine can bind ::1.
bool has_ipv6_loopback();
// A connected blocking TCP socket, or -1. `source`, when set, is the local address to bind.
int connect_tcp(const std::string& address, uint16_t port, const std::string& source = "");
// Polls `condition` until it holds or `timeout_ms` passes; returns its last value.
bool wait_until(const std::function<bool()>& condition, int timeout_ms);
// Polls a growing counter until it is above zero and has not changed for `quiet_ms`; returns
// that value, or nullopt if it is still zero or still changing after `timeout_ms`.
std::optional<uint64_t> settled_value(const std::function<uint64_t()>& counter, int quiet_ms, int timeout_ms);

// A directory under /tmp removed (with its files) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void write_file(const std::string& path, const std::string& text);
std::string read_file(const std::string& path);

// ---- processes ----

class ChildProcess {
 public:
  // Starts argv[0] with stdout and stderr going to `log_path`. False when fork/exec failed.
  bool spawn(const std::vector<std::string>& argv, const std::string& log_path);
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  bool running();
  void signal(int sig);
  // Exit status once the process ended within `timeout_ms` (-signal when killed by one).
  std::optional<int> wait_exit(int timeout_ms);
  // SIGKILL and reap; no-op once reaped.
  void kill_and_reap();
  std::string log() const { return read_file(log_path_); }
  const std::string& label() const { return label_; }

 private:
  pid_t pid_ = -1;
  bool reaped_ = true;
  int status_ = 0;
  std::string log_path_;
  std::string label_;
};

// Runs a program to completion; returns its exit status and stderr+stdout.
struct RunResult {
  int status = -1;
  std::string output;
};
RunResult run_to_completion(const std::vector<std::string>& argv, const std::string& log_path,
                            int timeout_ms);

// ---- clients ----

// One line of JSON out, one line back, over the engine's unix control socket.
class ControlClient {
 public:
  ~ControlClient();
  bool connect(const std::string& path);
  // The reply, or {"ok":false,"error":"transport"} when the socket failed or timed out.
  json call(const json& request, int timeout_ms = 10000);

 private:
  int fd_ = -1;
  std::string buffer_;
};

struct HttpResponse {
  bool ok = false;            // a whole response was read
  std::string error;          // why not, when !ok
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool chunked = false;
  bool closed_after = false;  // the server closed the connection after this response

  // First value of header `name` (case-insensitive), or "" when absent.
  std::string header(std::string_view name) const;
  size_t header_count(std::string_view name) const;
};

// A blocking HTTP/1.1 client over a raw socket: sends bytes exactly as given (malformed
// requests included) and reads responses framed by Content-Length, chunked or close.
class HttpConnection {
 public:
  HttpConnection(const std::string& address, uint16_t port, const std::string& source = "");
  explicit HttpConnection(uint16_t port) : HttpConnection("127.0.0.1", port) {}
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  // Sends everything before `timeout_ms`; false on error (e.g. the peer reset).
  bool send(std::string_view bytes, int timeout_ms = 10000);
  HttpResponse read_response(int timeout_ms = 10000, bool head_request = false);
  // True when the peer closes (EOF or reset) before `timeout_ms`; `*got` receives any bytes
  // that arrived first.
  bool wait_closed(int timeout_ms, std::string* got = nullptr);
  void shutdown_write();
  void close();

 private:
  // Reads more into buffer_; 1: got bytes, 0: EOF, -1: error/timeout (error_ set).
  int fill(Clock::time_point deadline);
  bool read_line(Clock::time_point deadline, std::string* line);
  bool read_exact(Clock::time_point deadline, size_t n, std::string* out);

  int fd_ = -1;
  std::string buffer_;
  std::string error_;
  bool eof_ = false;
};

// Convenience: one request on a fresh connection with "Connection: close".
HttpResponse http_get(uint16_t port, const std::string& path, const std::string& address = "127.0.0.1",
                      const std::string& source = "");
// A GET request's bytes, HTTP/1.1 with a Host header.
std::string get_request(const std::string& path, bool close = false,
                        const std::string& extra_headers = "");

// ---- in-process members ----

// The loop behind the in-process members: listens on 127.0.0.1 (a port of its own) on a thread
// of its own and, after every read, hands the connection's unconsumed input to `serve`, which
// takes whole requests off its front, answers on `fd` and returns false to close the connection.
// `accepted`, when set, runs first for each new connection. The thread is joined on
// destruction, so declare this after everything its callbacks use.
class LoopbackServer {
 public:
  using Serve = std::function<bool(int fd, std::string& in)>;
  explicit LoopbackServer(Serve serve, std::function<void(int fd)> accepted = {});
  ~LoopbackServer();
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  uint16_t port() const { return port_; }
  uint64_t connections() const { return connections_.load(); }
  uint64_t bytes() const { return bytes_.load(); }

 private:
  void run();
  Serve serve_;
  std::function<void(int fd)> accepted_;
  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::atomic<uint64_t> connections_{0};
  std::atomic<uint64_t> bytes_{0};
  std::thread thread_;
};

// Connections with state of their own over a LoopbackServer (for scripted protocol peers such as
// an h2 member): each accepted connection gets a Peer from `make_peer`, its bytes go to
// Peer::feed and the reply bytes go back.
class PeerServer {
 public:
  class Peer {
   public:
    virtual ~Peer() = default;
    // Bytes to send as soon as the connection is accepted.
    virtual std::string greeting() { return {}; }
    // Client bytes; what to send back goes to *reply. False: close the connection after it.
    virtual bool feed(const char* data, size_t length, std::string* reply) = 0;
  };

  explicit PeerServer(std::function<std::unique_ptr<Peer>()> make_peer);
  uint16_t port() const { return server_.port(); }

 private:
  void accepted(int fd);
  bool serve(int fd, std::string& in);
  std::function<std::unique_ptr<Peer>()> make_peer_;
  std::map<int, std::unique_ptr<Peer>> peers_;  // by fd; only server_'s thread uses it
  LoopbackServer server_;                       // last: its thread uses the members above
};

// Where `what` occurs in `text` at or after `from` (npos when `from` is npos): for checking the
// order of lines in a client's verbose output.
size_t find_after(const std::string& text, const std::string& what, size_t from);

// ---- an in-process member that counts what reaches it ----

// Minimal HTTP/1.1 member: answers every request (body via Content-Length only) with 200 and
// "NAME\n", keeps connections open, and counts accepted connections and requests.
class CountingMember {
 public:
  explicit CountingMember(std::string name);
  uint16_t port() const { return server_.port(); }
  uint64_t connections() const { return server_.connections(); }
  uint64_t requests() const { return requests_.load(); }
  uint64_t bytes() const { return server_.bytes(); }

 private:
  bool serve(int fd, std::string& in);
  std::string reply_;
  std::atomic<uint64_t> requests_{0};
  LoopbackServer server_;
};

// A bound unix datagram socket the test reads transaction records from.
class RecordSink {
 public:
  explicit RecordSink(std::string path);
  ~RecordSink() { close(); }
  bool bound() const { return bound_; }
  void close();
  // Reads datagrams until `count` records arrived or the deadline passed.
  std::vector<records::TransactionRecord> read(size_t count, int timeout_ms, std::string* problem);

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
};

// ---- config builders (engine-config.schema.json documents) ----

json member_json(const std::string& id, uint16_t port, const std::string& address = "127.0.0.1");
json pool_json(const std::string& id, const std::string& algorithm, json members,
               const std::string& protocol = "HTTP");
json listener_json(const std::string& id, uint16_t port, const std::string& pool_id,
                   const std::string& protocol = "HTTP", const std::string& address = "127.0.0.1");
json config_json(uint64_t version, json listeners, json pools, uint32_t workers = 1);

// ---- the fixture ----

struct Member {
  std::string name;
  uint16_t port = 0;
  ChildProcess* process = nullptr;
};

struct EngineOptions {
  std::string records_socket;      // --records-socket, when set
  // Probe every listener with a connection before returning. Off by default: the engine binds
  // its listeners before it opens the control socket, and probes would show in the stats.
  bool wait_for_listeners = false;
};

class EngineHandle {
 public:
  ChildProcess* process = nullptr;
  std::string control_path;
  ControlClient control;

  json call(const json& request) { return control.call(request); }
  json stats() { return control.call({{"command", "get_stats"}}); }
  uint64_t version();
  json apply(const json& config) { return control.call({{"command", "apply_config"}, {"config", config}}); }
  json set_member_status(const std::string& id, const std::string& status) {
    return control.call({{"command", "set_member_status"}, {"member_id", id}, {"status", status}});
  }
  // One counter from get_stats: ("listeners"|"members", id, field); 0 when absent.
  uint64_t stat(const std::string& kind, const std::string& id, const std::string& field);
};

// Two demo members ("m1", "m2", named as their ids) in pool "pool" behind HTTP listener
// "listener".
struct HttpSetup {
  Member m1, m2;
  uint16_t port = 0;
  json config;
  EngineHandle* engine = nullptr;
};

class IntegrationTest : public ::testing::Test {
 protected:
  void TearDown() override;

  // Starts the two members and an engine; `adjust` may edit the config first.
  HttpSetup start_http_setup(const std::string& algorithm = "ROUND_ROBIN",
                             const std::function<void(json&)>& adjust = {});

  // Starts the program `argv_for(port)` names (it may write files the program needs) on a free
  // port of `address`, or on `port` when nonzero, and waits until that port accepts; when the
  // program exits first (the port was taken meanwhile) it tries again. `label` names the log
  // and the failure; `process` is null (with a test failure) when it did not come up.
  Member start_server(const std::string& label,
                      const std::function<std::vector<std::string>(uint16_t port)>& argv_for,
                      const std::string& address = "127.0.0.1", uint16_t port = 0);
  // A pharos-demo-backend on a free port, ready (accepting) when this returns.
  Member start_member(const std::string& name, bool tcp_echo = false,
                      const std::string& address = "127.0.0.1");
  // pharos-engine on `config`, ready (control socket answers, listeners accept) on return;
  // nullptr (with a test failure) when it did not come up.
  EngineHandle* start_engine(const json& config, const EngineOptions& options = {});

  static std::string engine_binary();
  static std::string backend_binary();

  TempDir dir_;
  std::vector<std::unique_ptr<ChildProcess>> processes_;
  std::vector<std::unique_ptr<EngineHandle>> engines_;
  int spawned_ = 0;
};

}  // namespace pharos::itest
