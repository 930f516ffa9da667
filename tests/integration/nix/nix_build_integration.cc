// `mvmctl build` with the real nix: the shipped template flake builds offline into a temporary
// store, the plan records the NAR hash Nix reports, and the tree is a root filesystem whose /bin/sh
// runs. Needs nix-bin and root (for chroot), as CI has.

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "backend-emit/nix/artifacts.h"
#include "backend-emit/nix/build.h"
#include "backend-emit/nix/nar.h"
#include "backend-emit/nix/templates.h"
#include "backend-emit/plan/verify.h"
#include "tests/backend-emit/nix_test_util.h"

namespace mvm::nix {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::WriteFile;

struct Result {
  int exit_code = -1;
  std::string output;  ///< stdout and stderr together
};

std::string Quote(const std::string& arg) {
  std::string out = "'";
  for (char c : arg) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

// Runs `argv` through the shell (so `env PATH=...` works) and collects its output.
Result Exec(const std::vector<std::string>& argv) {
  std::string command;
  for (const std::string& a : argv) {
    command += (command.empty() ? "" : " ") + Quote(a);
  }
  command += " 2>&1";
  Result run;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return run;
  }
  char buffer[4096];
  size_t n = 0;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) {
    run.output.append(buffer, n);
  }
  int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return run;
}

std::string ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
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

  Result Mvmctl(std::vector<std::string> args) {
    args.insert(args.begin(), MVM_MVMCTL);
    return Exec(args);
  }

  /// The rootfs digest recorded in the plan file at `path`.
  std::string PlanDigest(const fs::path& path) {
    auto decoded = plan::DecodePlanFile(ReadText(path));
    EXPECT_TRUE(decoded.ok()) << (decoded.ok() ? "" : decoded.refusal().message);
    if (!decoded.ok() || decoded->plan.artifacts_size() != 1) {
      return "";
    }
    return decoded->plan.artifacts(0).digest();
  }

  /// narHash of `store_path` in `store`, by asking nix itself.
  std::string NixNarHash(const std::string& store, const std::string& store_path) {
    Result info = Exec({nix_.string(), "--extra-experimental-features", "nix-command", "path-info",
                        "--store", store, "--option", "substituters", "", "--option",
                        "build-users-group", "", "--json", store_path});
    EXPECT_EQ(info.exit_code, 0) << info.output;
    // Warnings go to stderr, which Exec merged; the JSON is the line starting with `[`.
    size_t start = info.output.find("[{");
    nlohmann::json j = nlohmann::json::parse(
        info.output.substr(start, info.output.find('\n', start) - start), nullptr, false);
    EXPECT_TRUE(j.is_array() && j.size() == 1) << info.output;
    if (!j.is_array() || j.size() != 1) {
      return "";
    }
    auto digest = SriToDigest(j[0].value("narHash", ""));
    EXPECT_TRUE(digest.ok()) << info.output;
    return digest.ok() ? *digest : "";
  }

  TempDir tmp_;
  fs::path nix_;
  fs::path source_;
  fs::path state_;
};

TEST_F(NixBuildIntegrationTest, BuildsTheTemplateOfflineAndRecordsItsNarHash) {
  auto start = std::chrono::steady_clock::now();
  Result built = Mvmctl({"build", source_.string(), "--state-dir", state_.string(), "-o",
                         (tmp_.path() / "out").string(), "-v"});
  auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  RecordProperty("template_build_seconds", std::to_string(took));
  std::printf("template build (empty store): %.2f s\n", took);
  ASSERT_EQ(built.exit_code, 0) << built.output;
  EXPECT_NE(built.output.find("mvmctl build: building tiny: path:"), std::string::npos)
      << built.output;

  std::string digest = PlanDigest(tmp_.path() / "out" / "tiny.plan.json");
  ASSERT_TRUE(IsSha256Digest(digest)) << digest;
  auto record = ReadBuiltArtifact(state_, digest);
  ASSERT_TRUE(record.ok()) << record.error().message;
  EXPECT_EQ(record->store, (state_ / "nix").string());
  EXPECT_EQ(record->attr, "packages.x86_64-linux.busybox");

  // The digest in the plan is the NAR hash Nix itself reports for the output, and the tree the
  // launcher will be handed hashes to it.
  EXPECT_EQ(NixNarHash(record->store, record->store_path), digest);
  auto tree = FindBuiltArtifact(state_, digest);
  ASSERT_TRUE(tree.ok()) << tree.error().message;
  EXPECT_EQ(*tree, state_ / "nix" / fs::path(record->store_path).relative_path());

  // A root filesystem: a working /bin/sh, the account files and the mount points.
  Result sh = Exec({"chroot", tree->string(), "/bin/sh", "-c", "echo ok"});
  EXPECT_EQ(sh.exit_code, 0) << sh.output;
  EXPECT_EQ(sh.output, "ok\n");
  EXPECT_NE(ReadText(*tree / "etc" / "passwd").find("root:x:0:0:"), std::string::npos);
  EXPECT_NE(ReadText(*tree / "etc" / "group").find("root:x:0:"), std::string::npos);
  for (const char* dir : {"proc", "dev", "sys", "tmp", "run/mvm", ".mvm", "app"}) {
    EXPECT_TRUE(fs::is_directory(*tree / dir)) << dir;
    EXPECT_TRUE(fs::is_empty(*tree / dir)) << dir;
  }
  EXPECT_EQ(fs::read_symlink(*tree / "usr" / "bin" / "env"), "../../bin/busybox");

  // The request written beside the plan is the one that ran.
  auto request = ParseRequestJson(ReadText(tmp_.path() / "out" / "tiny.nix.json"));
  ASSERT_TRUE(request.ok()) << request.error().message;
  EXPECT_EQ(request->store, (state_ / "nix").string());
}

