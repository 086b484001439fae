#include "engine/config/json_schema.h"

#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <stdexcept>
#include <utility>

#include <nlohmann/json.hpp>

namespace pharos::config {

using nlohmann::json;

std::string json_pointer_append(const std::string& pointer, const std::string& token) {
  std::string out = pointer;
  out.reserve(pointer.size() + token.size() + 1);
  out += '/';
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string json_pointer_append(const std::string& pointer, size_t index) {
  return pointer + "/" + std::to_string(index);
}

namespace {

enum TypeBit : unsigned {
  kNull = 1u << 0,
  kBoolean = 1u << 1,
  kObject = 1u << 2,
  kArray = 1u << 3,
  kNumber = 1u << 4,
  kInteger = 1u << 5,
  kString = 1u << 6,
};

const std::pair<const char*, TypeBit> kTypeNames[] = {
    {"null", kNull},     {"boolean", kBoolean}, {"object", kObject}, {"array", kArray},
    {"number", kNumber}, {"integer", kInteger}, {"string", kString},
};

// Keywords that only annotate; accepted and ignored.
const std::set<std::string> kAnnotations = {
    "$schema", "$id",      "$comment",   "$defs",    "title",     "description",
    "default", "examples", "deprecated", "readOnly", "writeOnly",
};

struct Node {
  std::string location;          // JSON pointer of this subschema in the schema document
  std::optional<bool> constant;  // boolean schema: true accepts all, false rejects all
  unsigned types = 0;            // 0: any type
  std::map<std::string, const Node*> properties;
  std::vector<std::string> required;
  const Node* additional = nullptr;
  const Node* items = nullptr;
  std::optional<std::vector<json>> enum_values;
  std::optional<json> const_value;
  std::optional<json> minimum, maximum, exclusive_minimum, exclusive_maximum;
  std::optional<uint64_t> min_length, max_length, min_items, max_items;
  bool unique_items = false;
  std::optional<std::regex> pattern;
  std::string pattern_text;
  std::string title;  // names what a pattern describes, for the error message
  std::vector<const Node*> all_of, any_of, one_of;
  const Node* negated = nullptr;
  std::string ref;
  const Node* ref_target = nullptr;
};

[[noreturn]] void fail(const std::string& location, const std::string& what) {
  throw std::invalid_argument("schema " + (location.empty() ? std::string("(root)") : location) +
                              ": " + what);
}

bool is_integral(const json& v) {
  if (v.is_number_integer()) return true;
  if (!v.is_number_float()) return false;
  double d = v.get<double>();
  return std::isfinite(d) && std::floor(d) == d;
}

bool has_type(const json& v, unsigned bit) {
  switch (bit) {
    case kNull:
      return v.is_null();
    case kBoolean:
      return v.is_boolean();
    case kObject:
      return v.is_object();
    case kArray:
      return v.is_array();
    case kNumber:
      return v.is_number();
    case kInteger:
      return is_integral(v);
    case kString:
      return v.is_string();
  }
  return false;
}

// -1, 0 or 1 as a < b, a == b, a > b, exact for any mix of int64, uint64 and double.
int compare_numbers(const json& a, const json& b) {
  if (a.is_number_float() || b.is_number_float()) {
    long double x = a.get<long double>();
    long double y = b.get<long double>();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  const bool a_neg = a.is_number_integer() && !a.is_number_unsigned() && a.get<int64_t>() < 0;
  const bool b_neg = b.is_number_integer() && !b.is_number_unsigned() && b.get<int64_t>() < 0;
  if (a_neg != b_neg) return a_neg ? -1 : 1;
  if (a_neg) {
    int64_t x = a.get<int64_t>(), y = b.get<int64_t>();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  uint64_t x = a.get<uint64_t>(), y = b.get<uint64_t>();
  return x < y ? -1 : (x > y ? 1 : 0);
}

// Containers nested deeper than this compare unequal rather than exhaust the stack on a
// hostile document; no schema here nests anywhere near it.
constexpr int kMaxCompareDepth = 128;

// JSON Schema equality: numbers by value (1 == 1.0), containers deeply, booleans are not numbers.
bool json_equal(const json& a, const json& b, int depth = 0) {
  if (a.is_number() && b.is_number()) return compare_numbers(a, b) == 0;
  if (a.type() != b.type()) return false;
  if ((a.is_array() || a.is_object()) && depth >= kMaxCompareDepth) return false;
  if (a.is_array()) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!json_equal(a[i], b[i], depth + 1)) return false;
    }
    return true;
  }
  if (a.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto it = a.begin(); it != a.end(); ++it) {
      auto other = b.find(it.key());
      if (other == b.end() || !json_equal(it.value(), *other, depth + 1)) return false;
    }
    return true;
  }
  return a == b;
}

// Unicode code points in a UTF-8 string, which is what minLength and maxLength count.
uint64_t code_points(const std::string& s) {
  uint64_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xc0) != 0x80) ++n;
  }
  return n;
}

