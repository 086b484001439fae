#include "engine/l7/cookie.h"

#include <gtest/gtest.h>

#include "engine/l7/request_facts.h"

namespace pharos::l7 {
namespace {

TEST(FindCookie, FindsEachPairOfAField) {
  EXPECT_EQ(find_cookie("a=1; b=2", "a"), "1");
  EXPECT_EQ(find_cookie("a=1; b=2", "b"), "2");
  EXPECT_EQ(find_cookie("a=1;b=2", "b"), "2");
  EXPECT_EQ(find_cookie("  session = xyz  ", "session"), "xyz");
  EXPECT_EQ(find_cookie("a=", "a"), "");
  EXPECT_EQ(find_cookie("a=\"q v\"", "a"), "\"q v\"");
  EXPECT_EQ(find_cookie("a=x=y", "a"), "x=y");
}

TEST(FindCookie, FirstOccurrenceWins) { EXPECT_EQ(find_cookie("a=1; a=2", "a"), "1"); }

TEST(FindCookie, NamesAreExactAndCaseSensitive) {
  EXPECT_EQ(find_cookie("ab=1; b=2", "a"), std::nullopt);
  EXPECT_EQ(find_cookie("A=1", "a"), std::nullopt);
  EXPECT_EQ(find_cookie("xa=1", "a"), std::nullopt);
  EXPECT_EQ(find_cookie("b=a=1", "a"), std::nullopt);  // "a=1" is b's value
  EXPECT_EQ(find_cookie("", "a"), std::nullopt);
  EXPECT_EQ(find_cookie("a; b=2", "a"), std::nullopt);  // no '=': not a pair
  EXPECT_EQ(find_cookie(";;a=3;", "a"), "3");
}

TEST(RequestTarget, PathDropsTheQuery) {
  EXPECT_EQ(path_of("/a/b?x=1"), "/a/b");
  EXPECT_EQ(path_of("/a/b"), "/a/b");
  EXPECT_EQ(path_of("/?"), "/");
  EXPECT_EQ(path_of("http://h:80/p/q?z"), "/p/q");
  EXPECT_EQ(path_of("http://h"), "/");
  EXPECT_EQ(path_of("http://h?z=1"), "/");
  EXPECT_EQ(path_and_query_of("/a?b=c"), "/a?b=c");
  EXPECT_EQ(path_and_query_of("https://h/a?b=c"), "/a?b=c");
  EXPECT_EQ(path_and_query_of("https://h"), "/");
}

}  // namespace
}  // namespace pharos::l7
