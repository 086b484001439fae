#include "engine/l7/policy_table.h"

#include <strings.h>

#include <algorithm>
#include <charconv>

#include <re2/re2.h>

namespace pharos::l7 {

using config::L7Action;
using config::L7CompareType;
using config::L7RuleType;

struct PolicyTable::Rule {
  L7RuleType type = L7RuleType::kPath;
  L7CompareType compare = L7CompareType::kEqualTo;
  std::string key;
  std::string value;
  bool invert = false;
  bool ignore_case = false;     // HOST_NAME only, as HAProxy's -i in Octavia's template
  long number = -1;             // SSL_VERIFY_RESULT
  std::unique_ptr<RE2> regex;   // REGEX
};

struct PolicyTable::Policy {
  L7Action action = L7Action::kReject;
  std::string id;
  uint32_t position = 0;
  int pool_index = -1;   // REDIRECT_TO_POOL
  uint16_t status = 0;   // redirects
  std::string target;    // redirect_url or redirect_prefix
  std::vector<Rule> rules;
};

PolicyTable::PolicyTable() = default;
PolicyTable::~PolicyTable() = default;

size_t PolicyTable::size() const { return policies_.size(); }

namespace {

// HAProxy runs http-request deny, then the redirect rules, then use_backend.
int action_group(L7Action action) {
  switch (action) {
    case L7Action::kReject: return 0;
    case L7Action::kRedirectToUrl:
    case L7Action::kRedirectPrefix: return 1;
    case L7Action::kRedirectToPool: return 2;
  }
  return 3;
}

bool same_text(std::string_view a, std::string_view b, bool ignore_case) {
  if (a.size() != b.size()) return false;
  return ignore_case ? strncasecmp(a.data(), b.data(), a.size()) == 0 : a == b;
}

bool contains_text(std::string_view haystack, std::string_view needle, bool ignore_case) {
  if (!ignore_case) return haystack.find(needle) != std::string_view::npos;
  if (needle.size() > haystack.size()) return false;
  for (size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    if (same_text(haystack.substr(i, needle.size()), needle, true)) return true;
  }
  return false;
}

bool compare(const PolicyTable::Rule& rule, std::string_view subject) {
  const std::string_view value = rule.value;
  const bool icase = rule.ignore_case;
  switch (rule.compare) {
    case L7CompareType::kRegex: return RE2::PartialMatch(subject, *rule.regex);
    case L7CompareType::kStartsWith:
      return subject.size() >= value.size() && same_text(subject.substr(0, value.size()), value, icase);
    case L7CompareType::kEndsWith:
      return subject.size() >= value.size() &&
             same_text(subject.substr(subject.size() - value.size()), value, icase);
    case L7CompareType::kContains: return contains_text(subject, value, icase);
    case L7CompareType::kEqualTo:
      if (rule.type == L7RuleType::kFileType) {  // HAProxy's path_end: the path ends with it
        return subject.size() >= value.size() && subject.substr(subject.size() - value.size()) == value;
      }
      return same_text(subject, value, icase);
  }
  return false;
}

std::optional<std::string_view> subject_of(const PolicyTable::Rule& rule, const RequestFacts& request) {
  switch (rule.type) {
    case L7RuleType::kHostName: return request.host();
    case L7RuleType::kPath:
    case L7RuleType::kFileType: return path_of(request.target());
    case L7RuleType::kHeader: return request.header(rule.key);
    case L7RuleType::kCookie: return request.cookie(rule.key);
    case L7RuleType::kSslDnField: return request.client_subject_field(rule.key);
    case L7RuleType::kSslConnHasCert:
    case L7RuleType::kSslVerifyResult: break;
  }
  return std::nullopt;
}

bool rule_matches(const PolicyTable::Rule& rule, const RequestFacts& request) {
  bool matched = false;
  if (rule.type == L7RuleType::kSslConnHasCert) {
    matched = request.has_client_certificate();
  } else if (rule.type == L7RuleType::kSslVerifyResult) {
    matched = request.client_verify_result() == rule.number;
  } else if (auto subject = subject_of(rule, request)) {
    matched = compare(rule, *subject);
  }  // no such header, cookie or field: no match
  return matched != rule.invert;
}

PolicyTable::Rule compile_rule(const config::L7Rule& in) {
  PolicyTable::Rule rule;
  rule.type = in.type;
  rule.compare = in.compare_type;
  rule.key = in.key;
  rule.value = in.value;
  rule.invert = in.invert;
  rule.ignore_case = in.type == L7RuleType::kHostName;
  if (in.type == L7RuleType::kSslVerifyResult) {
    long number = 0;
    auto [end, error] = std::from_chars(in.value.data(), in.value.data() + in.value.size(), number);
    rule.number = error == std::errc() && end == in.value.data() + in.value.size() ? number : -1;
  }
  if (in.compare_type == L7CompareType::kRegex) {
    RE2::Options options;
    options.set_log_errors(false);
    options.set_case_sensitive(!rule.ignore_case);
    rule.regex = std::make_unique<RE2>(in.value, options);
  }
  return rule;
}

}  // namespace

std::shared_ptr<const PolicyTable> PolicyTable::build(const config::Listener& listener,
                                                      const std::vector<config::Pool>& pools) {
  auto table = std::make_shared<PolicyTable>();
  for (const auto& in : listener.l7policies) {
    if (!in.admin_state_up) continue;
    Policy policy;
    policy.action = in.action;
    policy.id = in.id;
    policy.position = in.position;
    if (in.action == L7Action::kRedirectToPool) {
      for (size_t i = 0; i < pools.size(); ++i) {
        if (pools[i].id == in.redirect_pool_id) policy.pool_index = static_cast<int>(i);
      }
      // A pool that is down administratively is skipped, as Octavia leaves out its use_backend.
      if (policy.pool_index < 0 || !pools[policy.pool_index].admin_state_up) continue;
    } else if (in.action != L7Action::kReject) {
      policy.status = in.redirect_http_code;
      policy.target = in.action == L7Action::kRedirectToUrl ? in.redirect_url : in.redirect_prefix;
    }
    for (const auto& rule : in.rules) {
      if (!rule.admin_state_up) continue;
      policy.rules.push_back(compile_rule(rule));
      if (rule.type == L7RuleType::kSslConnHasCert || rule.type == L7RuleType::kSslVerifyResult ||
          rule.type == L7RuleType::kSslDnField) {
        table->uses_client_certificate_ = true;
      }
    }
    if (policy.rules.empty()) continue;  // a policy without enabled rules never matches
    table->policies_.push_back(std::move(policy));
  }
  if (table->policies_.empty()) return nullptr;
  std::stable_sort(table->policies_.begin(), table->policies_.end(), [](const Policy& a, const Policy& b) {
    const int ga = action_group(a.action), gb = action_group(b.action);
    return ga != gb ? ga < gb : a.position < b.position;
  });
  return table;
}

Decision PolicyTable::evaluate(const RequestFacts& request) const {
  Decision decision;
  for (const auto& policy : policies_) {
    bool all = true;
    for (const auto& rule : policy.rules) {
      if (!rule_matches(rule, request)) {
        all = false;
        break;
      }
    }
    if (!all) continue;
    decision.policy_id = policy.id;
    switch (policy.action) {
      case L7Action::kReject:
        decision.kind = Decision::Kind::kReject;
        decision.status = 403;
        break;
      case L7Action::kRedirectToUrl:
        decision.kind = Decision::Kind::kRedirect;
        decision.status = policy.status;
        decision.location = policy.target;
        break;
      case L7Action::kRedirectPrefix:
        decision.kind = Decision::Kind::kRedirect;
        decision.status = policy.status;
        decision.location = policy.target;
        decision.location.append(path_and_query_of(request.target()));
        break;
      case L7Action::kRedirectToPool:
        decision.kind = Decision::Kind::kPool;
        decision.pool_index = policy.pool_index;
        break;
    }
    return decision;
  }
  return decision;
}

}  // namespace pharos::l7
