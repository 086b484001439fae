#include "amphora_agent/health/expected_codes.h"

#include <gtest/gtest.h>

namespace pharos::health {
namespace {

using Range = ExpectedCodes::Range;

TEST(ExpectedCodes, SingleCode) {
  auto codes = ExpectedCodes::parse("200");
  ASSERT_TRUE(codes);
  EXPECT_EQ(codes->ranges(), (std::vector<Range>{{200, 200}}));
  EXPECT_TRUE(codes->contains(200));
  EXPECT_FALSE(codes->contains(201));
}

TEST(ExpectedCodes, List) {
  auto codes = ExpectedCodes::parse("200,202");
  ASSERT_TRUE(codes);
  EXPECT_EQ(codes->ranges(), (std::vector<Range>{{200, 200}, {202, 202}}));
  EXPECT_TRUE(codes->contains(202));
  EXPECT_FALSE(codes->contains(201));
}

TEST(ExpectedCodes, Range) {
  auto codes = ExpectedCodes::parse("200-204");
  ASSERT_TRUE(codes);
  EXPECT_EQ(codes->ranges(), (std::vector<Range>{{200, 204}}));
  for (int c = 200; c <= 204; ++c) EXPECT_TRUE(codes->contains(c)) << c;
  EXPECT_FALSE(codes->contains(199));
  EXPECT_FALSE(codes->contains(205));
}

TEST(ExpectedCodes, MixedWithSpacesIsSorted) {
  auto codes = ExpectedCodes::parse(" 302 , 200-204,404");
  ASSERT_TRUE(codes);
  EXPECT_EQ(codes->ranges(), (std::vector<Range>{{200, 204}, {302, 302}, {404, 404}}));
}

TEST(ExpectedCodes, RejectsInvalid) {
  for (const char* bad : {"", " ", "20", "2000", "abc", "600", "099", "204-200", "200,", ",200", "200-",
                          "-200", "200-204-206", "200;202", "2o0"}) {
    std::string error;
    EXPECT_FALSE(ExpectedCodes::parse(bad, &error)) << "'" << bad << "'";
    EXPECT_FALSE(error.empty()) << "'" << bad << "'";
  }
}

}  // namespace
}  // namespace pharos::health
