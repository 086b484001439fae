// Cost of one PolicyTable::evaluate() per request (time per iteration = ns per request), by
// number of policies. Each policy has three rules (a HEADER CONTAINS, a PATH STARTS_WITH, a
// HOST_NAME REGEX); "miss" requests match none (every policy is tried: the worst case), "last"
// requests match only the last policy, a REDIRECT_TO_POOL.
#include <benchmark/benchmark.h>

#include <string>
#include <utility>
#include <vector>

#include "engine/l7/policy_table.h"

namespace pharos::l7 {
namespace {

class Request final : public RequestFacts {
 public:
  Request(std::string host, std::string target) : host_(std::move(host)), target_(std::move(target)) {}
  std::string_view host() const override { return host_; }
  std::string_view target() const override { return target_; }
  std::optional<std::string_view> header(std::string_view name) const override {
    for (const auto& [n, v] : headers_) {
      if (n == name) return std::string_view(v);
    }
    return std::nullopt;
  }
  std::optional<std::string_view> cookie(std::string_view) const override { return std::nullopt; }
  bool has_client_certificate() const override { return false; }
  long client_verify_result() const override { return 0; }
  std::optional<std::string_view> client_subject_field(std::string_view) const override {
    return std::nullopt;
  }

 private:
  std::string host_, target_;
  std::vector<std::pair<std::string, std::string>> headers_{
      {"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0"},
      {"Accept", "text/html,application/xhtml+xml"}};
};

config::L7Rule rule(config::L7RuleType type, config::L7CompareType compare, std::string value,
                    std::string key = "") {
  config::L7Rule r;
  r.id = "rule-" + value;
  r.type = type;
  r.compare_type = compare;
  r.key = std::move(key);
  r.value = std::move(value);
  return r;
}

std::pair<config::Listener, std::vector<config::Pool>> setup(int64_t count) {
  std::vector<config::Pool> pools(2);
  pools[0].id = "default";
  pools[1].id = "api";
  config::Listener listener;
  listener.default_pool_id = "default";
  for (int64_t i = 0; i < count; ++i) {
    config::L7Policy p;
    p.id = "policy-" + std::to_string(i);
    p.action = config::L7Action::kRedirectToPool;
    p.redirect_pool_id = "api";
    p.position = static_cast<uint32_t>(i + 1);
    const std::string n = std::to_string(i);
    p.rules.push_back(rule(config::L7RuleType::kHeader, config::L7CompareType::kContains, "Chrome", "User-Agent"));
    p.rules.push_back(rule(config::L7RuleType::kPath, config::L7CompareType::kStartsWith, "/api/v" + n + "/"));
    p.rules.push_back(rule(config::L7RuleType::kHostName, config::L7CompareType::kRegex,
                           "^(www|api)\\.example" + n + "\\.com$"));
    listener.l7policies.push_back(std::move(p));
  }
  return {std::move(listener), std::move(pools)};
}

void run(benchmark::State& state, bool match_last) {
  auto [listener, pools] = setup(state.range(0));
  auto table = PolicyTable::build(listener, pools);
  const std::string last = std::to_string(state.range(0) - 1);
  Request request(match_last ? "api.example" + last + ".com" : "shop.example.com",
                  match_last ? "/api/v" + last + "/users?page=2" : "/catalog/items?page=2");
  for (auto _ : state) {
    Decision decision = table->evaluate(request);
    benchmark::DoNotOptimize(decision);
  }
}

void BM_EvaluateMiss(benchmark::State& state) { run(state, false); }
void BM_EvaluateMatchLast(benchmark::State& state) { run(state, true); }

BENCHMARK(BM_EvaluateMiss)->Arg(1)->Arg(10)->Arg(100);
BENCHMARK(BM_EvaluateMatchLast)->Arg(1)->Arg(10)->Arg(100);

}  // namespace
}  // namespace pharos::l7
