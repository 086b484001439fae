// The agent with the real pharos-engine: kill -9 of the engine under load brings it back
// with the accepted config re-applied and traffic flowing again.
#include <atomic>
#include <filesystem>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent_fixture.h"
#include "amphora_agent/agent/engine/supervisor.h"

namespace pharos::agent::testing {
namespace {

using nlohmann::json;

// A minimal HTTP/1.1 member: answers every request with 200 "ok" and closes.
class Backend {
 public:
  Backend() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 64);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      for (;;) {
        const int conn = ::accept(fd_, nullptr, nullptr);
        if (conn < 0 || stop_) {
          if (conn >= 0) ::close(conn);
          return;
        }
        char buf[4096];
        std::string got;
        while (got.find("\r\n\r\n") == std::string::npos) {
          const ssize_t n = ::read(conn, buf, sizeof(buf));
          if (n <= 0) break;
          got.append(buf, static_cast<size_t>(n));
        }
        static const std::string reply =
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
        (void)::write(conn, reply.data(), reply.size());
        ::close(conn);
      }
    });
  }
  ~Backend() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class EngineIntegrationTest : public AgentFixture {};

TEST_F(EngineIntegrationTest, KillNineUnderLoadComesBackWithItsConfig) {
  Backend backend;
  prepare();
  start_agent();
  ASSERT_TRUE(eventually([&] { return status().is_object() && status()["engine"]["up"] == true; },
                         std::chrono::seconds(15)));
  const uint16_t listener_port = free_tcp_port();
  const HttpResult put = call("PUT", "/v1/config",
                              sample_config(1, listener_port, backend.port()).dump(),
                              "application/json");
  ASSERT_EQ(put.status, 200) << put.raw;

  ClientTls plain;
  plain.enabled = false;
  auto through_engine = [&] {
    return http_request(listener_port, "GET", "/", "", "", plain).status == 200;
  };
  ASSERT_TRUE(eventually(through_engine));

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> ok{0};
  std::thread load([&] {
    while (!stop) {
      if (through_engine()) ++ok;
    }
  });
  ASSERT_TRUE(eventually([&] { return ok.load() > 10; }));
  const pid_t pid = status()["engine"]["pid"].get<pid_t>();
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  const bool back = eventually(
      [&] {
        const json s = status();
        return s.is_object() && s["engine"]["up"] == true && s["engine"]["pid"] != pid &&
               s["config"]["applied_version"] == 1;
      },
      std::chrono::seconds(20));
  const uint64_t before = ok.load();
  const bool flowing = back && eventually([&] { return ok.load() > before + 10; });
  stop = true;
  load.join();
  ASSERT_TRUE(back) << "the engine did not come back with config 1";
  EXPECT_TRUE(flowing) << "no traffic through the restarted engine";
  EXPECT_EQ(status()["engine"]["restarts"], 1);
  EXPECT_EQ(agent_->context().supervisor->client().get_version().body["version"], 1);
}

}  // namespace
}  // namespace pharos::agent::testing
