#include "engine/config/json_schema.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/config/engine_config_schema.h"

namespace pharos::config {
namespace {

using nlohmann::json;

std::vector<SchemaError> check(const char* schema, const char* instance) {
  return JsonSchema(json::parse(schema)).validate(json::parse(instance));
}

std::vector<std::string> paths(const std::vector<SchemaError>& errors) {
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.path);
  return out;
}

using Paths = std::vector<std::string>;

TEST(JsonSchema, Types) {
  EXPECT_TRUE(check(R"({"type":"integer"})", "3").empty());
  EXPECT_TRUE(check(R"({"type":"integer"})", "-3").empty());
  // Draft 2020-12: a number with no fractional part is an integer.
  EXPECT_TRUE(check(R"({"type":"integer"})", "3.0").empty());
  EXPECT_EQ(paths(check(R"({"type":"integer"})", "3.5")), Paths{""});
  EXPECT_EQ(paths(check(R"({"type":"integer"})", "true")), Paths{""});
  EXPECT_TRUE(check(R"({"type":"number"})", "3").empty());
  EXPECT_TRUE(check(R"({"type":["string","null"]})", "null").empty());
  auto errors = check(R"({"type":"string"})", "12");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, "must be a string, not an integer");
  errors = check(R"({"type":"boolean"})", R"("yes")");
  EXPECT_EQ(errors[0].message, "must be a boolean, not a string");
}

TEST(JsonSchema, TypeMismatchIsOneError) {
  EXPECT_EQ(check(R"({"type":"string","enum":["a"],"minLength":3})", "5").size(), 1u);
}

TEST(JsonSchema, RequiredNamesTheMissingField) {
  auto errors = check(R"({"type":"object","required":["a","b"]})", R"({"b":1})");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "/a");
  EXPECT_EQ(errors[0].message, "required field is missing");
}

TEST(JsonSchema, AdditionalPropertiesFalseNamesEachUnknownField) {
  const char* schema = R"({"type":"object","additionalProperties":false,
                           "properties":{"a":{"type":"integer"}}})";
  auto errors = check(schema, R"({"a":1,"b":2,"c/d~":3})");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].path, "/b");
  EXPECT_EQ(errors[0].message, "unknown field \"b\"");
  EXPECT_EQ(errors[1].path, "/c~1d~0");  // JSON pointer escaping
  EXPECT_EQ(errors[1].message, "unknown field \"c/d~\"");
}

TEST(JsonSchema, AdditionalPropertiesSchema) {
  const char* schema = R"({"type":"object","additionalProperties":{"type":"string"}})";
  EXPECT_TRUE(check(schema, R"({"a":"x"})").empty());
  EXPECT_EQ(paths(check(schema, R"({"a":"x","b":1})")), Paths{"/b"});
}

TEST(JsonSchema, EnumAndConst) {
  EXPECT_TRUE(check(R"({"enum":["A","B",1.0]})", R"("B")").empty());
  EXPECT_TRUE(check(R"({"enum":["A","B",1.0]})", "1").empty());  // 1 == 1.0
  auto errors = check(R"({"enum":["A","B"]})", R"("C")");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, R"(must be one of "A", "B", not "C")");
  EXPECT_FALSE(check(R"({"enum":[1]})", "true").empty());  // booleans are not numbers
  EXPECT_TRUE(check(R"({"const":-1})", "-1").empty());
  EXPECT_EQ(check(R"({"const":-1})", "1")[0].message, "must be -1");
  EXPECT_TRUE(check(R"({"const":{"a":[1,2]}})", R"({"a":[1,2.0]})").empty());
}

