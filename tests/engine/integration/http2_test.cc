// HTTP/2 end to end: h2c with prior knowledge on an HTTP listener, real clients (curl, nghttp,
// h2load) and raw frames for abuse (rapid reset) and drain, in front of demo members that speak
// HTTP/1.1.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <cstdio>
#include <string>
#include <vector>

#include "tests/engine/integration/harness.h"

namespace pharos::itest {
namespace {

using Http2Test = IntegrationTest;

// ---- raw HTTP/2 frames ----

constexpr uint8_t kData = 0x0, kHeaders = 0x1, kRstStream = 0x3, kSettings = 0x4, kGoaway = 0x7, kWindowUpdate = 0x8;
constexpr uint8_t kEndStream = 0x1, kEndHeaders = 0x4;

std::string frame(uint8_t type, uint8_t flags, uint32_t stream, const std::string& payload) {
  std::string out;
  size_t n = payload.size();
  out.push_back(static_cast<char>((n >> 16) & 0xff));
  out.push_back(static_cast<char>((n >> 8) & 0xff));
  out.push_back(static_cast<char>(n & 0xff));
  out.push_back(static_cast<char>(type));
  out.push_back(static_cast<char>(flags));
  for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<char>((stream >> shift) & 0xff));
  return out + payload;
}

std::string client_preface() {
  return std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + frame(kSettings, 0, 0, "");
}

// A GET header block in HPACK without the dynamic table: :method GET and :scheme http from the
// static table, :authority and :path as literals with an indexed name.
std::string get_block(const std::string& path, const std::string& authority = "localhost") {
  std::string block = "\x82\x86";
  block.push_back('\x01');  // literal without indexing, name = static entry 1 (:authority)
  block.push_back(static_cast<char>(authority.size()));
  block += authority;
  block.push_back('\x04');  // name = static entry 4 (:path)
  block.push_back(static_cast<char>(path.size()));
  block += path;
  return block;
}

std::string u32(uint32_t v) {
  std::string out;
  for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<char>((v >> shift) & 0xff));
  return out;
}

struct Frame {
  uint8_t type = 0;
  uint8_t flags = 0;
  uint32_t stream = 0;
  std::string payload;
  uint32_t goaway_error() const {
    if (payload.size() < 8) return 0xffffffff;
    auto b = [&](size_t i) { return uint32_t(static_cast<uint8_t>(payload[i])); };
    return (b(4) << 24) | (b(5) << 16) | (b(6) << 8) | b(7);
  }
};

// A blocking raw HTTP/2 connection: writes bytes as given, reads whole frames.
class RawH2 {
 public:
  explicit RawH2(uint16_t port) : fd_(connect_tcp("127.0.0.1", port)) {}
  ~RawH2() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return fd_ >= 0; }
  bool send(const std::string& bytes) {
    size_t at = 0;
    while (at < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
      if (n <= 0) return false;
      at += static_cast<size_t>(n);
    }
    return true;
  }
  // The next frame, or nothing on EOF/error/timeout (eof() tells which).
  std::optional<Frame> read_frame(int timeout_ms) {
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (true) {
      if (buffer_.size() >= 9) {
        auto b = [&](size_t i) { return static_cast<uint8_t>(buffer_[i]); };
        size_t length = (size_t(b(0)) << 16) | (size_t(b(1)) << 8) | b(2);
        if (buffer_.size() >= 9 + length) {
          Frame f;
          f.type = b(3);
          f.flags = b(4);
          f.stream = ((uint32_t(b(5)) & 0x7f) << 24) | (uint32_t(b(6)) << 16) | (uint32_t(b(7)) << 8) | b(8);
          f.payload = buffer_.substr(9, length);
          buffer_.erase(0, 9 + length);
          return f;
        }
      }
      int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
      if (left <= 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, left) <= 0) continue;
      char chunk[16384];
      ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n <= 0) {
        eof_ = true;
        return std::nullopt;
      }
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }
  bool eof() const { return eof_; }

 private:
  int fd_;
  std::string buffer_;
  bool eof_ = false;
};

// ---- the setup ----

json h2c_config_adjust_limits(json& config, const json& http2 = json::object()) {
  config["listeners"][0]["h2c"] = true;
  config["listeners"][0]["insert_headers"] = {{"X-Forwarded-For", true}, {"X-Forwarded-Proto", true}};
  if (!http2.empty()) config["http2"] = http2;
  return config;
}

