// mvmctl's own fegetround and fesetround (cli/rounding_mode.cc), which this binary links in place
// of libm's: the mode they set must reach both the SSE unit (double) and the x87 unit (long
// double).

#include <gtest/gtest.h>

#include <cfenv>
#include <cmath>

namespace {

#if defined(__x86_64__)

// Volatile, so that the compiler rounds at run time, in the mode set then.
volatile double half = 2.5;
volatile long double long_half = 2.5L;

class RoundingModeTest : public testing::Test {
 protected:
  void TearDown() override { std::fesetround(FE_TONEAREST); }
};

TEST_F(RoundingModeTest, EachModeReachesBothFloatingPointUnits) {
  struct Case {
    int mode;
    double positive;  // 2.5 rounded to an integer in that mode
    double negative;  // -2.5
  };
  for (const Case& c : {Case{FE_TONEAREST, 2, -2}, Case{FE_DOWNWARD, 2, -3}, Case{FE_UPWARD, 3, -2},
                        Case{FE_TOWARDZERO, 2, -2}}) {
    SCOPED_TRACE(c.mode);
    ASSERT_EQ(std::fesetround(c.mode), 0);
    EXPECT_EQ(std::fegetround(), c.mode);
    EXPECT_EQ(std::nearbyint(half), c.positive);
    EXPECT_EQ(std::nearbyint(-half), c.negative);
    EXPECT_EQ(std::nearbyintl(long_half), static_cast<long double>(c.positive));
    EXPECT_EQ(std::nearbyintl(-long_half), static_cast<long double>(c.negative));
  }
}

TEST_F(RoundingModeTest, AnUnknownModeIsRefusedAndChangesNothing) {
  ASSERT_EQ(std::fesetround(FE_UPWARD), 0);
  EXPECT_NE(std::fesetround(0x1234), 0);
  EXPECT_EQ(std::fegetround(), FE_UPWARD);
  EXPECT_EQ(std::nearbyint(half), 3);
}

#endif  // __x86_64__

}  // namespace
