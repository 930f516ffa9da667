// `mvmctl build` with the real nix: the shipped template flake builds offline in the builder
// sandbox, the plan records the NAR hash the host computed over its imported copy, and the tree is
// a root filesystem whose /bin/sh runs. Needs nix-bin and root (for chroot), as CI has.

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

#include "backend-emit/nix/artifacts.h"
#include "backend-emit/nix/build.h"
#include "backend-emit/nix/nar.h"
#include "backend-emit/nix/templates.h"
#include "backend-emit/plan/verify.h"
#include "tests/support/command.h"
#include "tests/support/files.h"
#include "tests/support/temp_dir.h"

namespace mvm::nix {
namespace {

namespace fs = std::filesystem;
using mvm::testing::TempDir;
using mvm::testing::WriteFile;

using mvm::testing::CommandResult;
using mvm::testing::ReadFile;

// stdout and stderr together, as the user sees them.
CommandResult Exec(const std::vector<std::string>& argv) {
  return mvm::testing::RunCommand(argv, mvm::testing::MergedOutput());
}

constexpr std::string_view kBusybox = R"(from mvm import workload, entrypoint


@workload("tiny", image="template:busybox")
class Tiny:
    @entrypoint(command=["/bin/sh", "-c", "echo ok"])
    def main(self): ...
)";

class NixBuildIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto found = FindNix();
    ASSERT_TRUE(found.ok()) << found.error().message << " (scripts/bootstrap.sh installs it)";
    nix_ = *found;
    ASSERT_EQ(geteuid(), 0u) << "this test chroots into the built rootfs, which needs root";
    source_ = tmp_.path() / "src" / "app.py";
    WriteFile(source_, kBusybox);
    state_ = tmp_.path() / "state";
  }

  CommandResult Mvmctl(std::vector<std::string> args) {
    return mvm::testing::RunMvmctl(std::move(args), std::nullopt, mvm::testing::MergedOutput());
  }

  /// The rootfs digest recorded in the plan file at `path`.
  std::string PlanDigest(const fs::path& path) {
    auto decoded = plan::DecodePlanFile(ReadFile(path));
    EXPECT_TRUE(decoded.ok()) << (decoded.ok() ? "" : decoded.error().message);
    if (!decoded.ok() || decoded->plan.artifacts_size() != 1) {
      return "";
    }
    return decoded->plan.artifacts(0).digest();
  }

  TempDir tmp_;
  fs::path nix_;
  fs::path source_;
  fs::path state_;
};

TEST_F(NixBuildIntegrationTest, BuildsTheTemplateOfflineAndRecordsItsNarHash) {
  auto start = std::chrono::steady_clock::now();
  CommandResult built = Mvmctl({"build", source_.string(), "--state-dir", state_.string(), "-o",
                                (tmp_.path() / "out").string(), "-v"});
  auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  RecordProperty("template_build_seconds", std::to_string(took));
  std::printf("template build (empty store): %.2f s\n", took);
  ASSERT_EQ(built.status, 0) << built.out;
  EXPECT_NE(built.out.find("mvmctl build: building tiny: path:"), std::string::npos) << built.out;

  std::string digest = PlanDigest(tmp_.path() / "out" / "tiny.plan.json");
  ASSERT_TRUE(IsSha256Digest(digest)) << digest;
  auto record = ReadBuiltArtifact(state_, digest);
  ASSERT_TRUE(record.ok()) << record.error().message;
  EXPECT_EQ(record->store, (state_ / "builder" / "store").string());
  EXPECT_EQ(record->attr, "packages.x86_64-linux.busybox");

  // The builder sandbox built it; the host imported a copy, and the tree the launcher will be
  // handed hashes to the digest in the plan (builder_sandbox_integration.cc compares it with the
  // host's own Nix).
  auto tree = FindBuiltArtifact(state_, digest);
  ASSERT_TRUE(tree.ok()) << tree.error().message;
  EXPECT_EQ(*tree, state_ / "artifacts" / "trees" / digest.substr(7));

  // A root filesystem: a working /bin/sh, the account files and the mount points.
  CommandResult sh = Exec({"chroot", tree->string(), "/bin/sh", "-c", "echo ok"});
  EXPECT_EQ(sh.status, 0) << sh.out;
  EXPECT_EQ(sh.out, "ok\n");
  EXPECT_NE(ReadFile(*tree / "etc" / "passwd").find("root:x:0:0:"), std::string::npos);
  EXPECT_NE(ReadFile(*tree / "etc" / "group").find("root:x:0:"), std::string::npos);
  for (const char* dir : {"proc", "dev", "sys", "tmp", "run/mvm", ".mvm", "app"}) {
    EXPECT_TRUE(fs::is_directory(*tree / dir)) << dir;
    EXPECT_TRUE(fs::is_empty(*tree / dir)) << dir;
  }
  EXPECT_EQ(fs::read_symlink(*tree / "usr" / "bin" / "env"), "../../bin/busybox");

  // The request written beside the plan is the one that ran.
  auto request = ParseRequestJson(ReadFile(tmp_.path() / "out" / "tiny.nix.json"));
  ASSERT_TRUE(request.ok()) << request.error().message;
  EXPECT_EQ(request->store, (state_ / "nix").string());
}

