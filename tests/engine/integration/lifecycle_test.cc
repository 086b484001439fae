// The engine's life around traffic: graceful drain on SIGTERM, and transaction records sent
// to a unix datagram socket (and dropped, without harm, when nobody listens).
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "engine/records/record_codec.h"
#include "tests/engine/integration/harness.h"

namespace pharos::itest {
namespace {

using LifecycleTest = IntegrationTest;

TEST_F(LifecycleTest, SigtermDrainsInFlightRequestsRefusesNewOnesAndExitsZero) {
  HttpSetup s = start_http_setup();
  ASSERT_NE(s.engine, nullptr);
  HttpConnection in_flight(s.port);
  ASSERT_TRUE(in_flight.send(get_request("/delay/1000")));
  ASSERT_TRUE(wait_until(
      [&] {
        return s.engine->stat("members", "m1", "active_connections") +
                   s.engine->stat("members", "m2", "active_connections") ==
               1;
      },
      3000));

  auto signalled = Clock::now();
  s.engine->process->signal(SIGTERM);
  // New connections are refused once the engine has closed its listening sockets.
  bool refused = wait_until(
      [&] {
        int fd = connect_tcp("127.0.0.1", s.port);
        if (fd < 0) return true;
        ::close(fd);
        return false;
      },
      3000);
  EXPECT_TRUE(refused) << "the listener still accepts after SIGTERM";

  HttpResponse r = in_flight.read_response(5000);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body == "m1\n" || r.body == "m2\n") << r.body;
  EXPECT_EQ(r.header("connection"), "close");
  EXPECT_TRUE(r.closed_after);

  auto exit_status = s.engine->process->wait_exit(8000);
  ASSERT_TRUE(exit_status.has_value()) << "the engine did not exit after draining";
  EXPECT_EQ(*exit_status, 0);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - signalled).count();
  EXPECT_GE(took, 800) << "exited before the in-flight request could finish";
  EXPECT_LT(took, 5000);
}

TEST_F(LifecycleTest, ControlDrainWithExitFinishesWorkAndExitsZero) {
  HttpSetup s = start_http_setup();
  ASSERT_NE(s.engine, nullptr);
  HttpConnection in_flight(s.port);
  ASSERT_TRUE(in_flight.send(get_request("/delay/500")));
  ASSERT_TRUE(wait_until(
      [&] {
        return s.engine->stat("members", "m1", "active_connections") +
                   s.engine->stat("members", "m2", "active_connections") ==
               1;
      },
      3000));
  // An idle keep-alive connection is closed by the drain.
  HttpConnection idle(s.port);
  ASSERT_TRUE(idle.send(get_request("/")));
  ASSERT_TRUE(idle.read_response().ok);

  json reply = s.engine->call({{"command", "drain"}, {"exit", true}});
  EXPECT_TRUE(reply.value("ok", false)) << reply.dump();
  EXPECT_TRUE(idle.wait_closed(3000)) << "an idle connection survived the drain";
  int fd = connect_tcp("127.0.0.1", s.port);
  EXPECT_LT(fd, 0) << "the listener still accepts after drain";
  if (fd >= 0) ::close(fd);
  HttpResponse r = in_flight.read_response(5000);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 200);
  auto exit_status = s.engine->process->wait_exit(8000);
  ASSERT_TRUE(exit_status.has_value()) << "the engine did not exit";
  EXPECT_EQ(*exit_status, 0);
}

