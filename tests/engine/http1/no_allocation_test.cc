// The hot path must not allocate once a head's header vector has grown: counts operator new
// calls around warm parses and body decoding.
#include <gtest/gtest.h>

#include <cstdlib>
#include <new>
#include <string>

#include "engine/http1/parser.h"

namespace {
thread_local bool g_counting = false;
thread_local size_t g_allocations = 0;
}  // namespace

void* operator new(size_t size) {
  if (g_counting) ++g_allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace pharos::http1 {
namespace {

TEST(NoAllocation, WarmParsesAndDecodesDoNotAllocate) {
  const std::string request =
      "POST /upload HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\nTransfer-Encoding: chunked\r\n"
      "Connection: keep-alive\r\nX-1: 1\r\nX-2: 2\r\n\r\n";
  const std::string response = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-1: 1\r\n\r\n";
  const std::string body = "5;x=y\r\nhello\r\n0\r\nT: v\r\n\r\n";
  const Limits limits;
  RequestHead request_head;
  ResponseHead response_head;
  BodyDecoder decoder;
  ASSERT_EQ(parse_request_head(request, limits, &request_head).status, ParseStatus::kComplete);
  ASSERT_EQ(parse_response_head(response, limits, false, &response_head).status,
            ParseStatus::kComplete);

  g_counting = true;
  for (int i = 0; i < 100; ++i) {
    parse_request_head(request, limits, &request_head);
    parse_response_head(response, limits, false, &response_head);
    decoder.reset(request_head.framing, request_head.content_length);
    decoder.feed(body.data(), body.size());
  }
  g_counting = false;
  EXPECT_EQ(g_allocations, 0u);
  EXPECT_TRUE(decoder.done());
}

}  // namespace
}  // namespace pharos::http1
