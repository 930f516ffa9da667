#include "ir/support/suggest.h"

#include <gtest/gtest.h>

#include <array>

namespace mvm {
namespace {

constexpr std::array<std::string_view, 5> kOptions = {"memory_mb", "cpus", "timeout_seconds",
                                                      "network", "secrets"};

TEST(SuggestTest, FindsOneEditTypos) {
  EXPECT_EQ(DidYouMean("cpu", kOptions), "cpus");         // deletion
  EXPECT_EQ(DidYouMean("netwrk", kOptions), "network");   // deletion
  EXPECT_EQ(DidYouMean("secretz", kOptions), "secrets");  // substitution
  EXPECT_EQ(DidYouMean("netowrk", kOptions), "network");  // transposition counts once
  EXPECT_EQ(DidYouMean("storage", kOptions), std::nullopt);
}

TEST(SuggestTest, ThresholdIsAThirdOfTheNormalisedWord) {
  // "timeoutsecond" (13 code points) allows 4 edits; "timeoutseconds" is 1 away.
  EXPECT_EQ(DidYouMean("timeout_second", kOptions), "timeout_seconds");
  // "timeoutsec" (10) allows 3 edits and "timeoutseconds" is 4 away, but it is the only option
  // that starts with it.
  EXPECT_EQ(DidYouMean("timeout_sec", kOptions), "timeout_seconds");
  EXPECT_EQ(DidYouMean("timeout_xyz", kOptions), std::nullopt);
  // Short words still allow one edit.
  std::array<std::string_view, 1> short_words = {"ab"};
  EXPECT_EQ(DidYouMean("ax", short_words), "ab");
  EXPECT_EQ(DidYouMean("xy", short_words), std::nullopt);
}

TEST(SuggestTest, IgnoresCaseAndSeparators) {
  EXPECT_EQ(DidYouMean("memoryMb", kOptions), "memory_mb");
  EXPECT_EQ(DidYouMean("memory-mb", kOptions), "memory_mb");
  EXPECT_EQ(DidYouMean("CPUS", kOptions), "cpus");
  EXPECT_EQ(DidYouMean("timeoutSeconds", kOptions), "timeout_seconds");
}

TEST(SuggestTest, NeverSuggestsTheWordItself) {
  EXPECT_EQ(DidYouMean("cpus", kOptions), std::nullopt);
  EXPECT_EQ(DidYouMean("memory_mb", kOptions), std::nullopt);
}

TEST(SuggestTest, TiesGoToTheEarlierCandidate) {
  std::array<std::string_view, 3> candidates = {"cat", "bat", "hat"};
  EXPECT_EQ(DidYouMean("rat", candidates), "cat");
  // Only ties: a closer candidate later in the list still wins.
  std::array<std::string_view, 2> closer_later = {"abcx", "abcd"};
  EXPECT_EQ(DidYouMean("abcd_", closer_later), "abcd");
}

TEST(SuggestTest, EmptyInputs) {
  EXPECT_EQ(DidYouMean("cpu", std::span<const std::string_view>()), std::nullopt);
  EXPECT_EQ(DidYouMean("", kOptions), std::nullopt);
  EXPECT_EQ(DidYouMean("__", kOptions), std::nullopt);
  std::array<std::string_view, 2> with_empty = {"", "a"};
  EXPECT_EQ(DidYouMean("b", with_empty), "a");
}

TEST(SuggestTest, CountsCodePointsNotBytes) {
  std::array<std::string_view, 1> candidates = {"café"};
  EXPECT_EQ(DidYouMean("cafe", candidates), "café");
  EXPECT_EQ(DidYouMean("cafë", candidates), "café");
}

}  // namespace
}  // namespace mvm

namespace mvm {
namespace {

TEST(DidYouMeanPrefixTest, AShortenedNameFindsItsOnlyCompletion) {
  const std::string_view options[] = {"timeout_seconds", "memory_mb", "disk_mb"};
  EXPECT_EQ(DidYouMean("timeout", options), "timeout_seconds");
  EXPECT_EQ(DidYouMean("mem", options), std::nullopt);  // too short to guess from
  const std::string_view ambiguous[] = {"allow_https", "allow_http", "allow_dns"};
  EXPECT_EQ(DidYouMean("allow", ambiguous), std::nullopt);
}

}  // namespace
}  // namespace mvm