TEST_F(LifecycleTest, TransactionRecordsDescribeEachRequestAndDropsAreCounted) {
  std::string sink_path = dir_.file("records.sock");
  RecordSink sink(sink_path);
  ASSERT_TRUE(sink.bound());
  Member m1 = start_member("m1"), m2 = start_member("m2");
  uint16_t port = free_port();
  json config = config_json(
      1, json::array({listener_json("listener", port, "pool")}),
      json::array({pool_json("pool", "ROUND_ROBIN",
                             json::array({member_json("m1", m1.port), member_json("m2", m2.port)}))}));
  EngineOptions options;
  options.records_socket = sink_path;
  EngineHandle* engine = start_engine(config, options);
  ASSERT_NE(engine, nullptr);

  struct Sent {
    std::string method, path, body;
    int status;
  };
  std::vector<Sent> sent{{"GET", "/", "", 200},
                         {"GET", "/status/404", "", 404},
                         {"POST", "/echo", "twelve bytes", 200},
                         {"GET", "/delay/50", "", 200},
                         {"HEAD", "/health", "", 200}};
  std::map<std::string, size_t> response_bytes;
  for (const auto& request : sent) {
    HttpConnection c(port);
    std::string bytes = request.method + " " + request.path + " HTTP/1.1\r\nHost: records.test\r\n" +
                        "User-Agent: itest\r\nConnection: close\r\n";
    if (!request.body.empty()) bytes += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
    bytes += "\r\n" + request.body;
    ASSERT_TRUE(c.send(bytes));
    HttpResponse r = c.read_response(5000, request.method == "HEAD");
    ASSERT_TRUE(r.ok) << request.path << ": " << r.error;
    ASSERT_EQ(r.status, request.status) << request.path;
  }

  std::string problem;
  auto got = sink.read(sent.size(), 5000, &problem);
  EXPECT_TRUE(problem.empty()) << problem;
  ASSERT_EQ(got.size(), sent.size()) << "one record per request";
  std::map<std::string, records::TransactionRecord> by_path;
  for (const auto& record : got) by_path[record.path] = record;
  for (const auto& request : sent) {
    SCOPED_TRACE(request.path);
    ASSERT_TRUE(by_path.count(request.path));
    const auto& record = by_path[request.path];
    EXPECT_EQ(record.kind, records::RecordKind::kHttp);
    EXPECT_EQ(record.termination, records::Termination::kNormal);
    EXPECT_EQ(record.listener_id, "listener");
    EXPECT_EQ(record.pool_id, "pool");
    EXPECT_TRUE(record.member_id == "m1" || record.member_id == "m2") << record.member_id;
    EXPECT_EQ(record.status, request.status);
    EXPECT_EQ(record.method, request.method);
    EXPECT_EQ(record.host, "records.test");
    EXPECT_EQ(record.user_agent, "itest");
    EXPECT_EQ(record.client_address, "127.0.0.1");
    EXPECT_NE(record.client_port, 0);
    EXPECT_GT(record.bytes_in, request.body.size());
    EXPECT_GT(record.bytes_out, 0u);
    EXPECT_GT(record.total_us, 0u);
    EXPECT_GE(record.total_us, record.ttfb_us);
    EXPECT_GE(record.total_us, record.transfer_us);
    EXPECT_GT(record.start_unix_us, 1600000000ull * 1000000);
    EXPECT_LT(record.total_us, 5u * 1000 * 1000);
  }
  EXPECT_GE(by_path["/delay/50"].ttfb_us, 40u * 1000);
  EXPECT_GE(by_path["/delay/50"].total_us, 50u * 1000);
  // The bodies count: the POST carried 12 bytes more than its head.
  EXPECT_GE(by_path["/echo"].bytes_in, by_path["/"].bytes_in + 12);
  // The writer counts a datagram just after sending it: the count may trail its arrival.
  EXPECT_TRUE(wait_until([&] { return engine->stats()["records"]["written"].get<uint64_t>() >= sent.size(); },
                         2000))
      << engine->stats().dump();
  EXPECT_EQ(engine->stats()["records"]["dropped"], 0);

  // Nobody listens any more: records are dropped and counted, traffic is unaffected.
  sink.close();
  for (int i = 0; i < 5; ++i) {
    HttpResponse r = http_get(port, "/");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.status, 200);
  }
  bool dropped = wait_until(
      [&] {
        json s = engine->stats();
        return s["records"]["dropped"].get<uint64_t>() > 0;
      },
      3000);
  EXPECT_TRUE(dropped) << engine->stats().dump();
  EXPECT_TRUE(engine->process->running());
}

}  // namespace
}  // namespace pharos::itest