TEST(JsonSchema, NumericBounds) {
  const char* schema = R"({"type":"integer","minimum":1,"maximum":65535})";
  EXPECT_TRUE(check(schema, "1").empty());
  EXPECT_TRUE(check(schema, "65535").empty());
  EXPECT_EQ(check(schema, "0")[0].message, "must be at least 1, not 0");
  EXPECT_EQ(check(schema, "65536")[0].message, "must be at most 65535, not 65536");
  EXPECT_FALSE(check(schema, "-9223372036854775808").empty());
  EXPECT_FALSE(check(schema, "18446744073709551615").empty());
  EXPECT_FALSE(check(R"({"maximum":1.5})", "1.6").empty());
  EXPECT_TRUE(check(R"({"maximum":1.5})", "1").empty());
  EXPECT_FALSE(check(R"({"exclusiveMinimum":0})", "0").empty());
  EXPECT_TRUE(check(R"({"exclusiveMinimum":0})", "0.1").empty());
  EXPECT_FALSE(check(R"({"exclusiveMaximum":10})", "10").empty());
  // Bounds apply to numbers only.
  EXPECT_TRUE(check(R"({"minimum":5})", R"("x")").empty());
}

TEST(JsonSchema, StringLengthCountsCharacters) {
  const char* schema = R"({"type":"string","minLength":1,"maxLength":3})";
  EXPECT_EQ(check(schema, R"("")")[0].message, "must not be empty");
  EXPECT_TRUE(check(schema, R"("abc")").empty());
  EXPECT_TRUE(check(schema, "\"\xc3\xa9\xc3\xa9\xc3\xa9\"").empty());  // 3 characters, 6 bytes
  EXPECT_FALSE(check(schema, R"("abcd")").empty());
}

TEST(JsonSchema, PatternSearchesUnlessAnchored) {
  EXPECT_TRUE(check(R"({"pattern":"b"})", R"("abc")").empty());
  EXPECT_FALSE(check(R"({"pattern":"^b"})", R"("abc")").empty());
  EXPECT_TRUE(check(R"({"pattern":"^$|^/"})", R"("")").empty());
  EXPECT_EQ(check(R"({"pattern":"^a$"})", R"("b")")[0].message,
            "\"b\" does not match the pattern ^a$");
  EXPECT_EQ(check(R"({"pattern":"^a$","title":"the letter a"})", R"("b")")[0].message,
            "\"b\" is not the letter a");
}

TEST(JsonSchema, ArrayKeywords) {
  const char* schema = R"({"type":"array","minItems":1,"maxItems":3,"uniqueItems":true,
                           "items":{"type":"integer"}})";
  EXPECT_TRUE(check(schema, "[1,2,3]").empty());
  EXPECT_EQ(check(schema, "[]")[0].message, "must have at least 1 items");
  EXPECT_EQ(paths(check(schema, "[1,2,3,4]")), Paths{""});
  EXPECT_EQ(paths(check(schema, R"([1,"x",3])")), Paths{"/1"});
  auto errors = check(schema, "[1,2,1.0]");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "/2");
  EXPECT_EQ(errors[0].message, "duplicates item 0");
}

TEST(JsonSchema, AnyOfExplainsEveryBranch) {
  const char* schema = R"({"type":"integer","anyOf":[{"const":-1},{"minimum":1}]})";
  EXPECT_TRUE(check(schema, "-1").empty());
  EXPECT_TRUE(check(schema, "5").empty());
  auto errors = check(schema, "0");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "");
  EXPECT_EQ(errors[0].message,
            "matches none of the allowed forms: must be -1; or must be at least 1, not 0");
}

TEST(JsonSchema, OneOfNeedsExactlyOne) {
  const char* schema = R"({"oneOf":[{"type":"integer"},{"minimum":0}]})";
  EXPECT_TRUE(check(schema, "-1").empty());
  EXPECT_TRUE(check(schema, "0.5").empty());
  auto errors = check(schema, "3");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, "matches more than one allowed form (0 and 1)");
  EXPECT_EQ(check(schema, "-0.5").size(), 1u);
}

