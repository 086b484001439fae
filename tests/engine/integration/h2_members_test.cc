// HTTP/2 towards members: pools whose alpn_protocols ask for h2, in front of real independent h2
// servers (Debian's nghttpd, and HAProxy 2.6 with `proto h2` in front of a demo member), with
// real clients (curl, nghttp, h2load) over HTTP/1.1 and h2c. Member connections are counted by
// the engine's stats and, for nghttpd, by the member's own log (one "[id=N]" per connection).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/engine/integration/harness.h"
#include "tests/engine/tls/test_pki.h"

namespace pharos::itest {
namespace {

using tls::test::test_pki;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string url(uint16_t port, const std::string& path) { return "http://127.0.0.1:" + std::to_string(port) + path; }

// h2 connections nghttpd served, from its -v log: each session logs as "[id=N]"; those that
// received SETTINGS spoke h2 (the harness's readiness probe connects and closes).
size_t nghttpd_connections(const std::string& log) {
  std::set<std::string> ids;
  size_t at = 0;
  while ((at = log.find("recv SETTINGS frame", at)) != std::string::npos) {
    size_t line = log.rfind('\n', at);
    line = line == std::string::npos ? 0 : line + 1;
    size_t end = log.find(']', line);
    if (log.compare(line, 4, "[id=") == 0 && end != std::string::npos) ids.insert(log.substr(line, end - line));
    ++at;
  }
  return ids.size();
}

std::string pattern(size_t n) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<char>('a' + (i * 7 + i / 1000) % 26);
  return out;
}

class H2MembersTest : public IntegrationTest {
 protected:
  void SetUp() override {
    htdocs_ = dir_.file("htdocs");
    ASSERT_EQ(::mkdir(htdocs_.c_str(), 0755), 0);
    write_file(htdocs_ + "/index.html", "hello from nghttpd\n");
    big_ = pattern(2 << 20);
    write_file(htdocs_ + "/big.bin", big_);
    upload_ = dir_.file("upload.bin");
    write_file(upload_, pattern(1 << 20));
  }

  // nghttpd serving htdocs_, echoing uploads; h2c unless `tls`. Its -v log shows connections.
  Member start_nghttpd(bool tls = false, const std::vector<std::string>& extra = {}) {
    if (tls) {
      write_file(dir_.file("member.key"), test_pki().server_ecdsa.private_key_pem);
      write_file(dir_.file("member.crt"), test_pki().server_ecdsa.certificate_pem);
    }
    return start_server("nghttpd", [&](uint16_t port) {
      std::vector<std::string> argv{"/usr/sbin/nghttpd", "-v", "--echo-upload", "-d", htdocs_, "-a", "127.0.0.1"};
      argv.insert(argv.end(), extra.begin(), extra.end());
      if (!tls) {
        argv.insert(argv.end(), {"--no-tls", std::to_string(port)});
      } else {
        argv.insert(argv.end(), {std::to_string(port), dir_.file("member.key"), dir_.file("member.crt")});
      }
      return argv;
    });
  }

  // HAProxy with an h2c frontend (`proto h2`) in front of `backend_port`; /reset is refused
  // with RST_STREAM. `port` 0 picks a free one; a fixed one is for a successor after a soft stop
  // (the old process stopped listening).
  Member start_haproxy(uint16_t backend_port, uint16_t port = 0) {
    return start_server(
        "haproxy",
        [&](uint16_t listen_port) {
          // Named as the log start_server gives the process it is about to spawn.
          const std::string cfg = dir_.file("haproxy-" + std::to_string(spawned_ + 1) + ".cfg");
          write_file(cfg, "defaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n"
                          "frontend fe\n  bind 127.0.0.1:" + std::to_string(listen_port) + " proto h2\n"
                          "  http-request reject if { path_beg /reset }\n  default_backend be\n"
                          "backend be\n  server s1 127.0.0.1:" + std::to_string(backend_port) + "\n");
          return std::vector<std::string>{"/usr/sbin/haproxy", "-db", "-f", cfg};
        },
        "127.0.0.1", port);
  }

  // Demo member "b1" behind HAProxy: the pool's member "hp".
  Member start_b1_behind_haproxy() {
    backend_ = start_member("b1");
    return start_haproxy(backend_.port);
  }

