// Listening sockets: accepted connections inherit TCP_NODELAY from the listener, which is why
// the worker sets nothing on them.
#include "engine/net/socket_ops.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace pharos::net {
namespace {

TEST(ListenTcp, AcceptedSocketsHaveNoDelay) {
  auto address = config::IpAddress::parse("127.0.0.1");
  ASSERT_TRUE(address.has_value());
  SocketResult listener = listen_tcp(*address, 0);
  ASSERT_TRUE(listener.fd) << listener.error;
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  ASSERT_EQ(getsockname(listener.fd.get(), reinterpret_cast<sockaddr*>(&bound), &length), 0);

  UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(client);
  ASSERT_EQ(::connect(client.get(), reinterpret_cast<sockaddr*>(&bound), length), 0);
  // A blocking connect returns once the handshake is done: the connection is queued already.
  int accepted = ::accept4(listener.fd.get(), nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(accepted, 0);
  UniqueFd server(accepted);

  int value = 0;
  socklen_t size = sizeof(value);
  ASSERT_EQ(getsockopt(server.get(), IPPROTO_TCP, TCP_NODELAY, &value, &size), 0);
  EXPECT_NE(value, 0);
}

}  // namespace
}  // namespace pharos::net