std::string url(uint16_t port, const std::string& path) {
  return "http://127.0.0.1:" + std::to_string(port) + path;
}

TEST_F(Http2Test, CurlPriorKnowledgeGetAndLargePostEcho) {
  HttpSetup s = start_http_setup("ROUND_ROBIN", [](json& c) { h2c_config_adjust_limits(c); });
  ASSERT_NE(s.engine, nullptr);

  RunResult get = run_to_completion({"/usr/bin/curl", "-sS", "--http2-prior-knowledge", "-w", "\n%{http_version} %{http_code}",
                                     url(s.port, "/")},
                                    dir_.file("curl-get.log"), 20000);
  ASSERT_EQ(get.status, 0) << get.output;
  EXPECT_TRUE(get.output.find("2 200") != std::string::npos) << get.output;
  EXPECT_TRUE(get.output.rfind("m1\n", 0) == 0 || get.output.rfind("m2\n", 0) == 0) << get.output;

  std::string body_path = dir_.file("upload.bin");
  write_file(body_path, std::string(1 << 20, 'p'));
  RunResult post = run_to_completion({"/usr/bin/curl", "-sS", "--http2-prior-knowledge", "--data-binary", "@" + body_path,
                                      "-H", "Content-Type: application/octet-stream", url(s.port, "/echo")},
                                     dir_.file("curl-post.log"), 20000);
  ASSERT_EQ(post.status, 0) << post.output;
  EXPECT_NE(post.output.find("body-bytes: 1048576"), std::string::npos) << post.output;
  EXPECT_NE(post.output.find("Host: 127.0.0.1:" + std::to_string(s.port)), std::string::npos) << post.output;
  EXPECT_NE(post.output.find("X-Forwarded-For: 127.0.0.1"), std::string::npos) << post.output;
  EXPECT_NE(post.output.find("X-Forwarded-Proto: http"), std::string::npos) << post.output;

  // A chunked upload (no content-length over h2) reaches the member as chunked HTTP/1.1.
  RunResult chunked = run_to_completion({"/usr/bin/curl", "-sS", "--http2-prior-knowledge", "-T", body_path,
                                         "-H", "Content-Length:", "-X", "POST", url(s.port, "/echo")},
                                        dir_.file("curl-chunked.log"), 20000);
  ASSERT_EQ(chunked.status, 0) << chunked.output;
  EXPECT_NE(chunked.output.find("body-bytes: 1048576"), std::string::npos) << chunked.output;

  // A large chunked response from the member is re-framed as h2 DATA.
  RunResult big = run_to_completion({"/usr/bin/curl", "-sS", "--http2-prior-knowledge", "-o", dir_.file("big.out"),
                                     "-w", "%{size_download}", url(s.port, "/chunked/3000000")},
                                    dir_.file("curl-big.log"), 20000);
  ASSERT_EQ(big.status, 0) << big.output;
  EXPECT_EQ(big.output, "3000000");

  json stats = s.engine->stats();
  const json& l = stats["listeners"]["listener"];
  EXPECT_EQ(l["request_errors"], 0) << l.dump();
  EXPECT_GT(l["bytes_in"].get<uint64_t>(), 2u << 20) << l.dump();
  uint64_t ok = stats["members"]["m1"]["responses"]["2xx"].get<uint64_t>() +
                stats["members"]["m2"]["responses"]["2xx"].get<uint64_t>();
  EXPECT_EQ(ok, 4u) << stats.dump();
}

TEST_F(Http2Test, WithoutH2cThePrefaceIsABadRequest) {
  HttpSetup s = start_http_setup();
  ASSERT_NE(s.engine, nullptr);
  HttpConnection c(s.port);
  ASSERT_TRUE(c.send(client_preface()));
  HttpResponse r = c.read_response();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 400);
}