TEST_F(NixBuildIntegrationTest, ThePlanPathGivesTheSameDigestAndCanBeSigned) {
  fs::path plans = tmp_.path() / "plans";
  CommandResult compiled =
      Mvmctl({"compile", source_.string(), "-o", plans.string(), "--emit", "plan"});
  ASSERT_EQ(compiled.status, 0) << compiled.out;
  EXPECT_EQ(PlanDigest(plans / "tiny.plan.json"), "");
  CommandResult keys = Mvmctl({"key", "gen", "--out", (tmp_.path() / "keys").string()});
  ASSERT_EQ(keys.status, 0) << keys.out;

  CommandResult built =
      Mvmctl({"build", (plans / "tiny.plan.json").string(), "--state-dir", state_.string(),
              "--sign", (tmp_.path() / "keys" / "mvm.key").string()});
  ASSERT_EQ(built.status, 0) << built.out;
  std::string digest = PlanDigest(plans / "tiny.plan.json");
  ASSERT_TRUE(IsSha256Digest(digest)) << built.out;
  CommandResult verified = Mvmctl({"plan", "verify", (plans / "tiny.plan.json").string(), "--trust",
                                   (tmp_.path() / "keys" / "mvm.pub").string()});
  EXPECT_EQ(verified.status, 0) << verified.out;

  // A second, separate store builds the same bytes: the digest does not depend on the host state.
  fs::path other_state = tmp_.path() / "other-state";
  CommandResult again = Mvmctl({"build", source_.string(), "--state-dir", other_state.string(),
                                "-o", (tmp_.path() / "again").string()});
  ASSERT_EQ(again.status, 0) << again.out;
  EXPECT_EQ(PlanDigest(tmp_.path() / "again" / "tiny.plan.json"), digest);
}

TEST_F(NixBuildIntegrationTest, TheFlakeBuildsExactlyTheNixTemplates) {
  CommandResult eval =
      Exec({nix_.string(), "--extra-experimental-features", "nix-command flakes", "eval", "--store",
            (state_ / "nix").string(), "--option", "substituters", "", "--option",
            "build-users-group", "", "--json",
            "path:" + (fs::path(MVM_SOURCE_DIR) / "templates").string() + "#packages.x86_64-linux",
            "--apply", "builtins.attrNames"});
  ASSERT_EQ(eval.status, 0) << eval.out;
  std::string expected = "[";
  for (std::string_view name : NixTemplates()) {
    expected += (expected.size() > 1 ? ",\"" : "\"") + std::string(name) + "\"";
  }
  expected += "]";
  EXPECT_NE(eval.out.find(expected), std::string::npos) << eval.out;
}

TEST_F(NixBuildIntegrationTest, WithoutNixOnPathItIsAnEnvironmentError) {
  CommandResult built =
      Exec({"env", "PATH=/nonexistent", MVM_MVMCTL_PATH, "build", source_.string(), "--state-dir",
            state_.string(), "-o", (tmp_.path() / "out").string()});
  EXPECT_EQ(built.status, 3) << built.out;
  EXPECT_EQ(built.out,
            "mvmctl build: error: nix not found on PATH; install Debian's nix-bin (apt-get install "
            "nix-bin)\n");
  EXPECT_FALSE(fs::exists(tmp_.path() / "out"));
}

}  // namespace
}  // namespace mvm::nix
