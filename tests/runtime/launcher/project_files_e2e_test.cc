// End to end on the container backend: a workload's project files (`files=`) reach /app, so a
// sibling module imports and a data file reads, from the source file and from a signed plan
// copied elsewhere with its bundle; a bundle changed after signing never reaches a sandbox.

#include <filesystem>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/digest.h"
#include "tests/support/command.h"
#include "tests/support/files.h"
#include "tests/support/mvmctl.h"
#include "tests/support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

using mvm::testing::Describe;
using mvm::testing::Mvmctl;
using mvm::testing::Result;
using mvm::testing::WriteFile;

// The id is each test's own: plans of one workload id compiled in the same second by different
// keys would be replays of each other in the shared state directory.
constexpr std::string_view kMain = R"(from mvm import workload
import helpers

@workload("ID", image="template:python-3.11", files=["*.py", "data/*.csv"])
def main():
    with open("/app/data/rows.csv") as f:
        print(helpers.GREETING, f.read().splitlines()[1])
)";
constexpr std::string_view kHelpers = "GREETING = \"hello from a sibling module\"\n";
constexpr std::string_view kRows = "city,people\nlyon,3\n";
constexpr std::string_view kExpected = "hello from a sibling module lyon,3\n";

class ProjectFilesE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string main(kMain);
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    id_ = "files-e2e-" + std::to_string(name.size());
    main.replace(main.find("ID"), 2, id_);
    WriteFile(project() / "main.py", main);
    WriteFile(project() / "helpers.py", kHelpers);
    WriteFile(project() / "data" / "rows.csv", kRows);
    WriteFile(project() / "data" / "unshipped.txt", "no pattern selects this\n");
  }

  fs::path project() const { return dir_.path() / "proj"; }

  /// Compiles the project into a signed plan and bundle under `out`; returns the public key.
  std::string CompileSigned(const fs::path& out) {
    const fs::path keys = dir_.path() / "keys";
    auto made = mvm::testing::RunCommand({MVM_MVMCTL_PATH, "key", "gen", "--out", keys.string()});
    EXPECT_EQ(made.status, 0) << made.Describe();
    auto compiled = mvm::testing::RunCommand(
        {MVM_MVMCTL_PATH, "compile", (project() / "main.py").string(), "--profile", "dev", "--sign",
         (keys / "mvm.key").string(), "-o", out.string()});
    EXPECT_EQ(compiled.status, 0) << compiled.Describe();
    return (keys / "mvm.pub").string();
  }

  Result RunPlan(const fs::path& plan, const std::string& pub) {
    return Mvmctl({"run", plan.string(), "--trust", pub});
  }

  fs::path Blob(const fs::path& bundle, std::string_view content) const {
    return bundle / "sha256" / mvm::ir::Sha256Hex(content);
  }

  mvm::testing::TempDir dir_{"mvm-files-e2e"};
  std::string id_;
};

TEST_F(ProjectFilesE2E, ASiblingModuleAndADataFileReachAppFromTheSourceFile) {
  Result r = Mvmctl({"run", (project() / "main.py").string()});
  ASSERT_EQ(r.status, 0) << Describe(r);
  EXPECT_EQ(r.out, kExpected);
}

TEST_F(ProjectFilesE2E, APlanRunsAnywhereItsBundleIsAndShipsOnlyWhatWasSelected) {
  const std::string pub = CompileSigned(dir_.path() / "out");
  auto inspect = mvm::testing::RunCommand(
      {MVM_MVMCTL_PATH, "plan", "inspect", (dir_.path() / "out" / (id_ + ".plan.json")).string()});
  EXPECT_THAT(inspect.out, HasSubstr("/app/data/rows.csv")) << inspect.Describe();
  EXPECT_THAT(inspect.out, Not(HasSubstr("unshipped.txt"))) << inspect.Describe();
  // Moved away from the project, which is then gone: only the plan and its bundle remain.
  const fs::path elsewhere = dir_.path() / "elsewhere";
  fs::create_directories(elsewhere);
  fs::copy(dir_.path() / "out", elsewhere, fs::copy_options::recursive);
  fs::remove_all(project());
  Result r = RunPlan(elsewhere / (id_ + ".plan.json"), pub);
  ASSERT_EQ(r.status, 0) << Describe(r);
  EXPECT_EQ(r.out, kExpected);
}

TEST_F(ProjectFilesE2E, ABundleChangedAfterSigningIsRefusedBeforeTheSandboxStarts) {
  const std::string pub = CompileSigned(dir_.path() / "out");
  const fs::path plan = dir_.path() / "out" / (id_ + ".plan.json");
  const fs::path bundle = dir_.path() / "out" / (id_ + ".bundle");
  const fs::path helpers = Blob(bundle, kHelpers);
  const fs::path rows = Blob(bundle, kRows);
  ASSERT_TRUE(fs::exists(helpers));
  ASSERT_TRUE(fs::exists(rows));

  // A tampered module: without the check, the sandbox would import it and print its greeting.
  WriteFile(helpers, "GREETING = \"tampered\"\n");
  Result tampered = RunPlan(plan, pub);
  EXPECT_EQ(tampered.status, 125) << Describe(tampered);
  EXPECT_THAT(tampered.err,
              HasSubstr("refused: the content of `/app/helpers.py` in the bundle `" +
                        bundle.string() + "` does not match the plan's signed sha256"))
      << Describe(tampered);
  EXPECT_THAT(tampered.out, Not(HasSubstr("tampered")));
  WriteFile(helpers, kHelpers);

  // Two files swapped under each other's digests: each name now holds the other's content.
  const fs::path aside = dir_.path() / "aside";
  fs::rename(helpers, aside);
  fs::rename(rows, helpers);
  fs::rename(aside, rows);
  Result swapped = RunPlan(plan, pub);
  EXPECT_EQ(swapped.status, 125) << Describe(swapped);
  EXPECT_THAT(swapped.err, HasSubstr("does not match the plan's signed sha256"))
      << Describe(swapped);
  EXPECT_THAT(swapped.out, Not(HasSubstr("hello")));

  // No bundle at all.
  fs::remove_all(bundle);
  Result missing = RunPlan(plan, pub);
  EXPECT_EQ(missing.status, 125) << Describe(missing);
  EXPECT_THAT(missing.err, HasSubstr("is missing from the bundle")) << Describe(missing);

  // Every refusal is in the audit log.
  Result audit = Mvmctl({"audit", "verify"});
  EXPECT_EQ(audit.status, 0) << Describe(audit);
}

// The microVM gets the same checked files, in its read-only extras image. One boot of TCG
// emulation: labelled microvm_boot (runtime/launcher/CMakeLists.txt).
class ProjectFilesE2EMicrovm : public ProjectFilesE2E {};

TEST_F(ProjectFilesE2EMicrovm, ASiblingModuleAndADataFileReachAppInTheGuest) {
  const fs::path state = fs::path(MVM_BINARY_DIR) / "qemu-microvm-test-state";
  mvm::testing::UseSharedRootfsCache(state);
  Result r =
      Mvmctl({"run", (project() / "main.py").string(), "--backend", "qemu-microvm"}, "", state);
  ASSERT_EQ(r.status, 0) << Describe(r);
  EXPECT_EQ(r.out, kExpected);
}

}  // namespace
