// A small JSON Schema (draft 2020-12) validator for the keywords schema/ uses: type, properties,
// required, additionalProperties, items, enum, const, minimum, maximum, exclusiveMinimum,
// exclusiveMaximum, minLength, maxLength, minItems, maxItems, uniqueItems, pattern, allOf,
// anyOf, oneOf, not and $ref within the same document. Validation collects every error, each
// with the JSON pointer of the offending value. Compiling rejects any keyword it does not
// implement, so a schema cannot ask for a check the engine would silently skip. A "title" next
// to a "pattern" names what the pattern means ("an absolute path") for the error message.
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace pharos::config {

struct SchemaError {
  std::string path;     // JSON pointer into the instance; "" for the root
  std::string message;  // why, in words an operator understands
};

class JsonSchema {
 public:
  // Compiles a schema document. Throws std::invalid_argument naming the schema location of an
  // unsupported keyword, a malformed keyword value, an invalid regex or an unresolvable $ref.
  explicit JsonSchema(const nlohmann::json& schema);
  ~JsonSchema();
  JsonSchema(JsonSchema&&) noexcept;
  JsonSchema& operator=(JsonSchema&&) noexcept;

  // Every way the instance violates the schema, in document order; empty when it is valid.
  std::vector<SchemaError> validate(const nlohmann::json& instance) const;

 private:
  struct Compiled;
  std::unique_ptr<const Compiled> compiled_;
};

// Appends one reference token to a JSON pointer, escaping '~' and '/'.
std::string json_pointer_append(const std::string& pointer, const std::string& token);
std::string json_pointer_append(const std::string& pointer, size_t index);

}  // namespace pharos::config