TEST_F(Http2Test, NghttpManyConcurrentStreams) {
  HttpSetup s = start_http_setup("ROUND_ROBIN", [](json& c) { h2c_config_adjust_limits(c); });
  ASSERT_NE(s.engine, nullptr);
  std::vector<std::string> argv{"/usr/bin/nghttp", "-n", "--stat", "-m", "100", url(s.port, "/delay/50")};
  RunResult r = run_to_completion(argv, dir_.file("nghttp.log"), 30000);
  ASSERT_EQ(r.status, 0) << r.output;
  json stats = s.engine->stats();
  uint64_t ok = stats["members"]["m1"]["responses"]["2xx"].get<uint64_t>() +
                stats["members"]["m2"]["responses"]["2xx"].get<uint64_t>();
  EXPECT_EQ(ok, 100u) << stats.dump();
  // One client connection; the 100 concurrent streams needed many member connections.
  EXPECT_EQ(stats["listeners"]["listener"]["total_connections"], 1);
  uint64_t member_connections = stats["members"]["m1"]["total_connections"].get<uint64_t>() +
                                stats["members"]["m2"]["total_connections"].get<uint64_t>();
  EXPECT_GT(member_connections, 10u) << stats.dump();
}

TEST_F(Http2Test, H2loadAllSucceedOnBothMembers) {
  HttpSetup s = start_http_setup("ROUND_ROBIN", [](json& c) { h2c_config_adjust_limits(c); });
  ASSERT_NE(s.engine, nullptr);
  RunResult r = run_to_completion({"/usr/bin/h2load", "-n", "2000", "-c", "4", "-m", "20", url(s.port, "/")},
                                  dir_.file("h2load.log"), 60000);
  ASSERT_EQ(r.status, 0) << r.output;
  // "requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, ..."
  unsigned total = 0, started = 0, done = 0, succeeded = 0, failed = 0;
  size_t at = r.output.find("requests: ");
  ASSERT_NE(at, std::string::npos) << r.output;
  ASSERT_EQ(std::sscanf(r.output.c_str() + at, "requests: %u total, %u started, %u done, %u succeeded, %u failed",
                        &total, &started, &done, &succeeded, &failed), 5)
      << r.output;
  EXPECT_EQ(succeeded, 2000u) << r.output;
  EXPECT_EQ(failed, 0u) << r.output;
  size_t finished = r.output.find("finished in ");
  if (finished != std::string::npos) {
    std::fprintf(stderr, "h2load: %s\n", r.output.substr(finished, r.output.find('\n', finished) - finished).c_str());
  }
  json stats = s.engine->stats();
  uint64_t m1 = stats["members"]["m1"]["responses"]["2xx"].get<uint64_t>();
  uint64_t m2 = stats["members"]["m2"]["responses"]["2xx"].get<uint64_t>();
  EXPECT_EQ(m1 + m2, 2000u);
  EXPECT_GT(m1, 0u);
  EXPECT_GT(m2, 0u);
  EXPECT_EQ(stats["listeners"]["listener"]["request_errors"], 0);
}

TEST_F(Http2Test, RapidResetClientGetsGoawayWhileAnotherIsServed) {
  HttpSetup s = start_http_setup("ROUND_ROBIN", [](json& c) {
    h2c_config_adjust_limits(c, {{"max_resets_per_second", 10}});  // a burst of 100
  });
  ASSERT_NE(s.engine, nullptr);
  RawH2 attacker(s.port);
  ASSERT_TRUE(attacker.connected());
  std::string burst = client_preface();
  uint32_t stream = 1;
  for (int i = 0; i < 400; ++i, stream += 2) {
    burst += frame(kHeaders, kEndHeaders | kEndStream, stream, get_block("/delay/200"));
    burst += frame(kRstStream, 0, stream, u32(0x8));  // CANCEL
  }
  attacker.send(burst);  // may fail part way once the engine has closed: that is the point
  std::optional<Frame> goaway;
  while (auto f = attacker.read_frame(10000)) {
    if (f->type == kGoaway) {
      goaway = f;
      break;
    }
  }
  ASSERT_TRUE(goaway.has_value()) << "no GOAWAY before " << (attacker.eof() ? "EOF" : "timeout");
  EXPECT_EQ(goaway->goaway_error(), 0xbu);  // ENHANCE_YOUR_CALM
  EXPECT_TRUE(attacker.read_frame(5000) == std::nullopt);
  EXPECT_TRUE(attacker.eof()) << "the engine should close the connection after the GOAWAY";

  // A well-behaved client on another connection is served meanwhile and afterwards.
  RunResult r = run_to_completion({"/usr/bin/curl", "-sS", "--http2-prior-knowledge", "-w", " %{http_code}", url(s.port, "/")},
                                  dir_.file("curl.log"), 20000);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find(" 200"), std::string::npos) << r.output;
}

