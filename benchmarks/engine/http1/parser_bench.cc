// Head parser throughput: a typical browser GET, a minimal GET, a response head, and the cost of
// a head that trickles in (re-parsed on every read).
#include <benchmark/benchmark.h>

#include <string>
#include <string_view>

#include "engine/http1/parser.h"

namespace pharos::http1 {
namespace {

// 10 field lines, ~500 bytes: what a desktop browser sends for a page.
constexpr std::string_view kBrowserGet =
    "GET /products/catalog/index.html?category=shoes&sort=price HTTP/1.1\r\n"
    "Host: www.example-shop.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Referer: https://www.example-shop.com/\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: session=7d0f3b2a9c4e4f1a8b6d; theme=dark; consent=yes\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "Sec-Fetch-Dest: document\r\n"
    "\r\n";

constexpr std::string_view kMinimalGet = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";

constexpr std::string_view kResponseHead =
    "HTTP/1.1 200 OK\r\n"
    "Date: Mon, 27 Jul 2009 12:28:53 GMT\r\n"
    "Server: nginx/1.22.1\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "Content-Length: 48213\r\n"
    "Last-Modified: Wed, 22 Jul 2009 19:15:56 GMT\r\n"
    "ETag: \"34aa387-d-1568eb00\"\r\n"
    "Cache-Control: max-age=3600\r\n"
    "Vary: Accept-Encoding\r\n"
    "Connection: keep-alive\r\n"
    "\r\n";

void run_request(benchmark::State& state, std::string_view text) {
  const Limits limits;
  RequestHead head;
  for (auto _ : state) {
    const ParseResult r = parse_request_head(text, limits, &head);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(head.head_bytes);
  }
  if (parse_request_head(text, limits, &head).status != ParseStatus::kComplete) {
    state.SkipWithError("request did not parse");
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(text.size()));
  state.counters["head_bytes"] = static_cast<double>(text.size());
}

void BM_ParseRequest_BrowserGet(benchmark::State& state) { run_request(state, kBrowserGet); }
BENCHMARK(BM_ParseRequest_BrowserGet);

void BM_ParseRequest_MinimalGet(benchmark::State& state) { run_request(state, kMinimalGet); }
BENCHMARK(BM_ParseRequest_MinimalGet);

void BM_ParseResponse_Head(benchmark::State& state) {
  const Limits limits;
  ResponseHead head;
  for (auto _ : state) {
    const ParseResult r = parse_response_head(kResponseHead, limits, false, &head);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(head.head_bytes);
  }
  if (parse_response_head(kResponseHead, limits, false, &head).status != ParseStatus::kComplete) {
    state.SkipWithError("response did not parse");
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kResponseHead.size()));
}
BENCHMARK(BM_ParseResponse_Head);

// Worst case for a stateless parser: the browser GET arriving one byte per read, re-parsed
// after each. One iteration = the whole trickle (~500 calls).
void BM_ParseRequest_BrowserGetByteByByte(benchmark::State& state) {
  const Limits limits;
  RequestHead head;
  for (auto _ : state) {
    for (size_t n = 1; n <= kBrowserGet.size(); ++n) {
      const ParseResult r = parse_request_head(kBrowserGet.substr(0, n), limits, &head);
      benchmark::DoNotOptimize(r);
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseRequest_BrowserGetByteByByte);

}  // namespace
}  // namespace pharos::http1
