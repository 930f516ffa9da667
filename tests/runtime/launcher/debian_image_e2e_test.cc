// `Image.debian(packages=["jq"])` end to end: `mvmctl run FILE` resolves the package set, builds
// the image (mmdebstrap, network to deb.debian.org) and pins its digest in the plan; the workload
// runs jq in the sandbox. The image goes to the shared rootfs cache, so it is built once per cache
// (90 to 140 s on a loaded 2-core machine) by whichever case comes first; every later case, and
// every later run of the suite, is a cache hit. A fresh build and its cache semantics are
// tests/runtime/rootfs/debian_image_build_test.cc's.

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/backend_state.h"
#include "tests/support/command.h"
#include "tests/support/mvmctl.h"
#include "tests/support/prerequisite.h"
#include "tests/support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using mvm::testing::Describe;
using mvm::testing::Mvmctl;
using mvm::testing::Result;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::string_view kJqWorkload = R"(from mvm import Image, workload, entrypoint

@workload("jq-tool", image=Image.debian(packages=["jq"]), isolation="%ISOLATION%",
          timeout_seconds=120)
class JqTool:
    @entrypoint(command=["sh", "-c", "echo '{\"answer\": [40, 2]}' | jq '.answer | add'; jq --version"])
    def main(self): ...
)";

std::string JqSource(const fs::path& dir, std::string_view isolation) {
  std::string text(kJqWorkload);
  text.replace(text.find("%ISOLATION%"), 11, isolation);
  fs::path path = dir / "jq_tool.py";
  std::ofstream(path) << text;
  return path.string();
}

// A state directory of its own (its plans and audit log), whose rootfs cache is the shared one and,
// for the microVM, whose guest files are that backend's shared ones.
struct State {
  explicit State(std::string_view backend) : dir("mvm-debian-state") {
    auto shared = mvm::testing::BackendTestState(backend);
    EXPECT_TRUE(shared.ok()) << (shared ? "" : shared.error().message);
    if (shared && backend == "qemu-microvm") {
      fs::create_directory_symlink(*shared / "guest", dir.path() / "guest");
    }
    fs::create_directory_symlink(mvm::testing::SharedRootfsCache(), dir.path() / "rootfs");
  }
  const fs::path& path() const { return dir.path(); }
  mvm::testing::TempDir dir;
};

class DebianImageE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      MVM_MISSING_PREREQUISITE() << "the container backend and mmdebstrap need root";
    }
  }
};

TEST_F(DebianImageE2E, RunBuildsPinsAndRunsJqThenTheNextRunIsACacheHit) {
  State state("container");
  // Not in the state directory: the project directory ships to /app (its audit log would too).
  mvm::testing::TempDir project("mvm-debian-project");
  std::string source = JqSource(project.path(), "container");
  Result r = Mvmctl({"run", source}, "", state.path());
  ASSERT_EQ(r.status, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("42\njq-1.6"));

  // Again: resolved to the same set, found in the cache, nothing built.
  r = Mvmctl({"run", source}, "", state.path());
  ASSERT_EQ(r.status, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("42\n"));
  EXPECT_THAT(r.err, HasSubstr("is in the cache"));
  EXPECT_THAT(r.err, Not(HasSubstr("mmdebstrap")));
}

TEST_F(DebianImageE2E, BuildPinsACompiledPlanWhichThenRunsWithoutResolving) {
  State state("container");
  // Not in the state directory: the project directory ships to /app (its audit log would too).
  mvm::testing::TempDir project("mvm-debian-project");
  std::string source = JqSource(project.path(), "container");
  const fs::path out = state.path() / "out";
  const fs::path keys = state.path() / "keys";
  mvm::testing::CommandResult made =
      mvm::testing::RunCommand({MVM_MVMCTL_PATH, "key", "gen", "--out", keys.string()});
  ASSERT_EQ(made.status, 0) << made.Describe();
  const std::string key = (keys / "mvm.key").string();
  Result r = Mvmctl({"compile", source, "-o", out.string(), "--sign", key, "--profile", "dev"}, "",
                    state.path());
  ASSERT_EQ(r.status, 0) << Describe(r);
  const std::string plan = (out / "jq-tool.plan.json").string();
  const std::string trust = (keys / "mvm.pub").string();

  // A compiled plan pins no package set yet: refused, with what to do.
  r = Mvmctl({"run", plan, "--trust", trust}, "", state.path());
  EXPECT_EQ(r.status, 125) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("has no resolved package set"));
  EXPECT_THAT(r.err, HasSubstr("mvmctl build"));

  r = Mvmctl({"build", plan, "--sign", key}, "", state.path());
  ASSERT_EQ(r.status, 0) << Describe(r);
  mvm::testing::CommandResult inspected =
      mvm::testing::RunCommand({MVM_MVMCTL_PATH, "plan", "inspect", plan});
  ASSERT_EQ(inspected.status, 0) << inspected.Describe();
  EXPECT_THAT(inspected.out, HasSubstr("debian suite bookworm (package set pinned at sha256:"));

  r = Mvmctl({"run", plan, "--trust", trust}, "", state.path());
  ASSERT_EQ(r.status, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("42\n"));
  EXPECT_THAT(r.err, Not(HasSubstr("resolving Debian")));
}

class DebianImageE2EMicrovm : public DebianImageE2E {};

TEST_F(DebianImageE2EMicrovm, TheSameImageBootsAndRunsJqInTheMicrovm) {
  State state("qemu-microvm");
  // Not in the state directory: the project directory ships to /app (its audit log would too).
  mvm::testing::TempDir project("mvm-debian-project");
  std::string source = JqSource(project.path(), "microvm");
  Result r = Mvmctl({"run", source, "--backend", "qemu-microvm"}, "", state.path());
  ASSERT_EQ(r.status, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("42\njq-1.6"));
}

}  // namespace
