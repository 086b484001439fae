// PolicyTable: every rule type with every compare type it takes, invert, disabled rules and
// policies, and the evaluation order Octavia's HAProxy template gives.
#include "engine/l7/policy_table.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/l7/cookie.h"

namespace pharos::l7 {
namespace {

using config::L7Action;
using config::L7CompareType;
using config::L7RuleType;
using Kind = Decision::Kind;

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

class Facts final : public RequestFacts {
 public:
  std::string host_text = "WWW.Example.com:8080";
  std::string target_text = "/api/v1/img.PNG?x=1&y=.png";
  std::vector<std::pair<std::string, std::string>> headers = {
      {"X-Tenant", "gold"}, {"x-tenant", "silver"}, {"Cookie", "a=1; sid=abc123"}, {"cookie", "theme=dark"}};
  bool certificate = true;
  long verify = 0;
  std::vector<std::pair<std::string, std::string>> subject = {  // (short name, long name) -> value
      {"CN|commonName", "client.example.com"}, {"O|organizationName", "Example"}};

  std::string_view host() const override { return host_text; }
  std::string_view target() const override { return target_text; }
  std::optional<std::string_view> header(std::string_view name) const override {
    for (const auto& [n, v] : headers) {
      if (iequal(n, name)) return std::string_view(v);
    }
    return std::nullopt;
  }
  std::optional<std::string_view> cookie(std::string_view name) const override {
    for (const auto& [n, v] : headers) {
      if (!iequal(n, "cookie")) continue;
      if (auto value = find_cookie(v, name)) return value;
    }
    return std::nullopt;
  }
  bool has_client_certificate() const override { return certificate; }
  long client_verify_result() const override { return verify; }
  std::optional<std::string_view> client_subject_field(std::string_view key) const override {
    if (!certificate) return std::nullopt;
    for (const auto& [names, value] : subject) {
      const size_t bar = names.find('|');
      if (iequal(names.substr(0, bar), key) || iequal(names.substr(bar + 1), key)) return std::string_view(value);
    }
    return std::nullopt;
  }
};

config::L7Rule rule(L7RuleType type, L7CompareType compare, std::string value, std::string key = "",
                    bool invert = false) {
  config::L7Rule r;
  r.id = "r";
  r.type = type;
  r.compare_type = compare;
  r.value = std::move(value);
  r.key = std::move(key);
  r.invert = invert;
  return r;
}

config::L7Rule always() { return rule(L7RuleType::kPath, L7CompareType::kStartsWith, "/"); }
config::L7Rule never() { return rule(L7RuleType::kPath, L7CompareType::kEqualTo, "/nowhere"); }

config::L7Policy policy(std::string id, L7Action action, uint32_t position, std::vector<config::L7Rule> rules) {
  config::L7Policy p;
  p.id = std::move(id);
  p.action = action;
  p.position = position;
  p.rules = std::move(rules);
  if (action == L7Action::kRedirectToPool) p.redirect_pool_id = "other";
  if (action == L7Action::kRedirectToUrl) p.redirect_url = "https://elsewhere.example.com/x";
  if (action == L7Action::kRedirectPrefix) p.redirect_prefix = "https://new.example.com";
  return p;
}

std::vector<config::Pool> pools() {
  std::vector<config::Pool> out(3);
  out[0].id = "default";
  out[1].id = "other";
  out[2].id = "down";
  out[2].admin_state_up = false;
  return out;
}

std::shared_ptr<const PolicyTable> table(std::vector<config::L7Policy> policies) {
  config::Listener listener;
  listener.default_pool_id = "default";
  listener.l7policies = std::move(policies);
  return PolicyTable::build(listener, pools());
}

// The decision's policy_id points into its table: the last one stays alive until the next call.
Decision evaluate(std::vector<config::L7Policy> policies, const Facts& facts = Facts()) {
  static std::shared_ptr<const PolicyTable> last;
  last = table(std::move(policies));
  if (!last) return Decision{};
  return last->evaluate(facts);
}

// One rule in a REJECT policy: whether it matched.
bool matches(const config::L7Rule& r, const Facts& facts = Facts()) {
  auto t = table({policy("p", L7Action::kReject, 1, {r})});
  EXPECT_NE(t, nullptr);
  return t && t->evaluate(facts).kind == Kind::kReject;
}

struct Case {
  L7RuleType type;
  L7CompareType compare;
  std::string key;
  std::string value;
  bool expected;
};

std::string describe(const Case& c) {
  return "type " + std::to_string(static_cast<int>(c.type)) + " compare " +
         std::to_string(static_cast<int>(c.compare)) + " key '" + c.key + "' value '" + c.value + "'";
}

void check(const std::vector<Case>& cases, const Facts& facts = Facts()) {
  for (const auto& c : cases) {
    EXPECT_EQ(matches(rule(c.type, c.compare, c.value, c.key), facts), c.expected) << describe(c);
    EXPECT_EQ(matches(rule(c.type, c.compare, c.value, c.key, /*invert=*/true), facts), !c.expected)
        << "inverted " << describe(c);
  }
}

constexpr auto kRegex = L7CompareType::kRegex;
constexpr auto kStarts = L7CompareType::kStartsWith;
constexpr auto kEnds = L7CompareType::kEndsWith;
constexpr auto kContains = L7CompareType::kContains;
constexpr auto kEqual = L7CompareType::kEqualTo;

TEST(L7Rules, HostNameIsCaseInsensitiveWithThePortAsSent) {
  const auto t = L7RuleType::kHostName;
  check({{t, kEqual, "", "www.example.com:8080", true},
         {t, kEqual, "", "WWW.EXAMPLE.COM:8080", true},
         {t, kEqual, "", "www.example.com", false},
         {t, kStarts, "", "www.EXAMPLE", true},
         {t, kStarts, "", "example", false},
         {t, kEnds, "", ":8080", true},
         {t, kEnds, "", "example.com", false},
         {t, kContains, "", "EXAMPLE.COM", true},
         {t, kContains, "", "example.net", false},
         {t, kRegex, "", "^www\\.example\\.com(:[0-9]+)?$", true},
         {t, kRegex, "", "EXAMPLE", true},
         {t, kRegex, "", "^api\\.", false}});
}

TEST(L7Rules, PathIsCaseSensitiveAndLeavesTheQueryOut) {
  const auto t = L7RuleType::kPath;
  check({{t, kEqual, "", "/api/v1/img.PNG", true},
         {t, kEqual, "", "/api/v1/img.png", false},
         {t, kEqual, "", "/api/v1/img.PNG?x=1&y=.png", false},
         {t, kStarts, "", "/api/", true},
         {t, kStarts, "", "/API/", false},
         {t, kEnds, "", ".PNG", true},
         {t, kEnds, "", ".png", false},
         {t, kContains, "", "v1", true},
         {t, kContains, "", "x=1", false},
         {t, kRegex, "", "v[0-9]/", true},  // a search, not anchored
         {t, kRegex, "", "^v1", false}});
}

TEST(L7Rules, FileTypeComparesTheEndOfThePath) {
  const auto t = L7RuleType::kFileType;
  check({{t, kEqual, "", ".PNG", true},
         {t, kEqual, "", "PNG", true},
         {t, kEqual, "", ".png", false},  // the query's ".png" does not count
         {t, kEqual, "", ".jpg", false},
         {t, kRegex, "", "\\.(PNG|jpg)$", true},
         {t, kRegex, "", "\\.gif$", false}});
}

TEST(L7Rules, HeaderComparesTheFirstFieldOfThatName) {
  const auto t = L7RuleType::kHeader;
  check({{t, kEqual, "X-Tenant", "gold", true},
         {t, kEqual, "x-tenant", "gold", true},
         {t, kEqual, "X-Tenant", "silver", false},
         {t, kEqual, "X-Tenant", "GOLD", false},
         {t, kStarts, "X-Tenant", "go", true},
         {t, kStarts, "X-Tenant", "ld", false},
         {t, kEnds, "X-Tenant", "ld", true},
         {t, kEnds, "X-Tenant", "go", false},
         {t, kContains, "X-Tenant", "ol", true},
         {t, kContains, "X-Tenant", "x", false},
         {t, kRegex, "X-Tenant", "^g.l", true},
         {t, kRegex, "X-Tenant", "^s", false},
         {t, kRegex, "X-Missing", ".*", false}});  // no header: no match (inverted: match)
}

TEST(L7Rules, CookieLooksInEveryCookieField) {
  const auto t = L7RuleType::kCookie;
  check({{t, kEqual, "sid", "abc123", true},
         {t, kEqual, "a", "1", true},
         {t, kEqual, "theme", "dark", true},  // in the second Cookie field (h2 splits them)
         {t, kEqual, "SID", "abc123", false},
         {t, kEqual, "sid", "abc", false},
         {t, kStarts, "sid", "abc", true},
         {t, kStarts, "sid", "123", false},
         {t, kEnds, "sid", "123", true},
         {t, kEnds, "sid", "abc", false},
         {t, kContains, "sid", "c12", true},
         {t, kContains, "sid", "z", false},
         {t, kRegex, "sid", "^[a-z]+[0-9]+$", true},
         {t, kRegex, "sid", "^[0-9]", false},
         {t, kEqual, "nope", "1", false}});
}

TEST(L7Rules, ClientCertificateRules) {
  check({{L7RuleType::kSslConnHasCert, kEqual, "", "True", true},
         {L7RuleType::kSslVerifyResult, kEqual, "", "0", true},
         {L7RuleType::kSslVerifyResult, kEqual, "", "20", false},
         {L7RuleType::kSslDnField, kEqual, "CN", "client.example.com", true},
         {L7RuleType::kSslDnField, kEqual, "commonName", "client.example.com", true},
         {L7RuleType::kSslDnField, kEqual, "cn", "client.example.com", true},
         {L7RuleType::kSslDnField, kEqual, "CN", "CLIENT.example.com", false},
         {L7RuleType::kSslDnField, kStarts, "CN", "client.", true},
         {L7RuleType::kSslDnField, kStarts, "CN", "example", false},
         {L7RuleType::kSslDnField, kEnds, "CN", ".com", true},
         {L7RuleType::kSslDnField, kEnds, "CN", ".net", false},
         {L7RuleType::kSslDnField, kContains, "O", "xamp", true},
         {L7RuleType::kSslDnField, kContains, "O", "z", false},
         {L7RuleType::kSslDnField, kRegex, "CN", "^client\\.", true},
         {L7RuleType::kSslDnField, kRegex, "CN", "^server", false},
         {L7RuleType::kSslDnField, kRegex, "OU", ".*", false}});

  Facts failed;
  failed.verify = 20;  // X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
  check({{L7RuleType::kSslVerifyResult, kEqual, "", "20", true},
         {L7RuleType::kSslVerifyResult, kEqual, "", "0", false}},
        failed);

  Facts none;
  none.certificate = false;
  check({{L7RuleType::kSslConnHasCert, kEqual, "", "True", false},
         {L7RuleType::kSslVerifyResult, kEqual, "", "0", true},
         {L7RuleType::kSslDnField, kRegex, "CN", ".*", false}},
        none);
}

TEST(L7Policies, AllEnabledRulesMustMatch) {
  EXPECT_EQ(evaluate({policy("p", L7Action::kReject, 1, {always(), always()})}).kind, Kind::kReject);
  EXPECT_EQ(evaluate({policy("p", L7Action::kReject, 1, {always(), never()})}).kind, Kind::kDefault);
  config::L7Rule disabled = never();
  disabled.admin_state_up = false;
  EXPECT_EQ(evaluate({policy("p", L7Action::kReject, 1, {always(), disabled})}).kind, Kind::kReject);
}

TEST(L7Policies, PoliciesThatCannotMatchCostNothing) {
  EXPECT_EQ(table({}), nullptr);
  EXPECT_EQ(table({policy("no-rules", L7Action::kReject, 1, {})}), nullptr);
  config::L7Rule disabled = always();
  disabled.admin_state_up = false;
  EXPECT_EQ(table({policy("only-disabled-rules", L7Action::kReject, 1, {disabled})}), nullptr);
  config::L7Policy off = policy("disabled", L7Action::kReject, 1, {always()});
  off.admin_state_up = false;
  EXPECT_EQ(table({off}), nullptr);

  auto t = table({off, policy("on", L7Action::kRedirectToPool, 1, {always()})});
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->size(), 1u);
  EXPECT_FALSE(t->uses_client_certificate());
  Decision d = t->evaluate(Facts());
  EXPECT_EQ(d.kind, Kind::kPool);
  EXPECT_EQ(d.pool_index, 1);
  EXPECT_EQ(d.policy_id, "on");
}

TEST(L7Policies, RejectThenRedirectsThenPoolsEachByPosition) {
  // A matching REJECT wins over everything, whatever the positions.
  Decision d = evaluate({policy("pool", L7Action::kRedirectToPool, 1, {always()}),
                         policy("url", L7Action::kRedirectToUrl, 1, {always()}),
                         policy("reject", L7Action::kReject, 9, {always()})});
  EXPECT_EQ(d.kind, Kind::kReject);
  EXPECT_EQ(d.status, 403);
  EXPECT_EQ(d.policy_id, "reject");

  // Redirects before pools; URL and prefix redirects share one group ordered by position.
  d = evaluate({policy("pool", L7Action::kRedirectToPool, 1, {always()}),
                policy("url", L7Action::kRedirectToUrl, 3, {always()}),
                policy("prefix", L7Action::kRedirectPrefix, 2, {always()})});
  EXPECT_EQ(d.policy_id, "prefix");
  d = evaluate({policy("pool", L7Action::kRedirectToPool, 1, {always()}),
                policy("url", L7Action::kRedirectToUrl, 2, {always()}),
                policy("prefix", L7Action::kRedirectPrefix, 3, {always()})});
  EXPECT_EQ(d.policy_id, "url");

  // Within a group: position, then document order; non-matching policies are passed over.
  d = evaluate({policy("r3", L7Action::kReject, 3, {always()}), policy("r1", L7Action::kReject, 1, {never()}),
                policy("r2", L7Action::kReject, 2, {always()})});
  EXPECT_EQ(d.policy_id, "r2");
  d = evaluate({policy("first", L7Action::kReject, 2, {always()}), policy("second", L7Action::kReject, 2, {always()})});
  EXPECT_EQ(d.policy_id, "first");

  // A REJECT that does not match lets the next group decide.
  d = evaluate({policy("reject", L7Action::kReject, 1, {never()}),
                policy("pool", L7Action::kRedirectToPool, 1, {always()})});
  EXPECT_EQ(d.kind, Kind::kPool);
  EXPECT_EQ(d.pool_index, 1);
}

TEST(L7Policies, RedirectsCarryTheirLocationAndCode) {
  config::L7Policy url = policy("url", L7Action::kRedirectToUrl, 1, {always()});
  url.redirect_http_code = 301;
  Decision d = evaluate({url});
  EXPECT_EQ(d.kind, Kind::kRedirect);
  EXPECT_EQ(d.status, 301);
  EXPECT_EQ(d.location, "https://elsewhere.example.com/x");

  Facts facts;
  facts.target_text = "/a/b?x=1&y=2";
  d = evaluate({policy("prefix", L7Action::kRedirectPrefix, 1, {always()})}, facts);
  EXPECT_EQ(d.kind, Kind::kRedirect);
  EXPECT_EQ(d.status, 302);  // the default
  EXPECT_EQ(d.location, "https://new.example.com/a/b?x=1&y=2");

  facts.target_text = "http://old.example.com/c?z";  // absolute-form: only path and query
  d = evaluate({policy("prefix", L7Action::kRedirectPrefix, 1, {always()})}, facts);
  EXPECT_EQ(d.location, "https://new.example.com/c?z");
}

TEST(L7Policies, RedirectToADisabledPoolIsSkipped) {
  config::L7Policy to_down = policy("to-down", L7Action::kRedirectToPool, 1, {always()});
  to_down.redirect_pool_id = "down";
  EXPECT_EQ(table({to_down}), nullptr);
  Decision d = evaluate({to_down, policy("to-other", L7Action::kRedirectToPool, 2, {always()})});
  EXPECT_EQ(d.kind, Kind::kPool);
  EXPECT_EQ(d.policy_id, "to-other");
  EXPECT_EQ(d.pool_index, 1);
}

TEST(L7Policies, TablesKnowWhetherTheyLookAtTheClientCertificate) {
  auto t = table({policy("p", L7Action::kReject, 1, {always()}),
                  policy("q", L7Action::kReject, 2, {rule(L7RuleType::kSslConnHasCert, kEqual, "True")})});
  ASSERT_NE(t, nullptr);
  EXPECT_TRUE(t->uses_client_certificate());
}

}  // namespace
}  // namespace pharos::l7
