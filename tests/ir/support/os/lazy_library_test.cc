#include "ir/support/os/lazy_library.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mvm::os {
namespace {

using ::testing::HasSubstr;

TEST(LazyLibraryTest, FillsEverySlotWithTheLibrarysFunction) {
  double (*cosine)(double) = nullptr;
  double (*square_root)(double) = nullptr;
  const LazySymbol symbols[] = {{"cos", &cosine}, {"sqrt", &square_root}};
  auto loaded = LoadLazyLibrary({"libm.so.6", "libc6", "the test"}, symbols);
  ASSERT_TRUE(loaded) << loaded.error().message;
  ASSERT_NE(cosine, nullptr);
  ASSERT_NE(square_root, nullptr);
  volatile double zero = 0.0;  // computed by the library, not folded by the compiler
  EXPECT_EQ(cosine(zero), 1.0);
  EXPECT_EQ(square_root(zero + 16.0), 4.0);
}

TEST(LazyLibraryTest, AMissingLibraryIsAnErrorNamingItWhatNeedsItAndThePackage) {
  int (*function)() = nullptr;
  const LazySymbol symbols[] = {{"mvm_nothing", &function}};
  auto loaded = LoadLazyLibrary(
      {"libmvm-no-such-library.so.7", "libmvm-nothing7", "pulling test images"}, symbols);
  ASSERT_FALSE(loaded);
  EXPECT_THAT(loaded.error().message, HasSubstr("cannot load libmvm-no-such-library.so.7"));
  EXPECT_THAT(loaded.error().message, HasSubstr("needed for pulling test images"));
  EXPECT_THAT(loaded.error().message, HasSubstr("install Debian's `libmvm-nothing7` package"));
  EXPECT_EQ(function, nullptr);
}

TEST(LazyLibraryTest, AMissingSymbolIsAnErrorNamingIt) {
  double (*cosine)(double) = nullptr;
  int (*missing)() = nullptr;
  const LazySymbol symbols[] = {{"cos", &cosine}, {"mvm_no_such_function", &missing}};
  auto loaded = LoadLazyLibrary({"libm.so.6", "libc6", "the test"}, symbols);
  ASSERT_FALSE(loaded);
  EXPECT_THAT(loaded.error().message, HasSubstr("libm.so.6 (needed for the test)"));
  EXPECT_THAT(loaded.error().message, HasSubstr("has no `mvm_no_such_function`"));
  EXPECT_THAT(loaded.error().message, HasSubstr("older than the version mvm was built against"));
  EXPECT_EQ(missing, nullptr);
}

}  // namespace
}  // namespace mvm::os