std::string type_name(const json& v) {
  if (is_integral(v)) return "integer";
  if (v.is_number()) return "number";
  return v.type_name();
}

std::string article(const std::string& word) {
  return (word[0] == 'a' || word[0] == 'i' || word[0] == 'o') ? "an " + word : "a " + word;
}

std::string describe_types(unsigned types) {
  std::string out;
  for (const auto& [name, bit] : kTypeNames) {
    if (!(types & bit)) continue;
    if (!out.empty()) out += " or ";
    out += article(name);
  }
  return out;
}

// A value as it appears in a message: scalars as JSON (long strings cut short), containers by
// their kind, so a hostile document cannot make the message huge.
std::string show(const json& v) {
  if (v.is_object()) return "an object";
  if (v.is_array()) return "an array";
  if (v.is_string() && v.get_ref<const std::string&>().size() > 64) {
    return json(v.get_ref<const std::string&>().substr(0, 64)).dump() + "...";
  }
  return v.dump();
}

class Compiler {
 public:
  explicit Compiler(const json& root) : root_(root) {}

  const Node* compile_root() {
    const Node* root = compile(root_, "");
    // $ref targets may themselves hold refs, so resolve until nothing new was compiled.
    for (size_t i = 0; i < nodes_.size(); ++i) resolve(*nodes_[i]);
    std::map<const Node*, int> state;
    for (const auto& node : nodes_) reject_cycles(*node, state);
    return root;
  }

  std::vector<std::unique_ptr<Node>> take_nodes() { return std::move(nodes_); }

