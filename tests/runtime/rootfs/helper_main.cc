// main for the build tests that start a builder sandbox in their own process: the launcher runs its
// watchdog as this executable again, with kHelperFlag (the egress proxy is `mvm-egress`, found
// beside it in build/bin).

#include <gtest/gtest.h>

#include "runtime/launcher/launcher.h"

int main(int argc, char** argv) {
  if (auto helper = mvm::runtime::RunHelperIfAsked(argc, argv)) {
    return *helper;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