TEST_F(Http2Test, DrainSendsGoawayAndFinishesTheStreamInFlight) {
  HttpSetup s = start_http_setup("ROUND_ROBIN", [](json& c) { h2c_config_adjust_limits(c); });
  ASSERT_NE(s.engine, nullptr);
  RawH2 client(s.port);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send(client_preface() + frame(kHeaders, kEndHeaders | kEndStream, 1, get_block("/delay/1000"))));
  // The request has reached a member once the member connection is counted.
  ASSERT_TRUE(wait_until([&] {
    json st = s.engine->stats();
    return st["members"]["m1"]["active_connections"].get<uint64_t>() +
               st["members"]["m2"]["active_connections"].get<uint64_t>() == 1;
  }, 5000));
  json reply = s.engine->call({{"command", "drain"}});
  ASSERT_TRUE(reply.value("ok", false)) << reply.dump();
  bool saw_goaway = false, saw_headers = false, saw_end = false;
  uint32_t last_stream = 0;
  std::string body;
  while (auto f = client.read_frame(10000)) {
    if (f->type == kGoaway) {
      saw_goaway = true;
      EXPECT_EQ(f->goaway_error(), 0u);
      auto b = [&](size_t i) { return uint32_t(static_cast<uint8_t>(f->payload[i])); };
      last_stream = ((b(0) & 0x7f) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
      EXPECT_FALSE(saw_headers) << "GOAWAY should come before the slow response";
    } else if (f->type == kHeaders && f->stream == 1) {
      saw_headers = true;
    } else if (f->type == kData && f->stream == 1) {
      body += f->payload;
      if (f->flags & kEndStream) saw_end = true;
    }
  }
  EXPECT_TRUE(saw_goaway);
  EXPECT_EQ(last_stream, 1u);
  EXPECT_TRUE(saw_headers);
  EXPECT_TRUE(saw_end);
  EXPECT_TRUE(body == "m1\n" || body == "m2\n") << body;
  EXPECT_TRUE(client.eof()) << "the connection should close once the stream is done";
}

TEST_F(Http2Test, RemovingTheListenerSendsGoawayAtOnce) {
  HttpSetup s = start_http_setup("ROUND_ROBIN", [](json& c) { h2c_config_adjust_limits(c); });
  ASSERT_NE(s.engine, nullptr);
  RawH2 client(s.port);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send(client_preface() + frame(kHeaders, kEndHeaders | kEndStream, 1, get_block("/"))));
  bool answered = false;
  while (auto f = client.read_frame(5000)) {
    if (f->type == kData && f->stream == 1 && (f->flags & kEndStream)) {
      answered = true;
      break;
    }
  }
  ASSERT_TRUE(answered);
  // The client stays silent; the config that drops its listener is enough for a GOAWAY.
  json config = s.config;
  config["version"] = 2;
  config["listeners"] = json::array();
  ASSERT_TRUE(s.engine->apply(config).value("ok", false));
  bool saw_goaway = false;
  while (auto f = client.read_frame(3000)) {
    if (f->type == kGoaway) {
      saw_goaway = true;
      EXPECT_EQ(f->goaway_error(), 0u);
    }
  }
  EXPECT_TRUE(saw_goaway);
  EXPECT_TRUE(client.eof()) << "an idle connection closes after its GOAWAY";
}