 private:
  const Node* compile(const json& schema, const std::string& location) {
    if (auto it = by_location_.find(location); it != by_location_.end()) return it->second;
    auto owned = std::make_unique<Node>();
    Node* node = owned.get();
    nodes_.push_back(std::move(owned));
    by_location_[location] = node;
    node->location = location;

    if (schema.is_boolean()) {
      node->constant = schema.get<bool>();
      return node;
    }
    if (!schema.is_object()) fail(location, "a schema must be an object or a boolean");

    for (auto it = schema.begin(); it != schema.end(); ++it) {
      const std::string& key = it.key();
      const json& value = it.value();
      const std::string at = json_pointer_append(location, key);
      if (key == "$defs") {
        if (!value.is_object()) fail(at, "must be an object");
        for (auto def = value.begin(); def != value.end(); ++def) {
          compile(def.value(), json_pointer_append(at, def.key()));
        }
      } else if (kAnnotations.count(key)) {
        if (key == "title" && value.is_string()) node->title = value.get<std::string>();
      } else if (key == "type") {
        node->types = parse_types(value, at);
      } else if (key == "properties") {
        if (!value.is_object()) fail(at, "must be an object");
        for (auto prop = value.begin(); prop != value.end(); ++prop) {
          node->properties[prop.key()] = compile(prop.value(), json_pointer_append(at, prop.key()));
        }
      } else if (key == "required") {
        if (!value.is_array()) fail(at, "must be an array of strings");
        for (const auto& name : value) {
          if (!name.is_string()) fail(at, "must be an array of strings");
          node->required.push_back(name.get<std::string>());
        }
      } else if (key == "additionalProperties") {
        node->additional = compile(value, at);
      } else if (key == "items") {
        node->items = compile(value, at);
      } else if (key == "enum") {
        if (!value.is_array() || value.empty()) fail(at, "must be a non-empty array");
        node->enum_values = std::vector<json>(value.begin(), value.end());
      } else if (key == "const") {
        node->const_value = value;
      } else if (key == "minimum") {
        node->minimum = number(value, at);
      } else if (key == "maximum") {
        node->maximum = number(value, at);
      } else if (key == "exclusiveMinimum") {
        node->exclusive_minimum = number(value, at);
      } else if (key == "exclusiveMaximum") {
        node->exclusive_maximum = number(value, at);
      } else if (key == "minLength") {
        node->min_length = count(value, at);
      } else if (key == "maxLength") {
        node->max_length = count(value, at);
      } else if (key == "minItems") {
        node->min_items = count(value, at);
      } else if (key == "maxItems") {
        node->max_items = count(value, at);
      } else if (key == "uniqueItems") {
        if (!value.is_boolean()) fail(at, "must be a boolean");
        node->unique_items = value.get<bool>();
      } else if (key == "pattern") {
        if (!value.is_string()) fail(at, "must be a string");
        node->pattern_text = value.get<std::string>();
        try {
          node->pattern.emplace(node->pattern_text, std::regex::ECMAScript);
        } catch (const std::regex_error& e) {
          fail(at, std::string("invalid regular expression: ") + e.what());
        }
      } else if (key == "allOf" || key == "anyOf" || key == "oneOf") {
        if (!value.is_array() || value.empty()) fail(at, "must be a non-empty array of schemas");
        auto& list = key == "allOf" ? node->all_of : key == "anyOf" ? node->any_of : node->one_of;
        for (size_t i = 0; i < value.size(); ++i) {
          list.push_back(compile(value[i], json_pointer_append(at, i)));
        }
      } else if (key == "not") {
        node->negated = compile(value, at);
      } else if (key == "$ref") {
        if (!value.is_string()) fail(at, "must be a string");
        node->ref = value.get<std::string>();
        if (node->ref.empty() || node->ref[0] != '#') {
          fail(at, "only references within this document (\"#...\") are supported");
        }
      } else {
        fail(at, "unsupported keyword \"" + key + "\"");
      }
    }
    return node;
  }

  void resolve(Node& node) {
    if (node.ref.empty() || node.ref_target) return;
    const std::string pointer = node.ref.substr(1);
    if (auto it = by_location_.find(pointer); it != by_location_.end()) {
      node.ref_target = it->second;
      return;
    }
    const std::string at = json_pointer_append(node.location, "$ref");
    try {
      json::json_pointer target(pointer);
      if (!root_.contains(target)) fail(at, "unresolvable reference \"" + node.ref + "\"");
      node.ref_target = compile(root_.at(target), pointer);
    } catch (const json::exception& e) {
      fail(at, "bad reference \"" + node.ref + "\": " + e.what());
    }
  }

  // A loop of $ref/allOf/anyOf/oneOf/not that never descends into the instance would recurse
  // forever during validation; refuse it here. state: 1 while visiting, 2 when done.
  static void reject_cycles(const Node& node, std::map<const Node*, int>& state) {
    int& mark = state[&node];
    if (mark == 2) return;
    if (mark == 1) fail(node.location, "reference cycle that never reaches a value");
    mark = 1;
    std::vector<const Node*> same_value = {node.ref_target, node.negated};
    for (const auto* list : {&node.all_of, &node.any_of, &node.one_of}) {
      same_value.insert(same_value.end(), list->begin(), list->end());
    }
    for (const Node* next : same_value) {
      if (next) reject_cycles(*next, state);
    }
    state[&node] = 2;
  }

  static unsigned parse_types(const json& value, const std::string& at) {
    auto one = [&](const json& name) -> unsigned {
      if (name.is_string()) {
        for (const auto& [type, bit] : kTypeNames) {
          if (name.get<std::string>() == type) return bit;
        }
      }
      fail(at, "unknown type " + name.dump());
    };
    if (value.is_string()) return one(value);
    if (!value.is_array() || value.empty()) fail(at, "must be a type name or a list of them");
    unsigned bits = 0;
    for (const auto& name : value) bits |= one(name);
    return bits;
  }

