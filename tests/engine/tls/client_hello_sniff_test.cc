// peek_client_hello_sni against real ClientHellos from a BoringSSL client (the test links
// BoringSSL; the sniffer does not), re-fragmented, truncated and corrupted.
#include "engine/tls/client_hello_sniff.h"

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pharos::tls {
namespace {

using Bytes = std::vector<uint8_t>;

// The first flight of a BoringSSL client: the ClientHello record(s).
Bytes capture_client_hello(const char* server_name, uint16_t max_version, bool grease = false) {
  bssl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_method()));
  SSL_CTX_set_max_proto_version(ctx.get(), max_version);
  SSL_CTX_set_grease_enabled(ctx.get(), grease ? 1 : 0);
  static const uint8_t kAlpn[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof(kAlpn));
  bssl::UniquePtr<SSL> ssl(SSL_new(ctx.get()));
  if (server_name != nullptr) SSL_set_tlsext_host_name(ssl.get(), server_name);
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO* wbio = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl.get(), rbio, wbio);
  SSL_set_connect_state(ssl.get());
  SSL_do_handshake(ssl.get());
  const uint8_t* data = nullptr;
  size_t len = 0;
  BIO_mem_contents(wbio, &data, &len);
  return Bytes(data, data + len);
}

// The same handshake bytes carried in records of at most `fragment` bytes.
Bytes refragment(const Bytes& records, size_t fragment) {
  Bytes handshake;
  size_t pos = 0;
  while (pos + 5 <= records.size()) {
    size_t n = (size_t{records[pos + 3]} << 8) | records[pos + 4];
    handshake.insert(handshake.end(), records.begin() + pos + 5, records.begin() + pos + 5 + n);
    pos += 5 + n;
  }
  Bytes out;
  for (size_t i = 0; i < handshake.size(); i += fragment) {
    size_t n = std::min(fragment, handshake.size() - i);
    out.insert(out.end(), {22, 3, 1, static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)});
    out.insert(out.end(), handshake.begin() + i, handshake.begin() + i + n);
  }
  return out;
}

std::optional<std::string> sniff(const Bytes& bytes, bool* need_more) {
  return peek_client_hello_sni(bytes.data(), bytes.size(), need_more);
}

TEST(ClientHelloSniff, FindsTheServerNameOfRealClientHellos) {
  for (uint16_t version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    for (bool grease : {false, true}) {
      Bytes hello = capture_client_hello("Www.Example.COM", version, grease);
      bool need_more = true;
      auto name = sniff(hello, &need_more);
      ASSERT_TRUE(name.has_value()) << "version " << version << " grease " << grease;
      EXPECT_EQ(*name, "www.example.com");
      EXPECT_FALSE(need_more);
    }
  }
}

TEST(ClientHelloSniff, EveryTruncationAsksForMore) {
  Bytes hello = capture_client_hello("api.example.net", TLS1_3_VERSION);
  for (size_t n = 1; n < hello.size(); ++n) {
    bool need_more = false;
    auto name = peek_client_hello_sni(hello.data(), n, &need_more);
    ASSERT_FALSE(name.has_value()) << n;
    ASSERT_TRUE(need_more) << n;
  }
  bool need_more = false;
  EXPECT_FALSE(peek_client_hello_sni(hello.data(), 0, &need_more).has_value());
  EXPECT_TRUE(need_more);
}

TEST(ClientHelloSniff, ClientHelloSplitAcrossRecordsAndReads) {
  Bytes hello = capture_client_hello("split.example.com", TLS1_3_VERSION);
  for (size_t fragment : {1u, 7u, 100u, 512u}) {
    Bytes split = refragment(hello, fragment);
    bool need_more = true;
    auto name = sniff(split, &need_more);
    ASSERT_TRUE(name.has_value()) << fragment;
    EXPECT_EQ(*name, "split.example.com");
    EXPECT_FALSE(need_more);
    // Fed as it arrives: every prefix asks for more until the last byte.
    for (size_t n = 1; n < split.size(); n += 13) {
      need_more = false;
      ASSERT_FALSE(peek_client_hello_sni(split.data(), n, &need_more).has_value());
      ASSERT_TRUE(need_more) << fragment << " " << n;
    }
  }
}

TEST(ClientHelloSniff, ExtraBytesAfterTheClientHelloAreIgnored) {
  Bytes hello = capture_client_hello("www.example.com", TLS1_3_VERSION);
  Bytes more = hello;
  more.insert(more.end(), {20, 3, 3, 0, 1, 1});  // a ChangeCipherSpec record after it
  auto name = sniff(more, nullptr);
  ASSERT_TRUE(name.has_value());
  EXPECT_EQ(*name, "www.example.com");
}