TEST_F(NixBuildIntegrationTest, ThePlanPathGivesTheSameDigestAndCanBeSigned) {
  fs::path plans = tmp_.path() / "plans";
  Result compiled = Mvmctl({"compile", source_.string(), "-o", plans.string(), "--emit", "plan"});
  ASSERT_EQ(compiled.exit_code, 0) << compiled.output;
  EXPECT_EQ(PlanDigest(plans / "tiny.plan.json"), "");
  Result keys = Mvmctl({"key", "gen", "--out", (tmp_.path() / "keys").string()});
  ASSERT_EQ(keys.exit_code, 0) << keys.output;

  Result built = Mvmctl({"build", (plans / "tiny.plan.json").string(), "--state-dir",
                         state_.string(), "--sign", (tmp_.path() / "keys" / "mvm.key").string()});
  ASSERT_EQ(built.exit_code, 0) << built.output;
  std::string digest = PlanDigest(plans / "tiny.plan.json");
  ASSERT_TRUE(IsSha256Digest(digest)) << built.output;
  Result verified = Mvmctl({"plan", "verify", (plans / "tiny.plan.json").string(), "--trust",
                            (tmp_.path() / "keys" / "mvm.pub").string()});
  EXPECT_EQ(verified.exit_code, 0) << verified.output;

  // A second, separate store builds the same bytes: the digest does not depend on the host state.
  fs::path other_state = tmp_.path() / "other-state";
  Result again = Mvmctl({"build", source_.string(), "--state-dir", other_state.string(), "-o",
                         (tmp_.path() / "again").string()});
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(PlanDigest(tmp_.path() / "again" / "tiny.plan.json"), digest);
}

TEST_F(NixBuildIntegrationTest, TheFlakeBuildsExactlyTheNixTemplates) {
  Result eval =
      Exec({nix_.string(), "--extra-experimental-features", "nix-command flakes", "eval", "--store",
            (state_ / "nix").string(), "--option", "substituters", "", "--option",
            "build-users-group", "", "--json",
            "path:" + (fs::path(MVM_SOURCE_DIR) / "templates").string() + "#packages.x86_64-linux",
            "--apply", "builtins.attrNames"});
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  std::string expected = "[";
  for (std::string_view name : NixTemplates()) {
    expected += (expected.size() > 1 ? ",\"" : "\"") + std::string(name) + "\"";
  }
  expected += "]";
  EXPECT_NE(eval.output.find(expected), std::string::npos) << eval.output;
}

TEST_F(NixBuildIntegrationTest, WithoutNixOnPathItIsAnEnvironmentError) {
  Result built = Exec({"env", "PATH=/nonexistent", MVM_MVMCTL, "build", source_.string(),
                       "--state-dir", state_.string(), "-o", (tmp_.path() / "out").string()});
  EXPECT_EQ(built.exit_code, 3) << built.output;
  EXPECT_EQ(built.output,
            "mvmctl build: error: nix not found on PATH; install Debian's nix-bin (apt-get install "
            "nix-bin)\n");
  EXPECT_FALSE(fs::exists(tmp_.path() / "out"));
}

}  // namespace
}  // namespace mvm::nix