  static json number(const json& value, const std::string& at) {
    if (!value.is_number()) fail(at, "must be a number");
    return value;
  }

  static uint64_t count(const json& value, const std::string& at) {
    if (!is_integral(value) || compare_numbers(value, json(0)) < 0) {
      fail(at, "must be a non-negative integer");
    }
    return value.get<uint64_t>();
  }

  const json& root_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::map<std::string, Node*> by_location_;
};

class Validator {
 public:
  explicit Validator(std::vector<SchemaError>& errors) : errors_(errors) {}

  void check(const Node& node, const json& value, const std::string& path) {
    if (node.constant) {
      if (!*node.constant) add(path, "is not allowed here");
      return;
    }
    if (node.ref_target) check(*node.ref_target, value, path);
    if (node.types && !matches_type(node.types, value)) {
      // Every other keyword would only restate the type mismatch.
      add(path, "must be " + describe_types(node.types) + ", not " + article(type_name(value)));
      return;
    }
    if (node.enum_values) check_enum(node, value, path);
    if (node.const_value && !json_equal(*node.const_value, value)) {
      add(path, "must be " + show(*node.const_value));
    }
    if (value.is_number()) check_number(node, value, path);
    if (value.is_string()) check_string(node, value.get_ref<const std::string&>(), path);
    if (value.is_array()) check_array(node, value, path);
    if (value.is_object()) check_object(node, value, path);
    check_combinators(node, value, path);
  }

 private:
  static bool matches_type(unsigned types, const json& value) {
    for (const auto& [name, bit] : kTypeNames) {
      if ((types & bit) && has_type(value, bit)) return true;
    }
    return false;
  }

  void add(const std::string& path, std::string message) {
    errors_.push_back(SchemaError{path, std::move(message)});
  }

  void check_enum(const Node& node, const json& value, const std::string& path) {
    for (const auto& allowed : *node.enum_values) {
      if (json_equal(allowed, value)) return;
    }
    std::string list;
    for (const auto& allowed : *node.enum_values) {
      if (!list.empty()) list += ", ";
      list += show(allowed);
    }
    add(path, "must be one of " + list + ", not " + show(value));
  }

  void check_number(const Node& node, const json& value, const std::string& path) {
    if (node.minimum && compare_numbers(value, *node.minimum) < 0) {
      add(path, "must be at least " + show(*node.minimum) + ", not " + show(value));
    }
    if (node.maximum && compare_numbers(value, *node.maximum) > 0) {
      add(path, "must be at most " + show(*node.maximum) + ", not " + show(value));
    }
    if (node.exclusive_minimum && compare_numbers(value, *node.exclusive_minimum) <= 0) {
      add(path, "must be greater than " + show(*node.exclusive_minimum));
    }
    if (node.exclusive_maximum && compare_numbers(value, *node.exclusive_maximum) >= 0) {
      add(path, "must be less than " + show(*node.exclusive_maximum));
    }
  }

  void check_string(const Node& node, const std::string& value, const std::string& path) {
    const uint64_t length = code_points(value);
    if (node.min_length && length < *node.min_length) {
      add(path, *node.min_length == 1
                    ? std::string("must not be empty")
                    : "must be at least " + std::to_string(*node.min_length) + " characters long");
    }
    if (node.max_length && length > *node.max_length) {
      add(path, "must be at most " + std::to_string(*node.max_length) + " characters long, not " +
                    std::to_string(length));
    }
    if (node.pattern && !std::regex_search(value, *node.pattern)) {
      // A title says what the pattern means; the raw regex is the fallback.
      add(path, show(json(value)) + (node.title.empty()
                                         ? " does not match the pattern " + node.pattern_text
                                         : " is not " + node.title));
    }
  }

  void check_array(const Node& node, const json& value, const std::string& path) {
    if (node.min_items && value.size() < *node.min_items) {
      add(path, "must have at least " + std::to_string(*node.min_items) + " items");
    }
    if (node.max_items && value.size() > *node.max_items) {
      add(path, "must have at most " + std::to_string(*node.max_items) + " items, not " +
                    std::to_string(value.size()));
    }
    if (node.unique_items) {
      for (size_t i = 1; i < value.size(); ++i) {
        for (size_t j = 0; j < i; ++j) {
          if (json_equal(value[i], value[j])) {
            add(json_pointer_append(path, i), "duplicates item " + std::to_string(j));
            break;
          }
        }
      }
    }
    if (node.items) {
      for (size_t i = 0; i < value.size(); ++i) {
        check(*node.items, value[i], json_pointer_append(path, i));
      }
    }
  }

