#include "engine/lb/function_ref.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace pharos::lb {
namespace {

bool is_even(uint32_t n) { return n % 2 == 0; }

int call(FunctionRef<int(int)> fn, int value) { return fn(value); }

TEST(FunctionRefTest, CallsPlainFunctionThroughTemporaryPointer) {
  FunctionRef<bool(uint32_t)> ref(&is_even);
  EXPECT_TRUE(ref(4));
  EXPECT_FALSE(ref(5));
  FunctionRef<bool(uint32_t)> by_name(is_even);
  EXPECT_TRUE(by_name(0));
}

TEST(FunctionRefTest, CallsCapturingLambdaAndSeesItsState) {
  int offset = 10;
  EXPECT_EQ(call([&](int v) { return v + offset; }, 5), 15);
  offset = 20;
  auto add = [&](int v) { return v + offset; };
  EXPECT_EQ(call(add, 1), 21);
}

TEST(FunctionRefTest, MutableCallableKeepsStateAcrossCalls) {
  int calls = 0;
  auto counter = [&calls](int v) mutable { return v + ++calls; };
  FunctionRef<int(int)> ref(counter);
  EXPECT_EQ(ref(0), 1);
  EXPECT_EQ(ref(0), 2);
  EXPECT_EQ(calls, 2);
}

TEST(FunctionRefTest, CopiesReferToTheSameCallable) {
  int calls = 0;
  auto f = [&calls](int) { return ++calls; };
  FunctionRef<int(int)> a(f);
  FunctionRef<int(int)> b = a;
  a(0);
  b(0);
  EXPECT_EQ(calls, 2);
  static_assert(sizeof(FunctionRef<int(int)>) <= 2 * sizeof(void*));
}

}  // namespace
}  // namespace pharos::lb
