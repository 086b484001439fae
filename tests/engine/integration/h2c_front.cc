#include "tests/engine/integration/h2c_front.h"

namespace pharos::itest {

void H2cFrontTest::start_front(uint16_t member_port, const json& pool_fields, const json& http2) {
  records_ = std::make_unique<RecordSink>(dir_.file("records.sock"));
  ASSERT_TRUE(records_->bound());
  port_ = free_port();
  json pool = pool_json("pool", "ROUND_ROBIN", json::array({member_json("m1", member_port)}));
  pool.update(pool_fields);
  json config = config_json(1, json::array({listener_json("listener", port_, "pool")}), json::array({pool}));
  config["listeners"][0]["h2c"] = true;
  if (!http2.empty()) config["http2"] = http2;
  EngineOptions options;
  options.records_socket = dir_.file("records.sock");
  engine_ = start_engine(config, options);
  ASSERT_NE(engine_, nullptr);
}

std::string H2cFrontTest::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

RunResult H2cFrontTest::nghttp(const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> argv{"/usr/bin/nghttp", "-v"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_to_completion(argv, dir_.file(log), 20000);
}

std::vector<records::TransactionRecord> H2cFrontTest::records(size_t count) {
  std::string problem;
  auto got = records_->read(count, 5000, &problem);
  EXPECT_EQ(got.size(), count) << problem;
  return got;
}

records::TransactionRecord H2cFrontTest::one_record() {
  auto got = records(1);
  return got.empty() ? records::TransactionRecord{} : got[0];
}

std::pair<size_t, size_t> H2cFrontTest::expect_early_hints_then_200(const std::string& output) {
  size_t hints = output.find(":status: 103");
  size_t link = find_after(output, "link: </style.css>; rel=preload", hints);
  size_t frame = find_after(output, "recv HEADERS frame", link);
  size_t flags = find_after(output, "flags=0x04", frame);  // END_HEADERS only
  size_t final_status = find_after(output, ":status: 200", flags);
  EXPECT_NE(final_status, std::string::npos) << output;
  return {hints, final_status};
}

void H2cFrontTest::expect_continue_relayed() {
  std::string body_path = dir_.file("upload.bin");
  write_file(body_path, std::string(200000, 'e'));
  RunResult r = nghttp({"--expect-continue", "-d", body_path, url("/upload")}, "nghttp.log");
  ASSERT_EQ(r.status, 0) << r.output;
  size_t proceed = r.output.find(":status: 100");
  size_t data = find_after(r.output, "send DATA frame", proceed);
  size_t final_status = find_after(r.output, ":status: 200", data);
  EXPECT_NE(final_status, std::string::npos) << r.output;
  EXPECT_NE(r.output.find("body-bytes: 200000"), std::string::npos) << r.output;
}

uint64_t H2cFrontTest::member_responses(const std::string& cls) {
  return engine_->stats()["members"]["m1"]["responses"][cls].get<uint64_t>();
}

}  // namespace pharos::itest
