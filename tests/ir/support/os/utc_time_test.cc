#include "ir/support/os/utc_time.h"

#include <gtest/gtest.h>

#include <regex>

namespace mvm::os {
namespace {

TEST(UtcTextTest, SpellsBothFormsInUtc) {
  // 2026-12-07T10:30:05Z, whatever the local zone.
  setenv("TZ", "Asia/Kolkata", 1);
  tzset();
  EXPECT_EQ(UtcText(1796639405, UtcForm::kRfc3339), "2026-12-07T10:30:05Z");
  EXPECT_EQ(UtcText(1796639405, UtcForm::kBasic), "20261207T103005Z");
  EXPECT_EQ(UtcText(0, UtcForm::kRfc3339), "1970-01-01T00:00:00Z");
  unsetenv("TZ");
  tzset();
}

TEST(UtcTextTest, YearsNeitherFormCanSpellClampToItsEnds) {
  EXPECT_EQ(UtcText(-70000000000, UtcForm::kRfc3339), "0001-01-01T00:00:00Z");
  EXPECT_EQ(UtcText(300000000000, UtcForm::kBasic), "99991231T235959Z");
}

TEST(UtcTextTest, NowIsTheWallClock) {
  EXPECT_TRUE(std::regex_match(NowUtcText(UtcForm::kBasic), std::regex(R"(\d{8}T\d{6}Z)")));
  const std::time_t before = std::time(nullptr);
  const std::string now = NowUtcText(UtcForm::kRfc3339);
  EXPECT_TRUE(now == UtcText(before, UtcForm::kRfc3339) ||
              now == UtcText(before + 1, UtcForm::kRfc3339))
      << now;
}

}  // namespace
}  // namespace mvm::os
