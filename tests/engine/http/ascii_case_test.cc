#include "engine/http/ascii_case.h"

#include <gtest/gtest.h>

#include <string>

namespace pharos::http {
namespace {

TEST(AsciiCaseTest, LowersOnlyAsciiCapitals) {
  EXPECT_EQ(ascii_lowercase("Content-TYPE"), "content-type");
  // The neighbours of 'A'..'Z' and bytes above 0x7F (UTF-8, Latin-1) are left as they are.
  EXPECT_EQ(ascii_lowercase("@AZ[`az{"), "@az[`az{");
  const std::string high("\xC4\xD6\xDC\xC0", 4);
  EXPECT_EQ(ascii_lowercase(high), high);
  EXPECT_EQ(ascii_lowercase(""), "");
}

}  // namespace
}  // namespace pharos::http