TEST(JsonSchema, AllOfAndNot) {
  const char* schema = R"({"allOf":[{"minimum":1},{"maximum":3}],"not":{"const":2}})";
  EXPECT_TRUE(check(schema, "1").empty());
  EXPECT_EQ(check(schema, "2").size(), 1u);
  EXPECT_EQ(check(schema, "4").size(), 1u);
}

TEST(JsonSchema, RefsIntoDefs) {
  const char* schema = R"({
    "type":"object",
    "properties":{"port":{"$ref":"#/$defs/port"},"list":{"type":"array","items":{"$ref":"#"}}},
    "$defs":{"port":{"type":"integer","minimum":1}}})";
  EXPECT_TRUE(check(schema, R"({"port":1,"list":[{"port":2}]})").empty());
  EXPECT_EQ(paths(check(schema, R"({"port":0,"list":[{"port":"x"},{"list":[{"port":0}]}]})")),
            (Paths{"/list/0/port", "/list/1/list/0/port", "/port"}));
}

TEST(JsonSchema, BooleanSchemas) {
  EXPECT_TRUE(check("true", "[1]").empty());
  EXPECT_EQ(check("false", "1")[0].message, "is not allowed here");
}

TEST(JsonSchema, CollectsEveryError) {
  const char* schema = R"({"type":"object","required":["id"],"additionalProperties":false,
    "properties":{"a":{"type":"integer"},"b":{"type":"string","maxLength":1}}})";
  EXPECT_EQ(paths(check(schema, R"({"a":"x","b":"long","c":1})")),
            (Paths{"/id", "/a", "/b", "/c"}));
}

TEST(JsonSchema, RejectsWhatItCannotCheck) {
  auto compile = [](const char* schema) { JsonSchema s(json::parse(schema)); };
  EXPECT_THROW(compile(R"({"format":"ipv4"})"), std::invalid_argument);
  EXPECT_THROW(compile(R"({"properties":{"a":{"if":{}}}})"), std::invalid_argument);
  EXPECT_THROW(compile(R"({"$ref":"#/$defs/missing"})"), std::invalid_argument);
  EXPECT_THROW(compile(R"({"$ref":"other.json#/x"})"), std::invalid_argument);
  EXPECT_THROW(compile(R"({"pattern":"("})"), std::invalid_argument);
  EXPECT_THROW(compile(R"({"type":"text"})"), std::invalid_argument);
  EXPECT_THROW(compile(R"({"minLength":-1})"), std::invalid_argument);
  EXPECT_THROW(compile(R"({"enum":[]})"), std::invalid_argument);
  EXPECT_THROW(compile("3"), std::invalid_argument);
  // Cycles that never descend into the value would recurse forever.
  EXPECT_THROW(
      compile(R"({"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"anyOf":[{"$ref":"#/$defs/a"}]}}})"),
      std::invalid_argument);
  try {
    compile(R"({"properties":{"x":{"format":"uri"}}})");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("/properties/x/format"), std::string::npos) << e.what();
  }
}

TEST(JsonSchema, DeeplyNestedValuesAreSafe) {
  std::string deep(100000, '[');
  deep += std::string(100000, ']');
  std::string doc = "[" + deep + "," + deep + "]";
  auto errors = check(R"({"uniqueItems":true,"items":{"type":"string"}})", doc.c_str());
  EXPECT_EQ(paths(errors), (Paths{"/0", "/1"}));
}

TEST(EngineConfigSchema, EmbeddedTextIsTheSchemaFile) {
  std::ifstream in("schema/engine-config.schema.json");
  ASSERT_TRUE(in) << "tests run from the repository root";
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(engine_config_schema_text(), text.str());
}

TEST(EngineConfigSchema, Compiles) {
  EXPECT_TRUE(engine_config_schema().validate(json{{"version", 1}}).empty());
  EXPECT_FALSE(engine_config_schema().validate(json::object()).empty());
}

}  // namespace
}  // namespace pharos::config