  void check_object(const Node& node, const json& value, const std::string& path) {
    for (const auto& name : node.required) {
      if (!value.contains(name)) add(json_pointer_append(path, name), "required field is missing");
    }
    for (auto it = value.begin(); it != value.end(); ++it) {
      const std::string child = json_pointer_append(path, it.key());
      if (auto prop = node.properties.find(it.key()); prop != node.properties.end()) {
        check(*prop->second, it.value(), child);
      } else if (node.additional) {
        if (node.additional->constant == false) {
          add(child, "unknown field \"" + it.key() + "\"");
        } else {
          check(*node.additional, it.value(), child);
        }
      }
    }
  }

  // Errors of one branch, kept aside so a failing anyOf/oneOf can explain itself in one line.
  std::vector<SchemaError> branch_errors(const Node& node, const json& value,
                                         const std::string& path) {
    std::vector<SchemaError> errors;
    Validator(errors).check(node, value, path);
    return errors;
  }

  static std::string summarize(const std::vector<SchemaError>& errors, const std::string& path) {
    std::string out;
    for (const auto& e : errors) {
      if (!out.empty()) out += ", ";
      if (e.path != path) out += e.path.substr(path.size()) + " ";
      out += e.message;
    }
    return out;
  }

  void check_combinators(const Node& node, const json& value, const std::string& path) {
    for (const Node* sub : node.all_of) check(*sub, value, path);
    if (!node.any_of.empty()) {
      std::vector<std::string> reasons;
      bool matched = false;
      for (const Node* sub : node.any_of) {
        auto errors = branch_errors(*sub, value, path);
        if (errors.empty()) {
          matched = true;
          break;
        }
        reasons.push_back(summarize(errors, path));
      }
      if (!matched) add(path, join_alternatives(reasons));
    }
    if (!node.one_of.empty()) {
      std::vector<std::string> reasons;
      std::vector<size_t> matches;
      for (size_t i = 0; i < node.one_of.size(); ++i) {
        auto errors = branch_errors(*node.one_of[i], value, path);
        if (errors.empty()) {
          matches.push_back(i);
        } else {
          reasons.push_back(summarize(errors, path));
        }
      }
      if (matches.empty()) {
        add(path, join_alternatives(reasons));
      } else if (matches.size() > 1) {
        add(path, "matches more than one allowed form (" + std::to_string(matches[0]) + " and " +
                      std::to_string(matches[1]) + ")");
      }
    }
    if (node.negated && branch_errors(*node.negated, value, path).empty()) {
      add(path, "matches a form that is not allowed");
    }
  }

  static std::string join_alternatives(const std::vector<std::string>& reasons) {
    std::string out = "matches none of the allowed forms: ";
    for (size_t i = 0; i < reasons.size(); ++i) {
      if (i) out += "; or ";
      out += reasons[i];
    }
    return out;
  }

  std::vector<SchemaError>& errors_;
};

}  // namespace

struct JsonSchema::Compiled {
  std::vector<std::unique_ptr<Node>> nodes;
  const Node* root = nullptr;
};

JsonSchema::JsonSchema(const json& schema) {
  auto compiled = std::make_unique<Compiled>();
  Compiler compiler(schema);
  compiled->root = compiler.compile_root();
  compiled->nodes = compiler.take_nodes();
  compiled_ = std::move(compiled);
}

JsonSchema::~JsonSchema() = default;
JsonSchema::JsonSchema(JsonSchema&&) noexcept = default;
JsonSchema& JsonSchema::operator=(JsonSchema&&) noexcept = default;

std::vector<SchemaError> JsonSchema::validate(const json& instance) const {
  std::vector<SchemaError> errors;
  Validator(errors).check(*compiled_->root, instance, "");
  return errors;
}

}  // namespace pharos::config