  // Pool "pool" of the one member `id` on `port`, asking the member for `alpn`; over TLS
  // verified against the test CA when `tls`.
  static json pool_of(const std::string& id, uint16_t port, const std::vector<std::string>& alpn,
                      bool tls = false) {
    json pool = pool_json("pool", "ROUND_ROBIN", json::array({member_json(id, port)}));
    if (tls) {
      pool["tls_enabled"] = true;
      pool["ca_tls_container"] = test_pki().ca.certificate_pem;
    }
    pool["alpn_protocols"] = alpn;
    return pool;
  }

  // The engine with listener "listener" (h2c accepted beside HTTP/1) on port_ and `pool`; with
  // `records`, its transaction records go to sink_.
  EngineHandle* start_front(const json& pool, bool records = false, const json& listener_fields = json::object()) {
    EngineOptions options;
    if (records) {
      options.records_socket = dir_.file("records.sock");
      sink_ = std::make_unique<RecordSink>(options.records_socket);
      if (!sink_->bound()) {
        ADD_FAILURE() << "cannot bind " << options.records_socket;
        return nullptr;
      }
    }
    port_ = free_port();
    json listener = listener_json("listener", port_, pool["id"]);
    listener["h2c"] = true;
    listener["insert_headers"] = {{"X-Forwarded-For", true}};
    for (const auto& [key, value] : listener_fields.items()) listener[key] = value;
    return start_engine(config_json(1, json::array({listener}), json::array({pool})), options);
  }

  // `count` records from sink_; fewer (with a test failure saying why) when they did not come.
  std::vector<records::TransactionRecord> read_records(size_t count) {
    std::string problem;
    auto got = sink_->read(count, 5000, &problem);
    EXPECT_EQ(got.size(), count) << problem;
    return got;
  }

  RunResult curl(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"/usr/bin/curl", "-sS", "--max-time", "20"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_to_completion(argv, dir_.file("curl-" + std::to_string(++runs_) + ".log"), 30000);
  }

  std::string htdocs_;
  std::string big_;
  std::string upload_;
  int runs_ = 0;
  Member backend_;                    // start_b1_behind_haproxy's demo member
  uint16_t port_ = 0;                 // start_front's listener
  std::unique_ptr<RecordSink> sink_;  // start_front's records, when asked for
};

// h2c with prior knowledge (no TLS, h2 first in alpn_protocols): HTTP/1.1 and h2 clients, GET,
// HEAD and POST bodies both ways, all multiplexed on one member connection.
TEST_F(H2MembersTest, H2cMemberServesHttp1AndH2ClientsOnOneConnection) {
  Member nghttpd = start_nghttpd();
  ASSERT_NE(nghttpd.process, nullptr);
  EngineHandle* engine = start_front(pool_of("n1", nghttpd.port, {"h2", "http/1.1"}), true);
  ASSERT_NE(engine, nullptr);

  // HTTP/1.1 keep-alive client: two GETs and a HEAD.
  {
    HttpConnection c(port_);
    ASSERT_TRUE(c.connected());
    for (int i = 0; i < 2; ++i) {
      ASSERT_TRUE(c.send(get_request("/index.html")));
      HttpResponse r = c.read_response();
      ASSERT_TRUE(r.ok) << r.error;
      EXPECT_EQ(r.status, 200);
      EXPECT_EQ(r.body, "hello from nghttpd\n");
      EXPECT_EQ(r.header("content-length"), "19");
      EXPECT_FALSE(r.closed_after);
    }
    ASSERT_TRUE(c.send("HEAD /index.html HTTP/1.1\r\nHost: x\r\n\r\n"));
    HttpResponse head = c.read_response(10000, true);
    ASSERT_TRUE(head.ok) << head.error;
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.body, "");
  }
  // h2 client, a 2 MiB response.
  RunResult big = curl({"--http2-prior-knowledge", "-o", dir_.file("big.out"), "-w", "%{http_version} %{http_code}",
                        url(port_, "/big.bin")});
  ASSERT_EQ(big.status, 0) << big.output;
  EXPECT_EQ(big.output, "2 200");
  EXPECT_TRUE(read_file(dir_.file("big.out")) == big_);
  // POST bodies both ways: 1 MiB up, echoed back; HTTP/1.1 with Content-Length and chunked, h2.
  const std::string upload = read_file(upload_);
  const std::vector<std::vector<std::string>> posts = {
      {"--data-binary", "@" + upload_},
      {"--data-binary", "@" + upload_, "-H", "Transfer-Encoding: chunked"},
      {"--http2-prior-knowledge", "--data-binary", "@" + upload_},
  };
  int n = 0;
  for (const auto& post : posts) {
    std::string out = dir_.file("echo-" + std::to_string(++n));
    std::vector<std::string> args = post;
    args.insert(args.end(), {"-o", out, "-w", "%{http_code}", url(port_, "/echo")});
    RunResult r = curl(args);
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(r.output, "200");
    EXPECT_TRUE(read_file(out) == upload) << "echo " << n << " differs";
  }

