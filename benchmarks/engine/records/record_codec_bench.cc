// Encode and decode cost per record (items_per_second; ns/record = 1e9 / items_per_second).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "engine/records/record_codec.h"

namespace pharos::records {
namespace {

// A typical HTTP record: three UUIDs, an IPv4 client, a 40-byte path, a browser user agent.
TransactionRecord typical(int i) {
  TransactionRecord r;
  r.status = 200;
  r.client_port = static_cast<uint16_t>(40000 + i);
  r.start_unix_us = 1'700'000'000'000'000ULL + i * 137ULL;
  r.client_rtt_us = 850;
  r.connect_us = i % 4 == 0 ? 420 : 0;
  r.ttfb_us = 23'000 + i;
  r.transfer_us = 1'200;
  r.total_us = 25'000 + i;
  r.bytes_in = 512;
  r.bytes_out = 14'000 + i;
  r.listener_id = "8a1c1b6e-8d3a-4f57-9d44-2a1f0c0e9b01";
  r.pool_id = "c3f9d2a4-5b6e-4c7d-8e9f-0a1b2c3d4e5f";
  r.member_id = "11111111-2222-3333-4444-55555555555" + std::to_string(i % 10);
  r.client_address = "203.0.113." + std::to_string(i % 250);
  r.method = "GET";
  r.host = "shop.example.com";
  r.path = "/api/v1/catalog/items/" + std::to_string(100000 + i) + "?page=2";
  r.user_agent =
      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.0.0 Safari/537.36";
  r.sni = "shop.example.com";
  return r;
}

std::vector<TransactionRecord> corpus() {
  std::vector<TransactionRecord> records;
  for (int i = 0; i < 1024; ++i) records.push_back(typical(i));
  return records;
}

void BM_Encode(benchmark::State& state) {
  const auto records = corpus();
  std::string out;
  out.reserve(kMaxDatagramBytes * 4);
  size_t i = 0;
  size_t bytes = 0;
  for (auto _ : state) {
    if (out.size() > kMaxDatagramBytes * 3) out.clear();
    bytes += encode(records[i++ & 1023], &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["bytes/record"] = static_cast<double>(bytes) / state.iterations();
}
BENCHMARK(BM_Encode);

void BM_Decode(benchmark::State& state) {
  std::string datagram;
  for (const auto& r : corpus()) encode(r, &datagram);
  TransactionRecord out;
  std::string_view rest = datagram;
  for (auto _ : state) {
    if (rest.empty()) rest = datagram;
    const DecodeResult result = decode(rest, &out);
    rest.remove_prefix(result.consumed);
    benchmark::DoNotOptimize(out.total_us);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Decode);

// What the agent does per datagram: walk a full ~64 KiB batch into one reused record.
void BM_DecodeBatch(benchmark::State& state) {
  BatchWriter writer;
  for (int i = 0; writer.add(typical(i)); ++i) {
  }
  TransactionRecord out;
  for (auto _ : state) {
    BatchReader reader(writer.datagram());
    while (reader.next(&out)) benchmark::DoNotOptimize(out.total_us);
  }
  state.SetItemsProcessed(state.iterations() * writer.records());
  state.counters["records/datagram"] = static_cast<double>(writer.records());
}
BENCHMARK(BM_DecodeBatch);

}  // namespace
}  // namespace pharos::records
