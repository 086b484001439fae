#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <string>

#include "engine/http1/message.h"

namespace pharos::http1 {
namespace {

TEST(ErrorName, EveryErrorHasADistinctSnakeCaseName) {
  std::set<std::string> names;
  for (size_t i = 0; i < kErrorCount; ++i) {
    const std::string name = error_name(static_cast<Error>(i));
    EXPECT_NE(name, "unknown") << i;
    for (char c : name) EXPECT_TRUE(std::islower(static_cast<unsigned char>(c)) || c == '_') << name;
    EXPECT_TRUE(names.insert(name).second) << name;
  }
  EXPECT_STREQ(error_name(Error::kNone), "none");
  EXPECT_STREQ(error_name(Error::kBadChunkSize), "bad_chunk_size");
  EXPECT_STREQ(error_name(Error::kConflictingFraming), "conflicting_framing");
}

}  // namespace
}  // namespace pharos::http1