  json stats = engine->stats();
  const json& m = stats["members"]["n1"];
  EXPECT_EQ(m["total_connections"], 1) << m.dump();
  EXPECT_EQ(m["responses"]["2xx"], 7) << m.dump();
  EXPECT_EQ(m["connect_failures"], 0) << m.dump();
  EXPECT_GT(m["bytes_in"].get<uint64_t>(), 3u << 20) << m.dump();
  EXPECT_GT(m["bytes_out"].get<uint64_t>(), 5u << 20) << m.dump();
  EXPECT_EQ(stats["listeners"]["listener"]["request_errors"], 0);
  EXPECT_EQ(nghttpd_connections(nghttpd.process->log()), 1u);

  auto records = read_records(7);
  ASSERT_EQ(records.size(), 7u);
  size_t h2_clients = 0;
  for (const auto& record : records) {
    EXPECT_EQ(record.member_id, "n1");
    EXPECT_EQ(record.pool_id, "pool");
    EXPECT_EQ(record.status, 200);
    EXPECT_EQ(record.termination, records::Termination::kNormal);
    if (record.http2) ++h2_clients;
    if (record.path == "/big.bin") {
      EXPECT_GT(record.bytes_out, 2u << 20);
    }
    if (record.path == "/echo") {
      EXPECT_GT(record.bytes_in, 1u << 20);
      EXPECT_GT(record.bytes_out, 1u << 20);
    }
  }
  EXPECT_EQ(h2_clients, 2u);
}

// nghttpd adds a trailer section to every response with a body: an h2 client gets it as a
// trailing HEADERS frame; an HTTP/1.1 client only when its response is chunked (nghttpd sends a
// content-length for files, so here it is not), and a request's trailers reach nghttpd.
TEST_F(H2MembersTest, MemberTrailersCrossToH2Clients) {
  Member nghttpd = start_nghttpd(false, {"--trailer", "x-served-by: nghttpd"});
  ASSERT_NE(nghttpd.process, nullptr);
  EngineHandle* engine = start_front(pool_of("n1", nghttpd.port, {"h2", "http/1.1"}));
  ASSERT_NE(engine, nullptr);
  const uint16_t port = port_;

  RunResult r = run_to_completion({"/usr/bin/nghttp", "-v", url(port, "/index.html")}, dir_.file("nghttp.log"), 20000);
  ASSERT_EQ(r.status, 0) << r.output;
  size_t body = r.output.find("hello from nghttpd");
  size_t trailer = body == std::string::npos ? body : r.output.find("x-served-by: nghttpd", body);
  size_t frame = trailer == std::string::npos ? trailer : r.output.find("recv HEADERS frame", trailer);
  EXPECT_NE(frame, std::string::npos) << r.output;
  EXPECT_NE(r.output.find("flags=0x05", frame == std::string::npos ? 0 : frame), std::string::npos) << r.output;

  HttpResponse h1 = http_get(port, "/index.html");
  ASSERT_TRUE(h1.ok) << h1.error;
  EXPECT_EQ(h1.body, "hello from nghttpd\n");
  EXPECT_EQ(h1.header("content-length"), "19");
  EXPECT_EQ(h1.header("x-served-by"), "");

  // A request trailer from an h2 client reaches nghttpd as a trailing HEADERS frame.
  r = run_to_completion({"/usr/bin/nghttp", "-d", upload_, "--trailer", "x-request-sum: 7", url(port, "/echo")},
                        dir_.file("nghttp-up.log"), 20000);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(wait_until([&] { return contains(nghttpd.process->log(), "x-request-sum: 7"); }, 5000)) << nghttpd.process->log();
  EXPECT_EQ(engine->stats()["listeners"]["listener"]["request_errors"], 0);
}