TEST(ClientHelloSniff, NoServerNameIsNotFoundAndNotWaitedFor) {
  Bytes hello = capture_client_hello(nullptr, TLS1_3_VERSION);
  bool need_more = true;
  EXPECT_FALSE(sniff(hello, &need_more).has_value());
  EXPECT_FALSE(need_more);
}

TEST(ClientHelloSniff, NotTls) {
  bool need_more = true;
  const std::string http = "GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n";
  EXPECT_FALSE(peek_client_hello_sni(reinterpret_cast<const uint8_t*>(http.data()), http.size(), &need_more));
  EXPECT_FALSE(need_more);
  const Bytes sslv2 = {0x80, 0x2e, 0x01, 0x03, 0x01};
  need_more = true;
  EXPECT_FALSE(sniff(sslv2, &need_more));
  EXPECT_FALSE(need_more);
  const Bytes alert = {21, 3, 3, 0, 2, 2, 40};
  need_more = true;
  EXPECT_FALSE(sniff(alert, &need_more));
  EXPECT_FALSE(need_more);
  const Bytes server_hello = {22, 3, 3, 0, 4, 2, 0, 0, 0};
  need_more = true;
  EXPECT_FALSE(sniff(server_hello, &need_more));
  EXPECT_FALSE(need_more);
  const Bytes bad_version = {22, 2, 0};
  need_more = true;
  EXPECT_FALSE(sniff(bad_version, &need_more));
  EXPECT_FALSE(need_more);
}

// Finds the offset of the server_name extension's host name length in a single-record hello.
size_t host_name_length_offset(const Bytes& hello, const std::string& name) {
  auto it = std::search(hello.begin(), hello.end(), name.begin(), name.end());
  EXPECT_NE(it, hello.end());
  return static_cast<size_t>(it - hello.begin()) - 2;
}

TEST(ClientHelloSniff, MalformedLengthsAreRejected) {
  const std::string host = "www.example.com";
  const Bytes hello = capture_client_hello(host.c_str(), TLS1_3_VERSION);
  ASSERT_TRUE(sniff(hello, nullptr).has_value());
  auto rejects = [](const Bytes& bytes) {
    bool need_more = true;
    bool found = peek_client_hello_sni(bytes.data(), bytes.size(), &need_more).has_value();
    return !found && !need_more;
  };
  {
    Bytes b = hello;  // record length 0
    b[3] = 0;
    b[4] = 0;
    EXPECT_TRUE(rejects(b));
  }
  {
    Bytes b = hello;  // record longer than TLS allows
    b[3] = 0x48;
    b[4] = 0x01;
    EXPECT_TRUE(rejects(b));
  }
  {
    Bytes b = hello;  // handshake message larger than the sniffer waits for
    b[6] = 0x01;
    b[7] = 0x00;
    b[8] = 0x00;
    EXPECT_TRUE(rejects(b));
  }
  {
    Bytes b = hello;  // handshake length shorter than its content: extensions overrun it
    size_t body = (size_t{b[6]} << 16) | (size_t{b[7]} << 8) | b[8];
    body -= 1;
    b[6] = static_cast<uint8_t>(body >> 16);
    b[7] = static_cast<uint8_t>(body >> 8);
    b[8] = static_cast<uint8_t>(body);
    EXPECT_TRUE(rejects(b));
  }
  {
    Bytes b = hello;  // session id longer than 32
    b[5 + 4 + 2 + 32] = 33;
    EXPECT_TRUE(rejects(b));
  }
  {
    Bytes b = hello;  // host name length past the extension
    size_t at = host_name_length_offset(b, host);
    b[at] = 0x7f;
    EXPECT_TRUE(rejects(b));
  }
  {
    Bytes b = hello;  // a host name that is not a DNS name
    size_t at = host_name_length_offset(b, host);
    b[at + 2 + 3] = 0;
    EXPECT_TRUE(rejects(b));
  }
  {
    Bytes b = hello;  // a record of another type in the middle of the ClientHello
    Bytes split = refragment(b, 64);
    split[69] = 23;
    EXPECT_TRUE(rejects(split));
  }
  // Random corruption never reads out of bounds (run under ASan) and never crashes.
  uint32_t x = 12345;
  for (int round = 0; round < 2000; ++round) {
    Bytes b = hello;
    for (int k = 0; k < 3; ++k) {
      x = x * 1103515245u + 12345u;
      b[(x >> 8) % b.size()] = static_cast<uint8_t>(x >> 16);
    }
    x = x * 1103515245u + 12345u;
    b.resize((x >> 8) % (b.size() + 1));
    bool need_more = false;
    auto name = sniff(b, &need_more);
    if (name) {
      EXPECT_FALSE(name->empty());
    }
  }
}

}  // namespace
}  // namespace pharos::tls
