// Body decoder throughput in bytes/s of wire data, fed in 16 KiB reads like a socket buffer.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "engine/http1/body_decoder.h"

namespace pharos::http1 {
namespace {

constexpr size_t kReadSize = 16384;

// A chunked body of about 1 MiB made of chunks of `chunk_size` payload bytes, some with an
// extension, and a trailer.
std::string make_chunked_body(size_t chunk_size) {
  std::string body;
  const std::string data(chunk_size, 'x');
  char line[64];
  size_t n = 0;
  while (body.size() < (1u << 20)) {
    std::snprintf(line, sizeof(line), (n++ % 8 == 0) ? "%zx;ext=v\r\n" : "%zx\r\n", chunk_size);
    body += line;
    body += data;
    body += "\r\n";
  }
  body += "0\r\nX-Checksum: 0123456789abcdef\r\n\r\n";
  return body;
}

void run_decoder(benchmark::State& state, BodyFraming framing, const std::string& body) {
  BodyDecoder decoder;
  for (auto _ : state) {
    decoder.reset(framing, body.size());
    size_t off = 0;
    while (off < body.size()) {
      const BodyDecoder::Step step =
          decoder.feed(body.data() + off, std::min(kReadSize, body.size() - off));
      off += step.consumed;
      if (step.done || step.error != Error::kNone) break;
    }
    if (!decoder.done()) state.SkipWithError("body did not decode");
    benchmark::DoNotOptimize(decoder.payload_bytes());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}

void BM_DecodeChunked(benchmark::State& state) {
  const std::string body = make_chunked_body(static_cast<size_t>(state.range(0)));
  run_decoder(state, BodyFraming::kChunked, body);
}
BENCHMARK(BM_DecodeChunked)->Arg(64)->Arg(1024)->Arg(16384);

void BM_DecodeContentLength(benchmark::State& state) {
  const std::string body(1u << 20, 'x');
  run_decoder(state, BodyFraming::kContentLength, body);
}
BENCHMARK(BM_DecodeContentLength);

}  // namespace
}  // namespace pharos::http1
