#include "engine/control/command_handler.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/core/engine.h"
#include "tests/support/test_ports.h"

namespace pharos::control {
namespace {

using nlohmann::json;

using pharos::testing::free_port;

json config_document(uint64_t version, uint16_t port) {
  json document = json::parse(R"({
    "version": 1,
    "listeners": [{"id": "l1", "protocol": "HTTP", "bind_address": "127.0.0.1",
                   "protocol_port": 1, "default_pool_id": "p1"}],
    "pools": [{"id": "p1", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
               "members": [{"id": "m1", "address": "127.0.0.1", "protocol_port": 9}]}]
  })");
  document["version"] = version;
  document["listeners"][0]["protocol_port"] = port;
  return document;
}

class CommandHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_ = std::make_unique<core::Engine>(core::EngineOptions{1, ""});
    handler_ = std::make_unique<CommandHandler>(*engine_, [this] { exit_requested_ = true; });
  }
  json apply(const json& config) { return handler_->handle({{"command", "apply_config"}, {"config", config}}); }

  std::unique_ptr<core::Engine> engine_;
  std::unique_ptr<CommandHandler> handler_;
  bool exit_requested_ = false;
};

TEST_F(CommandHandlerTest, AppliesAValidConfigAndReportsItsVersion) {
  auto reply = apply(config_document(3, free_port()));
  ASSERT_TRUE(reply["ok"]) << reply.dump();
  EXPECT_EQ(reply["version"], 3);
  EXPECT_EQ(handler_->handle({{"command", "get_version"}})["version"], 3);
  EXPECT_EQ(handler_->handle({{"command", "get_config"}})["config"]["version"], 3);
}

TEST_F(CommandHandlerTest, InvalidConfigIsRefusedWithPathsAndChangesNothing) {
  ASSERT_TRUE(apply(config_document(1, free_port()))["ok"]);
  json bad = config_document(2, free_port());
  bad["listeners"][0]["protocol_port"] = "eighty";
  bad["pools"][0]["lb_algorithm"] = "FASTEST";
  auto reply = apply(bad);
  EXPECT_FALSE(reply["ok"]);
  EXPECT_EQ(reply["error"], "invalid_config");
  std::set<std::string> paths;
  for (const auto& error : reply["errors"]) paths.insert(error["path"]);
  EXPECT_TRUE(paths.count("/listeners/0/protocol_port")) << reply.dump();
  EXPECT_TRUE(paths.count("/pools/0/lb_algorithm")) << reply.dump();
  EXPECT_EQ(handler_->handle({{"command", "get_version"}})["version"], 1);
}

TEST_F(CommandHandlerTest, AListenerThatCannotBindFailsTheWholeApply) {
  int holder = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(holder, 1), 0);  // no SO_REUSEPORT: the engine cannot share it
  socklen_t length = sizeof(address);
  ::getsockname(holder, reinterpret_cast<sockaddr*>(&address), &length);
  auto reply = apply(config_document(5, ntohs(address.sin_port)));
  ::close(holder);
  EXPECT_FALSE(reply["ok"]);
  EXPECT_EQ(reply["errors"][0]["path"], "/listeners/0/protocol_port");
  EXPECT_EQ(handler_->handle({{"command", "get_version"}})["version"], 0);
}

TEST_F(CommandHandlerTest, MemberStatusIsSetAndReadBack) {
  ASSERT_TRUE(apply(config_document(1, free_port()))["ok"]);
  EXPECT_EQ(handler_->handle({{"command", "get_member_status"}})["members"]["m1"], "UP");
  auto reply = handler_->handle({{"command", "set_member_status"}, {"member_id", "m1"}, {"status", "DRAINING"}});
  EXPECT_TRUE(reply["ok"]) << reply.dump();
  EXPECT_EQ(handler_->handle({{"command", "get_member_status"}})["members"]["m1"], "DRAINING");
  // The status survives a config change that keeps the member.
  ASSERT_TRUE(apply(config_document(2, free_port()))["ok"]);
  EXPECT_EQ(handler_->handle({{"command", "get_member_status"}})["members"]["m1"], "DRAINING");
  EXPECT_EQ(handler_->handle({{"command", "set_member_status"}, {"member_id", "nope"}, {"status", "UP"}})["error"],
            "not_found");
  EXPECT_EQ(handler_->handle({{"command", "set_member_status"}, {"member_id", "m1"}, {"status", "SIDEWAYS"}})["error"],
            "bad_request");
}

TEST_F(CommandHandlerTest, StatsHaveOctaviasFiveCountersPerListener) {
  ASSERT_TRUE(apply(config_document(1, free_port()))["ok"]);
  auto stats = handler_->handle({{"command", "get_stats"}});
  ASSERT_TRUE(stats["ok"]);
  for (const char* key : {"bytes_in", "bytes_out", "active_connections", "total_connections", "request_errors"}) {
    EXPECT_TRUE(stats["listeners"]["l1"].contains(key)) << key;
    EXPECT_TRUE(stats["members"]["m1"].contains(key)) << key;
  }
  EXPECT_TRUE(stats["members"]["m1"]["responses"].contains("5xx"));
  EXPECT_TRUE(stats["records"].contains("dropped"));
}

TEST_F(CommandHandlerTest, MalformedRequestsGetErrorCodes) {
  EXPECT_EQ(handler_->handle(json::array())["error"], "bad_request");
  EXPECT_EQ(handler_->handle({{"command", "launch"}})["error"], "unknown_command");
  EXPECT_EQ(handler_->handle({{"command", "apply_config"}})["error"], "bad_request");
}

TEST_F(CommandHandlerTest, DrainWithExitAsksTheLoopToExit) {
  ASSERT_TRUE(apply(config_document(1, free_port()))["ok"]);
  EXPECT_TRUE(handler_->handle({{"command", "drain"}, {"exit", true}})["ok"]);
  EXPECT_TRUE(exit_requested_);
  EXPECT_TRUE(engine_->draining());
  EXPECT_EQ(apply(config_document(2, free_port()))["error"], "draining");
}

}  // namespace
}  // namespace pharos::control
