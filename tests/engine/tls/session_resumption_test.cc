// Session resumption: tickets under the engine-wide key ring (across contexts and rotations) and
// the per-listener session cache.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "engine/tls/server_context.h"
#include "engine/tls/ticket_key_ring.h"
#include "tests/engine/tls/handshake_harness.h"
#include "tests/engine/tls/test_pki.h"

namespace pharos::tls {
namespace {

using test::ClientOptions;
using test::test_pki;
using Clock = TicketKeyRing::Clock;

// A clock the test moves by hand.
struct FakeClock {
  Clock::time_point now = Clock::time_point{} + std::chrono::hours(1000);
  std::function<Clock::time_point()> fn() {
    return [this] { return now; };
  }
};

std::shared_ptr<const ServerTlsContext> build(const config::TlsSessions& sessions,
                                              std::shared_ptr<TicketKeyRing> keys,
                                              const std::string& path = "/listeners/0") {
  auto tls = test::make_listener_tls(test_pki().server_ecdsa);
  tls.path = path;
  auto result = ServerTlsContext::create(tls, sessions, std::move(keys));
  EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.error().message);
  return result.ok() ? result.value() : nullptr;
}

TicketKeyRing::KeyName ticket_key_name(const SSL_SESSION* session) {
  const uint8_t* ticket = nullptr;
  size_t len = 0;
  SSL_SESSION_get0_ticket(session, &ticket, &len);
  TicketKeyRing::KeyName name{};
  if (len >= name.size()) std::copy(ticket, ticket + name.size(), name.begin());
  return name;
}

class TicketResumption : public ::testing::TestWithParam<uint16_t> {
 protected:
  test::Handshake connect(const ServerTlsContext& context, SSL_SESSION* session = nullptr) {
    return test::run_handshake(ClientOptions{.max_version = GetParam(), .session = session},
                               context.new_connection());
  }
};

TEST_P(TicketResumption, ResumesAcrossContextsOfTheSameListener) {
  FakeClock clock;
  config::TlsSessions sessions;
  sessions.session_cache_size = 0;  // tickets only
  auto keys = TicketKeyRing::create(sessions, clock.fn());
  auto first = build(sessions, keys);
  auto second = build(sessions, keys);  // e.g. after a config apply
  ASSERT_TRUE(first && second);
  auto full = connect(*first);
  ASSERT_TRUE(full.ok) << full.error;
  ASSERT_FALSE(full.resumed());
  ASSERT_TRUE(SSL_SESSION_has_ticket(full.session.get()));
  EXPECT_EQ(ticket_key_name(full.session.get()), keys->current_key_name());

  auto again = connect(*second, full.session.get());
  ASSERT_TRUE(again.ok) << again.error;
  EXPECT_TRUE(again.resumed());
}

TEST_P(TicketResumption, OtherListenerDoesNotResume) {
  FakeClock clock;
  config::TlsSessions sessions;
  auto keys = TicketKeyRing::create(sessions, clock.fn());
  auto a = build(sessions, keys, "/listeners/0");
  auto b = build(sessions, keys, "/listeners/1");
  auto full = connect(*a);
  ASSERT_TRUE(full.ok) << full.error;
  auto other = connect(*b, full.session.get());
  ASSERT_TRUE(other.ok) << other.error;
  EXPECT_FALSE(other.resumed());
}

TEST_P(TicketResumption, PreviousKeyStillDecryptsAndRenews) {
  FakeClock clock;
  config::TlsSessions sessions;
  sessions.session_cache_size = 0;
  sessions.session_timeout_s = 7200;
  sessions.ticket_key_rotation_s = 600;
  auto keys = TicketKeyRing::create(sessions, clock.fn());
  auto context = build(sessions, keys);
  auto full = connect(*context);
  ASSERT_TRUE(full.ok) << full.error;
  const auto old_name = keys->current_key_name();

  clock.now += std::chrono::seconds(600);
  keys->rotate(clock.now);
  ASSERT_NE(keys->current_key_name(), old_name);

  auto resumed = connect(*context, full.session.get());
  ASSERT_TRUE(resumed.ok) << resumed.error;
  EXPECT_TRUE(resumed.resumed());
  // The client now holds a ticket under the current key.
  EXPECT_EQ(ticket_key_name(resumed.session.get()), keys->current_key_name());
}

TEST_P(TicketResumption, KeyRetiredAfterTwoPeriods) {
  FakeClock clock;
  config::TlsSessions sessions;
  sessions.session_cache_size = 0;
  sessions.session_timeout_s = 86400;
  sessions.ticket_key_rotation_s = 600;
  auto keys = TicketKeyRing::create(sessions, clock.fn());
  auto context = build(sessions, keys);
  auto full = connect(*context);
  ASSERT_TRUE(full.ok) << full.error;

  // Rotation on demand at use: no explicit rotate() call.
  clock.now += std::chrono::seconds(1200);
  auto late = connect(*context, full.session.get());
  ASSERT_TRUE(late.ok) << late.error;
  EXPECT_FALSE(late.resumed());
}

INSTANTIATE_TEST_SUITE_P(Versions, TicketResumption,
                         ::testing::Values(uint16_t{TLS1_3_VERSION}, uint16_t{TLS1_2_VERSION}),
                         [](const auto& info) {
                           return info.param == TLS1_3_VERSION ? std::string("Tls13")
                                                               : std::string("Tls12");
                         });

TEST(SessionCache, ResumesWithTicketsDisabled) {
  config::TlsSessions sessions;
  sessions.ticket_key_rotation_s = 0;
  EXPECT_EQ(TicketKeyRing::create(sessions), nullptr);
  auto context = build(sessions, nullptr);
  ASSERT_TRUE(context);
  ClientOptions options{.max_version = TLS1_2_VERSION};
  auto full = test::run_handshake(options, context->new_connection());
  ASSERT_TRUE(full.ok) << full.error;
  EXPECT_FALSE(SSL_SESSION_has_ticket(full.session.get()));
  options.session = full.session.get();
  auto again = test::run_handshake(options, context->new_connection());
  ASSERT_TRUE(again.ok) << again.error;
  EXPECT_TRUE(again.resumed());
}

TEST(SessionCache, NothingResumesWhenBothAreOff) {
  config::TlsSessions sessions;
  sessions.ticket_key_rotation_s = 0;
  sessions.session_cache_size = 0;
  auto context = build(sessions, nullptr);
  ASSERT_TRUE(context);
  ClientOptions options{.max_version = TLS1_2_VERSION};
  auto full = test::run_handshake(options, context->new_connection());
  ASSERT_TRUE(full.ok) << full.error;
  options.session = full.session.get();
  auto again = test::run_handshake(options, context->new_connection());
  ASSERT_TRUE(again.ok) << again.error;
  EXPECT_FALSE(again.resumed());
}

// Workers share one context and one ring while the control thread rotates keys.
TEST(TicketKeyRing, SharedAcrossThreads) {
  config::TlsSessions sessions;
  sessions.ticket_key_rotation_s = 1;
  auto keys = TicketKeyRing::create(sessions);
  auto context = build(sessions, keys);
  ASSERT_TRUE(context);
  std::atomic<int> ok{0};
  std::atomic<bool> stop{false};
  std::thread rotator([&] {
    while (!stop) keys->rotate(Clock::now() + std::chrono::seconds(1));
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t) {
    workers.emplace_back([&] {
      bssl::UniquePtr<SSL_SESSION> session;
      for (int i = 0; i < 10; ++i) {
        auto h = test::run_handshake(ClientOptions{.session = session.get()},
                                     context->new_connection());
        if (h.ok) ++ok;
        session = std::move(h.session);
      }
    });
  }
  for (auto& w : workers) w.join();
  stop = true;
  rotator.join();
  EXPECT_EQ(ok.load(), 40);
}

TEST(TicketKeyRing, RotatesOnlyWhenDue) {
  FakeClock clock;
  TicketKeyRing ring(std::chrono::seconds(60), clock.fn());
  const auto first = ring.current_key_name();
  ring.rotate(clock.now + std::chrono::seconds(59));
  EXPECT_EQ(ring.current_key_name(), first);
  ring.rotate(clock.now + std::chrono::seconds(60));
  EXPECT_NE(ring.current_key_name(), first);
}

}  // namespace
}  // namespace pharos::tls