TEST_F(Http2Test, OneTransactionRecordPerStream) {
  std::string sink_path = dir_.file("records.sock");
  RecordSink sink(sink_path);
  ASSERT_TRUE(sink.bound());
  Member m1 = start_member("m1");
  uint16_t port = free_port();
  json config = config_json(1, json::array({listener_json("listener", port, "pool")}),
                            json::array({pool_json("pool", "ROUND_ROBIN", json::array({member_json("m1", m1.port)}))}));
  h2c_config_adjust_limits(config);
  EngineOptions options;
  options.records_socket = sink_path;
  EngineHandle* engine = start_engine(config, options);
  ASSERT_NE(engine, nullptr);
  // Three requests on one h2 connection. (Not curl: 7.88 fails to reuse a prior-knowledge
  // connection, curl/curl#10634.)
  RunResult r = run_to_completion({"/usr/bin/nghttp", "-n", "-H", "user-agent: itest", url(port, "/"),
                                   url(port, "/status/404"), url(port, "/delay/50")},
                                  dir_.file("nghttp.log"), 20000);
  ASSERT_EQ(r.status, 0) << r.output;
  std::string problem;
  auto got = sink.read(3, 5000, &problem);
  EXPECT_TRUE(problem.empty()) << problem;
  ASSERT_EQ(got.size(), 3u);
  std::map<std::string, records::TransactionRecord> by_path;
  for (const auto& record : got) by_path[record.path] = record;
  std::map<std::string, int> expected{{"/", 200}, {"/status/404", 404}, {"/delay/50", 200}};
  for (const auto& [path, status] : expected) {
    SCOPED_TRACE(path);
    ASSERT_TRUE(by_path.count(path));
    const auto& record = by_path[path];
    EXPECT_EQ(record.termination, records::Termination::kNormal);
    EXPECT_EQ(record.status, status);
    EXPECT_EQ(record.method, "GET");
    EXPECT_EQ(record.host, "127.0.0.1:" + std::to_string(port));
    EXPECT_EQ(record.user_agent, "itest");
    EXPECT_EQ(record.member_id, "m1");
    EXPECT_EQ(record.pool_id, "pool");
    EXPECT_GT(record.bytes_in, 0u);
    EXPECT_GT(record.total_us, 0u);
  }
  EXPECT_GE(by_path["/delay/50"].ttfb_us, 40u * 1000);
  EXPECT_EQ(engine->stats()["listeners"]["listener"]["total_connections"], 1);
}

// A client that opens no window: the engine can send it 64 KiB of the body and stops reading
// the member soon after, so what it reads of the member settles far below the body (kernel
// buffers included). Once the client opens its windows, the whole body arrives.
TEST_F(Http2Test, ClientWithAShutWindowHoldsBackTheMember) {
  HttpSetup s = start_http_setup("ROUND_ROBIN", [](json& c) { h2c_config_adjust_limits(c); });
  ASSERT_NE(s.engine, nullptr);
  constexpr uint64_t kBody = 48u << 20;
  RawH2 client(s.port);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send(client_preface() +
                          frame(kHeaders, kEndHeaders | kEndStream, 1, get_block("/bytes/" + std::to_string(kBody)))));
  auto read_from_members = [&] { return s.engine->stat("members", "m1", "bytes_out") + s.engine->stat("members", "m2", "bytes_out"); };
  std::optional<uint64_t> read = settled_value(read_from_members, 300, 10000);
  ASSERT_TRUE(read.has_value()) << "what the engine read of the members did not settle";
  EXPECT_LT(*read, 24u << 20) << "the engine kept reading the member for a client with a shut window";

  // SETTINGS_INITIAL_WINDOW_SIZE (0x4) at its maximum for the stream, and as much for the
  // connection.
  ASSERT_TRUE(client.send(frame(kSettings, 0, 0, std::string("\x00\x04", 2) + u32(0x7fffffff)) +
                          frame(kWindowUpdate, 0, 0, u32(0x7fffffff - 65535))));
  uint64_t received = 0;
  bool ended = false;
  while (!ended) {
    std::optional<Frame> f = client.read_frame(15000);
    ASSERT_TRUE(f.has_value()) << "after " << received << " bytes: " << (client.eof() ? "EOF" : "timeout");
    if (f->type == kData && f->stream == 1) {
      received += f->payload.size();
      ended = (f->flags & kEndStream) != 0;
    }
    ASSERT_NE(f->type, kRstStream);
    ASSERT_NE(f->type, kGoaway);
  }
  EXPECT_EQ(received, kBody);
}

TEST_F(Http2Test, NoMemberGives503OverH2) {
  HttpSetup s = start_http_setup("ROUND_ROBIN", [](json& c) {
    h2c_config_adjust_limits(c);
    c["pools"][0]["members"] = json::array();
  });
  ASSERT_NE(s.engine, nullptr);
  RunResult r = run_to_completion({"/usr/bin/curl", "-sS", "--http2-prior-knowledge", "-w", " %{http_code}", url(s.port, "/")},
                                  dir_.file("curl.log"), 20000);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find(" 503"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace pharos::itest
