// A fixture base for tests of one scripted member behind an engine listener that takes h2c
// with prior knowledge (and HTTP/1.x), with transaction records, driven with nghttp -v.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tests/engine/integration/harness.h"

namespace pharos::itest {

class H2cFrontTest : public IntegrationTest {
 protected:
  // Starts the engine in front of the member on `member_port` (pool "pool", member "m1"):
  // `pool_fields` are added to the pool, `http2` (when not empty) is the engine's http2 section.
  void start_front(uint16_t member_port, const json& pool_fields = json::object(),
                   const json& http2 = json::object());

  std::string url(const std::string& path) const;
  // nghttp -v with `args`; its output also goes to `log` in the test's directory.
  RunResult nghttp(const std::vector<std::string>& args, const std::string& log);
  // The next `count` transaction records (a test failure if fewer come within 5 s).
  std::vector<records::TransactionRecord> records(size_t count);
  records::TransactionRecord one_record();
  // Checks nghttp -v `output` for a 103 with the scripted Link field in a HEADERS frame without
  // END_STREAM, followed by the final 200; returns where the 103 and the 200 are (npos if not).
  std::pair<size_t, size_t> expect_early_hints_then_200(const std::string& output);
  // Uploads a 200000-byte body with nghttp --expect-continue: nghttp holds the body back until
  // it sees a 100, which only the member sends. Checks the 100, then the body, then the final
  // 200 with the member's byte count.
  void expect_continue_relayed();
  // Responses of member m1 of status class `cls` ("1xx".."5xx"), from the engine's stats.
  uint64_t member_responses(const std::string& cls);

  std::unique_ptr<RecordSink> records_;
  uint16_t port_ = 0;
  EngineHandle* engine_ = nullptr;
};

}  // namespace pharos::itest