// A member that allows 10 streams per connection: 100 concurrent h2 streams and 50 concurrent
// HTTP/1.1 clients all succeed on about ten member connections. Streams the member refuses
// before its SETTINGS are known (REFUSED_STREAM) go again on another connection.
TEST_F(H2MembersTest, ManyConcurrentStreamsShareFewMemberConnections) {
  Member nghttpd = start_nghttpd(false, {"-m", "10"});
  ASSERT_NE(nghttpd.process, nullptr);
  EngineHandle* engine = start_front(pool_of("n1", nghttpd.port, {"h2"}));
  ASSERT_NE(engine, nullptr);

  RunResult streams = run_to_completion({"/usr/bin/nghttp", "-n", "--stat", "-m", "100", url(port_, "/index.html")},
                                        dir_.file("nghttp.log"), 30000);
  ASSERT_EQ(streams.status, 0) << streams.output;
  RunResult h1 = run_to_completion({"/usr/bin/h2load", "--h1", "-n", "500", "-c", "50", url(port_, "/index.html")},
                                   dir_.file("h2load.log"), 60000);
  ASSERT_EQ(h1.status, 0) << h1.output;
  EXPECT_TRUE(contains(h1.output, "500 succeeded, 0 failed")) << h1.output;

  json stats = engine->stats();
  const json& m = stats["members"]["n1"];
  EXPECT_EQ(m["responses"]["2xx"], 600) << m.dump();
  EXPECT_EQ(stats["listeners"]["listener"]["request_errors"], 0) << stats.dump();
  const uint64_t connections = m["total_connections"].get<uint64_t>();
  EXPECT_GE(connections, 10u) << m.dump();  // never more than 10 streams on one
  EXPECT_LE(connections, 20u) << m.dump();  // far fewer than the 150 concurrent requests
  EXPECT_EQ(nghttpd_connections(nghttpd.process->log()), connections);
}

// TLS with ALPN: the pool offers h2 and http/1.1, nghttpd (TLS, h2 only) selects h2; the member
// certificate is verified against the pool's CA.
TEST_F(H2MembersTest, TlsAlpnSelectsH2) {
  Member nghttpd = start_nghttpd(true);
  ASSERT_NE(nghttpd.process, nullptr);
  EngineHandle* engine = start_front(pool_of("n1", nghttpd.port, {"h2", "http/1.1"}, true));
  ASSERT_NE(engine, nullptr);
  for (int i = 0; i < 3; ++i) {
    HttpResponse r = http_get(port_, "/index.html");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "hello from nghttpd\n");
  }
  std::string out = dir_.file("echo.out");
  RunResult post = curl({"--http2-prior-knowledge", "--data-binary", "@" + upload_, "-o", out, "-w", "%{http_code}",
                         url(port_, "/echo")});
  ASSERT_EQ(post.status, 0) << post.output;
  EXPECT_EQ(post.output, "200");
  EXPECT_TRUE(read_file(out) == read_file(upload_));
  EXPECT_EQ(engine->stat("members", "n1", "total_connections"), 1u);
  EXPECT_EQ(nghttpd_connections(nghttpd.process->log()), 1u);
  EXPECT_TRUE(contains(nghttpd.process->log(), "recv HEADERS frame")) << nghttpd.process->log();
}

