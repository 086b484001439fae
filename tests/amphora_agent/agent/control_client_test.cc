// The control-socket client against scripted unix-socket servers.
#include "amphora_agent/agent/engine/control_client.h"

#include <atomic>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "test_support.h"

namespace pharos::agent::engine {
namespace {

using namespace std::chrono_literals;

// Accepts connections and answers each request line with `reply` (nothing when empty).
class ScriptedServer {
 public:
  ScriptedServer(std::string path, std::string reply) : path_(std::move(path)), reply_(std::move(reply)) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 4), 0);
    thread_ = std::thread([this] {
      for (;;) {
        const int conn = ::accept(fd_, nullptr, nullptr);
        if (conn < 0 || stop_) {
          if (conn >= 0) ::close(conn);
          return;
        }
        char buf[4096];
        std::string got;
        while (got.find('\n') == std::string::npos) {
          const ssize_t n = ::read(conn, buf, sizeof(buf));
          if (n <= 0) break;
          got.append(buf, static_cast<size_t>(n));
        }
        last_request_ = got;
        if (!reply_.empty()) (void)::write(conn, reply_.data(), reply_.size());
        // Hold the connection until the client gives up, as a hung engine would.
        while (::read(conn, buf, sizeof(buf)) > 0) {
        }
        ::close(conn);
      }
    });
  }
  ~ScriptedServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    // Wake accept() with a connection of our own.
    const int poke = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    ::connect(poke, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::close(poke);
    thread_.join();
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  std::string last_request() const { return last_request_; }

 private:
  std::string path_;
  std::string reply_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::string last_request_;
  std::thread thread_;
};

class ControlClientTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = agent::testing::make_temp_dir("pharos-control-"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string sock() const { return dir_ + "/c.sock"; }
  std::string dir_;
};

TEST_F(ControlClientTest, OkReply) {
  ScriptedServer server(sock(), "{\"ok\":true,\"version\":7}\n");
  const auto reply = ControlClient(sock(), 2s).get_version();
  ASSERT_TRUE(reply.ok()) << reply.message;
  EXPECT_EQ(reply.body["version"], 7);
}

TEST_F(ControlClientTest, RejectedReplyCarriesTheEngineMessage) {
  ScriptedServer server(sock(), R"({"ok":false,"error":"invalid_config","message":"bad","errors":[]})" "\n");
  const auto reply = ControlClient(sock(), 2s).apply_config({{"version", 1}});
  EXPECT_EQ(reply.errc, ControlErrc::kRejected);
  EXPECT_EQ(reply.message, "bad");
}

TEST_F(ControlClientTest, NoSocketIsUnavailable) {
  EXPECT_EQ(ControlClient(sock(), 1s).get_version().errc, ControlErrc::kUnavailable);
}

TEST_F(ControlClientTest, SilentEngineTimesOut) {
  ScriptedServer server(sock(), "");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(ControlClient(sock(), 200ms).get_version().errc, ControlErrc::kTimeout);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST_F(ControlClientTest, GarbageIsAProtocolError) {
  ScriptedServer server(sock(), "hello\n");
  EXPECT_EQ(ControlClient(sock(), 2s).get_version().errc, ControlErrc::kProtocol);
}

TEST_F(ControlClientTest, ReplyWithoutOkIsAProtocolError) {
  ScriptedServer server(sock(), "{\"version\":1}\n");
  EXPECT_EQ(ControlClient(sock(), 2s).get_version().errc, ControlErrc::kProtocol);
}

}  // namespace
}  // namespace pharos::agent::engine
