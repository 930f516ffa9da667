#include <gtest/gtest.h>

#include <string>

#include "backend-emit/plan/base64.h"
#include "backend-emit/plan/time.h"

namespace mvm::plan {
namespace {

TEST(Base64Test, Rfc4648Vectors) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Encode("\xff\xfe"), "//4=");  // the ORIGINAL alphabet, not URL-safe
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    EXPECT_EQ(Base64Decode(Base64Encode(s)), s);
  }
}

TEST(Base64Test, DecodingIsStrict) {
  EXPECT_EQ(Base64Decode("QQ=="), "A");
  EXPECT_FALSE(Base64Decode("QR=="));   // slack bits set
  EXPECT_FALSE(Base64Decode("Zm9="));   // slack bits set
  EXPECT_FALSE(Base64Decode("QQ"));     // padding missing
  EXPECT_FALSE(Base64Decode("QQ="));    // padding short
  EXPECT_FALSE(Base64Decode("QQ==="));  // padding long
  EXPECT_FALSE(Base64Decode("Zm9v\n"));
  EXPECT_FALSE(Base64Decode(" Zm9v"));
  EXPECT_FALSE(Base64Decode("Zm 9v"));
  EXPECT_FALSE(Base64Decode("Zm9v_-=="));  // URL-safe alphabet
  EXPECT_FALSE(Base64Decode("Zm9v="));
  EXPECT_FALSE(Base64Decode("="));
  EXPECT_FALSE(Base64Decode(std::string("Zm9v\0", 5)));
}

TEST(TimeTest, FormatsRfc3339Utc) {
  EXPECT_EQ(*FormatTimestamp(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(*FormatTimestamp(1735689600), "2025-01-01T00:00:00Z");
  EXPECT_EQ(*FormatTimestamp(951782400), "2000-02-29T00:00:00Z");
  EXPECT_EQ(*FormatTimestamp(-1), "1969-12-31T23:59:59Z");
  EXPECT_EQ(*FormatTimestamp(253402300799), "9999-12-31T23:59:59Z");
  EXPECT_FALSE(FormatTimestamp(253402300800).ok());
  EXPECT_FALSE(FormatTimestamp(-62135596801).ok());
}

TEST(TimeTest, ParsesRfc3339) {
  EXPECT_EQ(*ParseRfc3339("2025-01-01T00:00:00Z"), 1735689600);
  EXPECT_EQ(*ParseRfc3339("2025-01-01t00:00:00z"), 1735689600);
  EXPECT_EQ(*ParseRfc3339("2025-01-01 00:00:00Z"), 1735689600);
  EXPECT_EQ(*ParseRfc3339("2025-01-01T02:00:00+02:00"), 1735689600);
  EXPECT_EQ(*ParseRfc3339("2024-12-31T19:30:00-04:30"), 1735689600);
  EXPECT_EQ(*ParseRfc3339("2025-01-01T00:00:00.999Z"), 1735689600);  // fractions round down
  EXPECT_EQ(*ParseRfc3339("2000-02-29T00:00:00Z"), 951782400);
  for (const char* bad :
       {"", "2025-01-01", "2025-01-01T00:00:00", "2025-13-01T00:00:00Z", "2025-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z", "2025-01-01T24:00:00Z", "2025-01-01T00:60:00Z",
        "2025-01-01T00:00:00.Z", "2025-01-01T00:00:00+0200", "2025-01-01T00:00:00Z ",
        "+2025-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "tomorrow"}) {
    EXPECT_FALSE(ParseRfc3339(bad).ok()) << bad;
  }
}

TEST(TimeTest, CanonicalTimestampsHaveOneSpelling) {
  EXPECT_EQ(ParseCanonicalTimestamp("2025-01-01T00:00:00Z"), 1735689600);
  EXPECT_FALSE(ParseCanonicalTimestamp("2025-01-01T02:00:00+02:00"));
  EXPECT_FALSE(ParseCanonicalTimestamp("2025-01-01t00:00:00z"));
  EXPECT_FALSE(ParseCanonicalTimestamp("2025-01-01T00:00:00.0Z"));
  EXPECT_FALSE(ParseCanonicalTimestamp("2024-12-31T23:59:60Z"));  // a leap second reads as next
}

TEST(TimeTest, ParsesDurations) {
  EXPECT_EQ(*ParseDuration("30s"), 30);
  EXPECT_EQ(*ParseDuration("5m"), 300);
  EXPECT_EQ(*ParseDuration("24h"), 86400);
  EXPECT_EQ(*ParseDuration("7d"), 604800);
  for (const char* bad :
       {"", "h", "0h", "-1h", "1.5h", "1H", "1w", "24", "1 h", "99999999999999d"}) {
    EXPECT_FALSE(ParseDuration(bad).ok()) << bad;
  }
}

TEST(TimeTest, FixedClockSaysWhatItIsTold) {
  FixedClock clock(42);
  EXPECT_EQ(clock.NowUnixSeconds(), 42);
  clock.Set(43);
  EXPECT_EQ(clock.NowUnixSeconds(), 43);
  EXPECT_GT(SystemClock().NowUnixSeconds(), 1700000000);
}

}  // namespace
}  // namespace mvm::plan