// A member whose ALPN does not offer h2 (an engine terminating TLS with the default
// http/1.1): the pool's member connections fall back to HTTP/1.1, for both client versions.
TEST_F(H2MembersTest, TlsMemberWithoutH2FallsBackToHttp11) {
  Member backend = start_member("m1");
  const uint16_t tls_port = free_port();
  json inner_listener = listener_json("inner", tls_port, "backend", "TERMINATED_HTTPS");
  inner_listener["default_tls_container"] = {{"certificate", test_pki().server_ecdsa.certificate_pem},
                                             {"private_key", test_pki().server_ecdsa.private_key_pem}};
  EngineHandle* inner = start_engine(config_json(
      1, json::array({inner_listener}),
      json::array({pool_json("backend", "ROUND_ROBIN", json::array({member_json("m1", backend.port)}))})));
  ASSERT_NE(inner, nullptr);

  EngineHandle* engine = start_front(pool_of("inner", tls_port, {"h2", "http/1.1"}, true));
  ASSERT_NE(engine, nullptr);
  for (int i = 0; i < 3; ++i) {
    HttpResponse r = http_get(port_, "/");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "m1\n");
  }
  RunResult post = curl({"--http2-prior-knowledge", "--data-binary", "@" + upload_, "-w", "\n%{http_code}",
                         url(port_, "/echo")});
  ASSERT_EQ(post.status, 0) << post.output;
  EXPECT_TRUE(contains(post.output, "body-bytes: 1048576")) << post.output;
  EXPECT_TRUE(contains(post.output, "\n200")) << post.output;
  json stats = engine->stats();
  EXPECT_EQ(stats["members"]["inner"]["responses"]["2xx"], 4) << stats.dump();
  EXPECT_EQ(stats["members"]["inner"]["connect_failures"], 0) << stats.dump();
  // Pooled HTTP/1.1 connections: fewer than requests.
  EXPECT_LE(stats["members"]["inner"]["total_connections"].get<uint64_t>(), 3u) << stats.dump();
  EXPECT_EQ(stats["listeners"]["listener"]["request_errors"], 0) << stats.dump();
}

// The member's soft stop (HAProxy: GOAWAY at its next activity on the connection, then close
// once idle): the stream in flight finishes; the next request goes on a new connection, to the
// successor on the same port. (GOAWAY above the last stream id is covered by the codec's unit
// tests, REFUSED_STREAM retries by ManyConcurrentStreamsShareFewMemberConnections.)
TEST_F(H2MembersTest, MemberSoftStopFinishesTheStreamInFlightAndMovesOn) {
  Member haproxy = start_b1_behind_haproxy();
  ASSERT_NE(haproxy.process, nullptr);
  EngineHandle* engine = start_front(pool_of("hp", haproxy.port, {"h2"}));
  ASSERT_NE(engine, nullptr);

  RunResult slow;
  std::thread in_flight([&] { slow = curl({"-w", " %{http_code}", url(port_, "/delay/1000")}); });
  // The request is on the member connection once the member's counters move.
  EXPECT_TRUE(wait_until([&] { return engine->stat("members", "hp", "bytes_in") > 0; }, 5000));
  haproxy.process->signal(SIGUSR1);  // soft stop: stop listening, finish what is in flight
  start_haproxy(backend_.port, haproxy.port);
  in_flight.join();
  EXPECT_EQ(slow.status, 0) << slow.output;
  EXPECT_EQ(slow.output, "b1\n 200");
  HttpResponse next = http_get(port_, "/");
  ASSERT_TRUE(next.ok) << next.error;
  EXPECT_EQ(next.status, 200);
  EXPECT_EQ(next.body, "b1\n");
  EXPECT_EQ(engine->stat("members", "hp", "total_connections"), 2u);
  EXPECT_EQ(engine->stat("listeners", "listener", "request_errors"), 0u);
  EXPECT_TRUE(haproxy.process->wait_exit(5000).has_value());  // the old one left once its stream was done
}

// A stream the member resets (HAProxy refuses /reset with RST_STREAM, then GOAWAY) is a 502 for
// either client version; the next request goes on a new connection.
TEST_F(H2MembersTest, MemberStreamResetIsA502) {
  Member haproxy = start_b1_behind_haproxy();
  ASSERT_NE(haproxy.process, nullptr);
  EngineHandle* engine = start_front(pool_of("hp", haproxy.port, {"h2"}), true);
  ASSERT_NE(engine, nullptr);

  HttpResponse reset = http_get(port_, "/reset");
  ASSERT_TRUE(reset.ok) << reset.error;
  EXPECT_EQ(reset.status, 502);
  RunResult h2 = curl({"--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code}", url(port_, "/reset")});
  EXPECT_EQ(h2.output, "502");
  HttpResponse fine = http_get(port_, "/");
  ASSERT_TRUE(fine.ok) << fine.error;
  EXPECT_EQ(fine.status, 200);
  EXPECT_EQ(fine.body, "b1\n");
  // HAProxy follows each reset with GOAWAY: every request after one needs a new connection.
  EXPECT_EQ(engine->stat("members", "hp", "total_connections"), 3u);

  auto records = read_records(3);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].termination, records::Termination::kMemberReset);
  EXPECT_EQ(records[0].member_id, "hp");
  EXPECT_EQ(records[1].termination, records::Termination::kMemberReset);
  EXPECT_TRUE(records[1].http2);
  EXPECT_EQ(records[2].termination, records::Termination::kNormal);
}

