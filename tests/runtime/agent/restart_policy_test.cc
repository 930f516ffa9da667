// The restart rule the agent applies when a service's command ends
// (runtime/agent/restart_policy.h).

#include "runtime/agent/restart_policy.h"

#include <gtest/gtest.h>

namespace mvm::runtime::agent {
namespace {

using std::chrono::milliseconds;

TEST(RestartPolicy, ParsesTheThreeSpellingsAndNothingElse) {
  EXPECT_EQ(ParseRestartMode("never"), RestartMode::kNever);
  EXPECT_EQ(ParseRestartMode("on-failure"), RestartMode::kOnFailure);
  EXPECT_EQ(ParseRestartMode("always"), RestartMode::kAlways);
  EXPECT_EQ(ParseRestartMode("on_failure"), std::nullopt);
  EXPECT_EQ(ParseRestartMode("Always"), std::nullopt);
  EXPECT_EQ(ParseRestartMode(""), std::nullopt);
  for (RestartMode mode : {RestartMode::kNever, RestartMode::kOnFailure, RestartMode::kAlways}) {
    EXPECT_EQ(ParseRestartMode(RestartModeName(mode)), mode);
  }
}

TEST(RestartPolicy, NeverRestartsWhateverTheEnd) {
  RestartPolicy policy{RestartMode::kNever};
  EXPECT_EQ(NextRestart(policy, 0, true), std::nullopt);
  EXPECT_EQ(NextRestart(policy, 0, false), std::nullopt);
}

TEST(RestartPolicy, OnFailureRestartsOnlyAFailure) {
  RestartPolicy policy{RestartMode::kOnFailure};
  EXPECT_EQ(NextRestart(policy, 0, true), milliseconds(250));
  EXPECT_EQ(NextRestart(policy, 0, false), std::nullopt);
}

TEST(RestartPolicy, AlwaysRestartsACleanExitToo) {
  RestartPolicy policy{RestartMode::kAlways};
  EXPECT_EQ(NextRestart(policy, 0, false), milliseconds(250));
  EXPECT_EQ(NextRestart(policy, 0, true), milliseconds(250));
}

TEST(RestartPolicy, BackoffDoublesUpToItsBound) {
  RestartPolicy policy{RestartMode::kAlways, 1000};
  EXPECT_EQ(NextRestart(policy, 1, true), milliseconds(500));
  EXPECT_EQ(NextRestart(policy, 2, true), milliseconds(1000));
  EXPECT_EQ(NextRestart(policy, 5, true), milliseconds(8000));
  EXPECT_EQ(NextRestart(policy, 6, true), milliseconds(8000));
  // No overflow however often it was restarted.
  EXPECT_EQ(NextRestart(policy, 999, true), milliseconds(8000));
}

TEST(RestartPolicy, StopsAtMaxRestarts) {
  RestartPolicy policy{RestartMode::kAlways, 3};
  EXPECT_TRUE(NextRestart(policy, 2, true));
  EXPECT_EQ(NextRestart(policy, 3, true), std::nullopt);
  EXPECT_EQ(NextRestart(policy, 4, false), std::nullopt);
  policy.max_restarts = 0;
  EXPECT_EQ(NextRestart(policy, 0, true), std::nullopt);
}

}  // namespace
}  // namespace mvm::runtime::agent
