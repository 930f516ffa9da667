// The CLI's exit code comes from an error's kind (ir/support/errors.def), never from its text: each
// case pairs a kind with the text of another, which a text match would get wrong.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "cli/commands.h"
#include "runtime/launcher/state.h"

namespace mvm::cli {
namespace {
namespace fs = std::filesystem;

class ExitCodeTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mvm-exit-code-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  /// `run(...)`'s exit code; what it printed to stderr goes to `err`.
  template <typename F>
  static int Quietly(F run, std::string& err) {
    testing::internal::CaptureStderr();
    int code = run();
    err = testing::internal::GetCapturedStderr();
    return code;
  }

  fs::path dir_;
};

TEST_F(ExitCodeTest, AUsageErrorIsTwoWithAHelpPointerByKindOnly) {
  std::string err;
  EXPECT_EQ(
      Quietly([] { return Fail("check", MakeError(ErrorKind::kUsage, "cannot read `x`")); }, err),
      kExitUsage);
  EXPECT_EQ(err, "mvmctl check: error: cannot read `x`\nrun `mvmctl check --help` for usage\n");
  EXPECT_EQ(
      Quietly([] { return Fail("check", Error{"unknown option `--bogus`; usage error"}); }, err),
      kExitEnvironment);
  EXPECT_EQ(err, "mvmctl check: error: unknown option `--bogus`; usage error\n");
  // Through the command itself.
  EXPECT_EQ(Quietly([] { return RunCommand(FindCommand("check"), {"--bogus"}); }, err), kExitUsage);
  EXPECT_NE(err.find("--help"), std::string::npos) << err;
}

TEST_F(ExitCodeTest, AMissingSandboxIsThreeOrOneTwentyFiveInTheRunningCommands) {
  runtime::StateDir state{dir_};
  auto record = runtime::ReadRecord(state, "web");
  ASSERT_FALSE(record.ok());
  EXPECT_EQ(record.error().kind, ErrorKind::kNoSuchSandbox);
  EXPECT_TRUE(record.error().message.starts_with("no sandbox named `web`"));
  std::string err;
  EXPECT_EQ(Quietly([&] { return Fail("logs", record.error()); }, err), kExitEnvironment);
  EXPECT_EQ(Quietly([&] { return FailRun("exec", record.error()); }, err), 125);
  // The kind decides, whatever the text says.
  EXPECT_EQ(
      Quietly([] { return Fail("logs", MakeError(ErrorKind::kAgentRefused, "no sandbox")); }, err),
      kExitInputErrors);
}

TEST_F(ExitCodeTest, AMissingPoolIsThreeAndAStuckOneIs125) {
  std::string err;
  std::string state = dir_.string();
  EXPECT_EQ(Quietly(
                [&] {
                  return RunCommand(FindCommand("pool"), {"stop", "web", "--state-dir", state});
                },
                err),
            kExitEnvironment);
  EXPECT_TRUE(err.starts_with("mvmctl pool: error: no pool named `web`")) << err;
  // What `pool stop` does with StopPool's error: its own default, the kind from below kept.
  auto stop_failure = [](Error e) {
    return Fail("pool", WithDefaultKind(std::move(e), ErrorKind::kRuntimeFailed));
  };
  EXPECT_EQ(
      Quietly([&] { return stop_failure(Error{"no pool named `web` is still stopping"}); }, err),
      125);
  EXPECT_EQ(Quietly([&] { return stop_failure(MakeError(ErrorKind::kNoSuchPool, "stuck")); }, err),
            kExitEnvironment);
}

TEST_F(ExitCodeTest, ARefusedPlanIs125AndAPoolPlanThatStoppedVerifyingIsOne) {
  std::string err;
  EXPECT_EQ(Quietly(
                [] {
                  return FailRun("run", MakeError(ErrorKind::kPlanRefused,
                                                  "the plan no longer verifies (expired)"));
                },
                err),
            125);
  EXPECT_EQ(Quietly(
                [] {
                  return FailRun("pool", MakeError(ErrorKind::kPlanStoppedVerifying,
                                                   "refused: signed by an unknown key"));
                },
                err),
            kExitInputErrors);
  EXPECT_EQ(
      Quietly([] { return FailRun("pool", Error{"the plan no longer verifies (expired)"}); }, err),
      125);
  EXPECT_EQ(err, "mvmctl pool: error: the plan no longer verifies (expired)\n");
}

TEST_F(ExitCodeTest, TheRunningCommandsKeepOnlyUsageAndInputCodes) {
  for (const ErrorKindInfo& k : AllErrorKinds()) {
    int code = RunExitCodeOf(k.kind);
    if (k.exit_code == kExitUsage || k.exit_code == kExitInputErrors) {
      EXPECT_EQ(code, k.exit_code) << k.id;
    } else {
      EXPECT_EQ(code, 125) << k.id;
    }
    EXPECT_EQ(ExitCodeOf(k.kind), k.exit_code) << k.id;
  }
  // The registry and the CLI's own names for the codes agree.
  EXPECT_EQ(ExitCodeOf(ErrorKind::kEnvironment), kExitEnvironment);
  EXPECT_EQ(ExitCodeOf(ErrorKind::kInvalidInput), kExitInputErrors);
  EXPECT_EQ(ExitCodeOf(ErrorKind::kVerificationFailed), kExitVerification);
}

}  // namespace
}  // namespace mvm::cli