// A member that goes away after the response head (HAProxy killed mid-body): the HTTP/1.1
// client's connection is cut before the last chunk, and the record says the member reset it.
// (HAProxy ends the h2 stream normally when its own server dies mid-body, so it cannot stand for
// a mid-body RST_STREAM; the session handles both the same way: on_exchange_failed after the head.)
TEST_F(H2MembersTest, MemberLostAfterTheHeadCutsTheClient) {
  Member haproxy = start_b1_behind_haproxy();
  ASSERT_NE(haproxy.process, nullptr);
  EngineHandle* engine = start_front(pool_of("hp", haproxy.port, {"h2"}), true);
  ASSERT_NE(engine, nullptr);

  HttpConnection c(port_);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send(get_request("/chunked/200000000")));
  EXPECT_TRUE(wait_until([&] { return engine->stat("members", "hp", "bytes_out") > (1u << 20); }, 10000));
  haproxy.process->kill_and_reap();
  std::string got;
  ASSERT_TRUE(c.wait_closed(20000, &got));
  EXPECT_EQ(got.rfind("HTTP/1.1 200 ", 0), 0u) << got.substr(0, 200);
  EXPECT_TRUE(contains(got, "Transfer-Encoding: chunked")) << got.substr(0, 300);
  EXPECT_LT(got.size(), 200000000u);
  EXPECT_NE(got.substr(got.size() - 5), "0\r\n\r\n");  // no last chunk: the client sees the cut

  auto records = read_records(1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].status, 200);
  EXPECT_EQ(records[0].termination, records::Termination::kMemberReset);
}

// timeout_member_data applies per exchange: a member stream that sends nothing that long is a
// 504, while other streams on the same member connection go on.
TEST_F(H2MembersTest, SilentMemberStreamTimesOutAlone) {
  Member haproxy = start_b1_behind_haproxy();
  ASSERT_NE(haproxy.process, nullptr);
  EngineHandle* engine = start_front(pool_of("hp", haproxy.port, {"h2"}), false, {{"timeout_member_data", 800}});
  ASSERT_NE(engine, nullptr);

  RunResult slow;
  std::thread silent([&] { slow = curl({"-o", "/dev/null", "-w", "%{http_code}", url(port_, "/delay/4000")}); });
  EXPECT_TRUE(wait_until([&] { return engine->stat("members", "hp", "bytes_in") > 0; }, 5000));
  for (int i = 0; i < 3; ++i) {
    HttpResponse r = http_get(port_, "/delay/100");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.status, 200);
  }
  silent.join();
  EXPECT_EQ(slow.output, "504");
  EXPECT_EQ(engine->stat("members", "hp", "total_connections"), 1u);
  EXPECT_EQ(engine->stat("listeners", "listener", "request_errors"), 1u);  // the 504 alone
}

// A client that does not read: the member's stream window stays shut, so the engine holds a
// bounded part of a large response (flow control end to end), then delivers all of it.
TEST_F(H2MembersTest, SlowClientHoldsBackTheMemberStream) {
  write_file(htdocs_ + "/huge.bin", pattern(48 << 20));
  Member nghttpd = start_nghttpd();
  ASSERT_NE(nghttpd.process, nullptr);
  EngineHandle* engine = start_front(pool_of("n1", nghttpd.port, {"h2"}));
  ASSERT_NE(engine, nullptr);

  HttpConnection c(port_);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send(get_request("/huge.bin")));
  // Nothing read: what left the member settles well below the body (kernel buffers included).
  std::optional<uint64_t> sent = settled_value([&] { return engine->stat("members", "n1", "bytes_out"); }, 300, 10000);
  ASSERT_TRUE(sent.has_value()) << "what the member sent did not settle";
  EXPECT_LT(*sent, 24u << 20) << "the member kept sending to a client that does not read";
  HttpResponse r = c.read_response(30000);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), 48u << 20);
}

}  // namespace
}  // namespace pharos::itest
