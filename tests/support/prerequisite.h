// A test that cannot run without something the host lacks (root, qemu, a Debian tool) skips on a
// developer's machine, but fails in CI: there every prerequisite is installed by
// scripts/bootstrap.sh, so a missing one is a broken set-up, and a skip would read as a pass.
#ifndef MVM_TESTS_SUPPORT_PREREQUISITE_H_
#define MVM_TESTS_SUPPORT_PREREQUISITE_H_

#include <cstdlib>
#include <string_view>

#include "gtest/gtest.h"

namespace mvm::testing {

/// True when the environment says CI (`CI` set to anything but empty, "0" or "false"), as CI
/// systems and `.ci/run` set it.
inline bool InCi() {
  const char* ci = std::getenv("CI");
  if (ci == nullptr) {
    return false;
  }
  std::string_view value(ci);
  return !value.empty() && value != "0" && value != "false";
}

}  // namespace mvm::testing

/// `MVM_MISSING_PREREQUISITE() << "why";` in place of `GTEST_SKIP() << "why";`: a
/// skip, or under CI a fatal failure with the same message. Returns from the test (or SetUp) as
/// GTEST_SKIP does.
#define MVM_MISSING_PREREQUISITE()                                                            \
  return GTEST_MESSAGE_(::mvm::testing::InCi()                                                \
                            ? "a prerequisite is missing, and CI runs every test (CI is set)" \
                            : "Skipped",                                                      \
                        ::mvm::testing::InCi() ? ::testing::TestPartResult::kFatalFailure     \
                                               : ::testing::TestPartResult::kSkip)

#endif  // MVM_TESTS_SUPPORT_PREREQUISITE_H_
