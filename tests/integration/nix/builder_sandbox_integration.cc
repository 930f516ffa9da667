// `mvmctl build` in the builder sandbox, against hostile flakes: what evaluation and build can read
// (planted canaries never come back), what they can write, fill, fork and how long they may run,
// the pinned-digest refusal, the warm builder and its audit records, and the template's NAR hash
// in the builder against the host's own `nix build`. Needs root, nix-bin and e2fsprogs, as CI has.

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "backend-emit/nix/nar.h"
#include "backend-emit/plan/verify.h"
#include "tests/support/command.h"
#include "tests/support/files.h"
#include "tests/support/mvmctl.h"
#include "tests/support/prerequisite.h"
#include "tests/support/temp_dir.h"

namespace mvm::nix {
namespace {

namespace fs = std::filesystem;
using mvm::testing::CommandResult;
using mvm::testing::ReadFile;
using mvm::testing::TempDir;
using mvm::testing::WriteFile;

// The busybox import of templates/flake.nix, to give hostile derivations a shell.
constexpr std::string_view kFlakeHead = R"(
{
  outputs = { self }:
    let
      system = "x86_64-linux";
      bb = builtins.path {
        name = "busybox-static";
        path = /usr/bin;
        filter = path: type: path == "/usr/bin/busybox";
        sha256 = "sha256-9CPbx+I+g28afJMSdqpzyncWktW6aBdLNMcrnyFqyCE=";
      };
      peek = p: if builtins.pathExists p then builtins.readFile p else "absent";
      mk = name: script: extra: derivation ({
        inherit name system;
        builder = "${bb}/busybox";
        args = [ "sh" "-c" script ];
        PATH = "${bb}";
      } // extra);
    in {
      packages.${system} = {
)";

constexpr std::string_view kFlakeTail = R"(
      };
    };
}
)";

std::string RandomHex() {
  std::random_device rd;
  char text[17];
  std::snprintf(text, sizeof text, "%08x%08x", rd(), rd());
  return text;
}

std::string ReadAll(const fs::path& root) {
  std::string all;
  std::error_code ec;
  if (fs::is_regular_file(root, ec)) {
    return ReadFile(root);
  }
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_regular_file(ec) && !it->is_symlink(ec)) {
      all += ReadFile(it->path());
    }
  }
  return all;
}

class BuilderSandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0 || !os::FindProgram("nix") || !os::FindProgram("mkfs.ext4")) {
      MVM_MISSING_PREREQUISITE() << "the builder sandbox needs root, nix-bin and e2fsprogs";
    }
    state_ = tmp_.path() / "state";
    project_ = tmp_.path() / "project";
  }

  void TearDown() override {
    // A failed test may leave the warm builder or the store mounted; neither may outlive it.
    Mvmctl({"builder", "stop", "--state-dir", state_.string()});
    ::umount2((state_ / "builder" / "store").c_str(), MNT_DETACH);
  }

  CommandResult Mvmctl(std::vector<std::string> args) {
    return mvm::testing::RunMvmctl(std::move(args), std::nullopt, mvm::testing::MergedOutput());
  }

  /// Mvmctl(ARGS), and how long it took in seconds (for the benchmark properties).
  std::pair<CommandResult, double> TimedMvmctl(std::vector<std::string> args) {
    const auto t0 = std::chrono::steady_clock::now();
    CommandResult result = Mvmctl(std::move(args));
    return {std::move(result),
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
  }

  /// `build` of the project's app.py into `out` in the running warm builder, which must serve it
  /// and make `digest`; how long it took in seconds.
  double WarmBuild(const fs::path& out, const std::string& digest) {
    auto [warm, seconds] = TimedMvmctl({"build", (project_ / "app.py").string(), "--state-dir",
                                        state_.string(), "-o", out.string()});
    EXPECT_EQ(warm.status, 0) << warm.out;
    EXPECT_NE(warm.out.find("in the warm builder mvm-builder"), std::string::npos) << warm.out;
    EXPECT_EQ(PlanDigest(out / "tiny.plan.json"), digest) << warm.out;
    return seconds;
  }

  /// A project whose workload `w` is `packages.x86_64-linux.<attr>` of a flake holding `packages`.
  void WriteProject(std::string_view packages, std::string_view attr) {
    WriteFile(project_ / "flake" / "flake.nix",
              std::string(kFlakeHead) + std::string(packages) + std::string(kFlakeTail));
    WriteFile(project_ / "app.py",
              "from mvm import workload, entrypoint\n\n\n@workload(\"w\", "
              "image=\"nix:path:./flake#packages.x86_64-linux." +
                  std::string(attr) +
                  "\")\nclass W:\n    @entrypoint(command=[\"/bin/true\"])\n"
                  "    def main(self): ...\n");
  }

  /// Compiles the project to plans/w.plan.json and w.nix.json, with `extra` flags inserted into
  /// the request's nix command (a request may carry flags of its own: docs/nix.md).
  fs::path CompilePlan(const std::vector<std::string>& extra = {}) {
    fs::path plans = tmp_.path() / "plans";
    CommandResult compiled =
        Mvmctl({"compile", (project_ / "app.py").string(), "-o", plans.string(), "--emit",
                "plan,nix", "--state-dir", state_.string()});
    EXPECT_EQ(compiled.status, 0) << compiled.out;
    nlohmann::json request = nlohmann::json::parse(ReadFile(plans / "w.nix.json"));
    auto& argv = request["argv"];
    for (const std::string& flag : extra) {
      argv.insert(argv.begin() + 4, flag);
    }
    WriteFile(plans / "w.nix.json", request.dump());
    return plans / "w.plan.json";
  }

  std::string PlanDigest(const fs::path& plan) {
    auto decoded = plan::DecodePlanFile(ReadFile(plan));
    return decoded.ok() && decoded->plan.artifacts_size() == 1 ? decoded->plan.artifacts(0).digest()
                                                               : "";
  }

  /// Builds a flake whose evaluation (`--impure`) and build read canaries planted on the host (in
  /// ~/.ssh, the state directory and its keys) and /etc/shadow, with `flags` added to `build`, and
  /// checks that nothing of them comes back anywhere. `own_shadow`: the builder's root has an
  /// /etc/shadow of its own (a Debian image's), which evaluation may read; it must not be the
  /// host's.
  void BuildAHostileFlakeAndFindNoCanary(const std::vector<std::string>& flags,
                                         bool own_shadow = false);
  /// Builds a flake whose build writes a mark into /usr, /src, the store, /root, /, /etc and /tmp,
  /// with `flags` added to `build`, and checks that none reached the host or the output, and that
  /// /usr and /src refused it.
  void BuildAFlakeThatWritesEverywhere(const std::vector<std::string>& flags);

  TempDir tmp_;
  fs::path state_;
  fs::path project_;
};

void BuilderSandboxTest::BuildAHostileFlakeAndFindNoCanary(const std::vector<std::string>& flags,
                                                           bool own_shadow) {
  // Canaries on the host: in the home directory's .ssh, the state directory and its keys. Their
  // contents never appear in a path, so finding one anywhere means it was read.
  const std::string secret = "MVMSECRET" + RandomHex();
  const fs::path ssh = fs::path(std::getenv("HOME") ? std::getenv("HOME") : "/root") / ".ssh" /
                       ("mvm-canary-" + RandomHex());
  WriteFile(ssh, secret + "-ssh\n");
  WriteFile(state_ / "canary", secret + "-state\n");
  WriteFile(state_ / "keys" / "canary.key", secret + "-keys\n");
  std::string shadow_line = ReadFile("/etc/shadow");
  shadow_line = shadow_line.substr(0, shadow_line.find('\n'));
  ASSERT_FALSE(shadow_line.empty());
  std::string paths;
  for (const fs::path& p :
       {ssh, state_ / "canary", state_ / "keys" / "canary.key", fs::path("/etc/shadow")}) {
    paths += (paths.empty() ? "" : " ") + p.string();
  }
  // Evaluation reads them with --impure (the request carries it); the build tries them with cat.
  WriteProject(
      R"(
        peek = mk "peek" ''
          mkdir $out
          echo "$seen" > $out/eval
          for f in )" +
          paths + R"(; do cat $f >> $out/build 2>&1; cat $f >&2; done
          echo done >> $out/build
        '' { seen = builtins.concatStringsSep "|" (map peek [ )" +
          [&] {
            std::string list;
            for (const fs::path& p : {ssh, state_ / "canary", state_ / "keys" / "canary.key",
                                      fs::path("/etc/shadow")}) {
              list += "\"" + p.string() + "\" ";
            }
            return list;
          }() +
          R"(]); };
)",
      "peek");
  fs::path plan = CompilePlan({"--impure"});

  // The flake really is hostile: evaluated on the host with --impure it reads the canary.
  CommandResult on_host = mvm::testing::RunCommand(
      {"nix", "--extra-experimental-features", "nix-command flakes", "eval", "--impure", "--raw",
       "--store", (tmp_.path() / "host-store").string(), "--option", "substituters", "",
       "path:" + (project_ / "flake").string() + "#packages.x86_64-linux.peek.seen"},
      mvm::testing::MergedOutput());
  EXPECT_NE(on_host.out.find(secret + "-ssh"), std::string::npos) << on_host.Describe();

  std::vector<std::string> build = {"build",         plan.string(),        "--state-dir",
                                    state_.string(), "--builder-store-mb", "256"};
  build.insert(build.end(), flags.begin(), flags.end());
  CommandResult built = Mvmctl(build);
  fs::remove(ssh);
  fs::remove(state_ / "canary");
  fs::remove_all(state_ / "keys" / "canary.key");
  ASSERT_EQ(built.status, 0) << built.out;
  std::string digest = PlanDigest(plan);
  ASSERT_TRUE(IsSha256Digest(digest)) << built.out;
  const fs::path tree = state_ / "artifacts" / "trees" / digest.substr(7);
  const std::string eval = ReadFile(tree / "eval");
  if (own_shadow) {
    ASSERT_TRUE(eval.starts_with("absent|absent|absent|")) << eval;
    EXPECT_NE(eval.substr(21), ReadFile("/etc/shadow") + "\n");
  } else {
    EXPECT_EQ(eval, "absent|absent|absent|absent\n");
  }
  EXPECT_NE(ReadFile(tree / "build").find("No such file or directory"), std::string::npos);
  // Nowhere: not in the output, the log, the audit log, or the bytes of the builder's store.
  for (const auto& [what, text] :
       {std::pair{"output", ReadAll(tree)}, std::pair{"log", built.out},
        std::pair{"audit log", ReadFile(state_ / "audit.jsonl")},
        std::pair{"store image", ReadFile(state_ / "builder" / "store.img")}}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << what;
    EXPECT_EQ(text.find(shadow_line), std::string::npos) << what;
  }
  // The output is read-only on the host.
  struct stat st {};
  ASSERT_EQ(::stat((tree / "eval").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0444u);
}

TEST_F(BuilderSandboxTest, AHostileFlakeReadsNoCanaryInEvaluationOrBuild) {
  BuildAHostileFlakeAndFindNoCanary({});
}

void BuilderSandboxTest::BuildAFlakeThatWritesEverywhere(const std::vector<std::string>& flags) {
  const std::string mark = "mvm-escape-" + RandomHex();
  WriteProject(R"(
        escape = mk "escape" ''
          mkdir $out
          for d in /usr /src /nix/store /root / /etc /tmp; do
            echo x > $d/)" +
                   mark + R"( 2>/dev/null && echo "wrote $d" >> $out/wrote
          done
          echo done >> $out/wrote
        '' {};
)",
               "escape");
  std::vector<std::string> build = {
      "build", (project_ / "app.py").string(), "--state-dir",        state_.string(),
      "-o",    (tmp_.path() / "out").string(), "--builder-store-mb", "256"};
  build.insert(build.end(), flags.begin(), flags.end());
  CommandResult built = Mvmctl(build);
  ASSERT_EQ(built.status, 0) << built.out;
  // The host's /usr and the flake are read-only in the builder; what it wrote elsewhere was its
  // own (its store, its tmpfs, its root's overlay) and is gone or never imported.
  for (const fs::path& host :
       {fs::path("/usr") / mark, project_ / "flake" / mark, fs::path("/root") / mark,
        fs::path("/") / mark, fs::path("/etc") / mark, fs::path("/tmp") / mark,
        fs::path("/nix/store") / mark, state_ / "builder" / "inbox" / mark}) {
    EXPECT_FALSE(fs::exists(host)) << host;
  }
  std::string digest = PlanDigest(tmp_.path() / "out" / "w.plan.json");
  const fs::path tree = state_ / "artifacts" / "trees" / digest.substr(7);
  std::string wrote = ReadFile(tree / "wrote");
  EXPECT_EQ(wrote.find("wrote /usr"), std::string::npos) << wrote;
  EXPECT_EQ(wrote.find("wrote /src"), std::string::npos) << wrote;
  EXPECT_FALSE(fs::exists(tree / mark));
}

TEST_F(BuilderSandboxTest, WritesOutsideTheOutputStayInTheBuilder) {
  BuildAFlakeThatWritesEverywhere({});
}

TEST_F(BuilderSandboxTest, FillingTheDiskFailsInTheBuilderAndTheHostKeepsItsSpace) {
  WriteProject(R"(
        fill = mk "fill" ''
          mkdir $out
          dd if=/dev/zero of=$out/big bs=1048576 count=400
        '' {};
)",
               "fill");
  struct statvfs before {};
  ASSERT_EQ(::statvfs(tmp_.path().c_str(), &before), 0);
  CommandResult built =
      Mvmctl({"build", (project_ / "app.py").string(), "--state-dir", state_.string(), "-o",
              (tmp_.path() / "out").string(), "--builder-store-mb", "96"});
  EXPECT_EQ(built.status, 3) << built.out;
  EXPECT_NE(built.out.find("No space left on device"), std::string::npos) << built.out;
  // The image is the bound: its blocks on disk are at most its size.
  struct stat st {};
  ASSERT_EQ(::stat((state_ / "builder" / "store.img").c_str(), &st), 0);
  EXPECT_LE(st.st_blocks * 512, 96ll << 20);
  EXPECT_FALSE(fs::exists(state_ / "builder" / "store" / "store"))
      << "the store stays unmounted after a build";
}

TEST_F(BuilderSandboxTest, AForkBombAndASleeperEndAtTheTimeLimit) {
  WriteProject(R"(
        bomb = mk "bomb" ''
          mkdir $out
          b() { b | b & }
          b
          sleep 600
        '' {};
        sleeper = mk "sleeper" "sleep 600" {};
)",
               "bomb");
  auto start = std::chrono::steady_clock::now();
  CommandResult bomb = Mvmctl({"build", (project_ / "app.py").string(), "--state-dir",
                               state_.string(), "-o", (tmp_.path() / "out").string(),
                               "--build-timeout", "15", "--builder-store-mb", "256"});
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(bomb.status, 3) << bomb.out;
  EXPECT_NE(bomb.out.find("--build-timeout"), std::string::npos) << bomb.out;
  EXPECT_LT(took, 90) << bomb.out;
  // Nothing of the builder is left: its sandbox was destroyed with every process in it.
  CommandResult ps = Mvmctl({"ps", "--state-dir", state_.string()});
  EXPECT_EQ(ps.out.find("mvm-builder"), std::string::npos) << ps.out;

  WriteProject(R"(
        sleeper = mk "sleeper" "sleep 600" {};
)",
               "sleeper");
  start = std::chrono::steady_clock::now();
  CommandResult sleeper =
      Mvmctl({"build", (project_ / "app.py").string(), "--state-dir", state_.string(), "-o",
              (tmp_.path() / "out").string(), "--build-timeout", "5", "--builder-store-mb", "256"});
  took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(sleeper.status, 3) << sleeper.out;
  EXPECT_NE(sleeper.out.find("--build-timeout"), std::string::npos) << sleeper.out;
  EXPECT_LT(took, 60) << sleeper.out;
}

TEST_F(BuilderSandboxTest, AnOutputThatDiffersFromThePinnedDigestIsRefused) {
  WriteFile(project_ / "flake" / "content", "one\n");
  WriteProject(R"(
        pinned = mk "pinned" ''
          mkdir $out
          echo "$content" > $out/content
        '' { content = builtins.readFile ./content; };
)",
               "pinned");
  fs::path plan = CompilePlan();
  CommandResult first =
      Mvmctl({"build", plan.string(), "--state-dir", state_.string(), "--builder-store-mb", "256"});
  ASSERT_EQ(first.status, 0) << first.out;
  const std::string pinned = PlanDigest(plan);
  ASSERT_TRUE(IsSha256Digest(pinned)) << first.out;
  WriteFile(project_ / "flake" / "content", "two\n");
  CommandResult changed = Mvmctl({"build", plan.string(), "--state-dir", state_.string()});
  EXPECT_EQ(changed.status, 3) << changed.out;
  EXPECT_NE(changed.out.find("refused: the builder's output"), std::string::npos) << changed.out;
  EXPECT_NE(changed.out.find("but the plan pins " + pinned), std::string::npos) << changed.out;
  EXPECT_EQ(PlanDigest(plan), pinned);
  CommandResult repinned =
      Mvmctl({"build", plan.string(), "--state-dir", state_.string(), "--repin"});
  ASSERT_EQ(repinned.status, 0) << repinned.out;
  EXPECT_NE(PlanDigest(plan), pinned);
}

TEST_F(BuilderSandboxTest, TheTemplateHasTheSameNarHashInTheBuilderAsOnTheHostAndWarmBuildsAudit) {
  // The host's own build of the template flake, as `mvmctl build` ran it before the builder.
  const std::string store = (tmp_.path() / "host-store").string();
  const std::string installable = "path:" + (fs::path(MVM_SOURCE_DIR) / "templates").string() +
                                  "#packages.x86_64-linux.busybox";
  auto t0 = std::chrono::steady_clock::now();
  CommandResult host = mvm::testing::RunCommand(
      {"nix", "--extra-experimental-features", "nix-command flakes", "build", "--store", store,
       "--option", "substituters", "", "--option", "build-users-group", "", "--no-link", "--json",
       installable});
  const double host_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(host.status, 0) << host.Describe();
  const std::string store_path =
      nlohmann::json::parse(host.out)[0]["outputs"]["out"].get<std::string>();
  auto host_hash = NarHash(fs::path(store) / fs::path(store_path).relative_path());
  ASSERT_TRUE(host_hash.ok());

  WriteFile(project_ / "app.py",
            "from mvm import workload, entrypoint\n\n\n@workload(\"tiny\", "
            "image=\"template:busybox\")\nclass T:\n    @entrypoint(command=[\"/bin/true\"])\n"
            "    def main(self): ...\n");
  auto [cold, cold_s] =
      TimedMvmctl({"build", (project_ / "app.py").string(), "--state-dir", state_.string(), "-o",
                   (tmp_.path() / "cold").string(), "--builder-store-mb", "256"});
  ASSERT_EQ(cold.status, 0) << cold.out;
  EXPECT_EQ(PlanDigest(tmp_.path() / "cold" / "tiny.plan.json"), *host_hash) << cold.out;
  EXPECT_NE(cold.out.find("in a new builder"), std::string::npos) << cold.out;

  CommandResult started = Mvmctl({"builder", "start", "--state-dir", state_.string()});
  ASSERT_EQ(started.status, 0) << started.out;
  CommandResult status =
      Mvmctl({"builder", "status", "--state-dir", state_.string(), "--format", "json"});
  EXPECT_NE(status.out.find("\"running\":true"), std::string::npos) << status.out;
  const double warm_s = WarmBuild(tmp_.path() / "warm", *host_hash);
  CommandResult stopped = Mvmctl({"builder", "stop", "--state-dir", state_.string()});
  EXPECT_EQ(stopped.status, 0) << stopped.out;
  status = Mvmctl({"builder", "status", "--state-dir", state_.string(), "--format", "json"});
  EXPECT_NE(status.out.find("\"running\":false"), std::string::npos) << status.out;
  std::printf("busybox template: host %.2f s, builder cold %.2f s, builder warm %.2f s\n", host_s,
              cold_s, warm_s);

  std::string audit = ReadFile(state_ / "audit.jsonl");
  for (const char* event : {"builder-start", "builder-build", "builder-import", "builder-stop"}) {
    EXPECT_NE(audit.find(std::string("\"event\":\"") + event + "\""), std::string::npos) << event;
  }
  CommandResult verified = Mvmctl({"audit", "verify", "--state-dir", state_.string()});
  EXPECT_EQ(verified.status, 0) << verified.out;
}

// The warm builder's store is mounted on the host in the mount namespace of whoever ran `builder
// start`; when that namespace is gone (here: `unshare --mount` ends with the command), a build from
// any other one still reaches the store, through the builder's own view of it.
TEST_F(BuilderSandboxTest, AWarmBuilderStartedInAnotherMountNamespaceStillServesBuilds) {
  WriteFile(project_ / "app.py",
            "from mvm import workload, entrypoint\n\n\n@workload(\"tiny\", "
            "image=\"template:busybox\")\nclass T:\n    @entrypoint(command=[\"/bin/true\"])\n"
            "    def main(self): ...\n");
  CommandResult started = mvm::testing::RunCommand(
      {"unshare", "--mount", "--propagation", "private", MVM_MVMCTL_PATH, "builder", "start",
       "--state-dir", state_.string(), "--builder-store-mb", "256"},
      mvm::testing::MergedOutput());
  ASSERT_EQ(started.status, 0) << started.out;
  // Not mounted here: the host-side mount went with the namespace it was made in.
  struct stat store {};
  struct stat parent {};
  ASSERT_EQ(::stat((state_ / "builder" / "store").c_str(), &store), 0);
  ASSERT_EQ(::stat((state_ / "builder").c_str(), &parent), 0);
  EXPECT_EQ(store.st_dev, parent.st_dev);

  CommandResult built = Mvmctl({"build", (project_ / "app.py").string(), "--state-dir",
                                state_.string(), "-o", (tmp_.path() / "out").string()});
  ASSERT_EQ(built.status, 0) << built.out;
  EXPECT_NE(built.out.find("in the warm builder mvm-builder"), std::string::npos) << built.out;
  EXPECT_TRUE(PlanDigest(tmp_.path() / "out" / "tiny.plan.json").starts_with("sha256:"));
  // And from a mount namespace of its own, as a build in a container or a systemd unit runs.
  CommandResult again =
      mvm::testing::RunCommand({"unshare", "--mount", "--propagation", "private", MVM_MVMCTL_PATH,
                                "build", (project_ / "app.py").string(), "--state-dir",
                                state_.string(), "-o", (tmp_.path() / "again").string()},
                               mvm::testing::MergedOutput());
  ASSERT_EQ(again.status, 0) << again.out;
  EXPECT_EQ(PlanDigest(tmp_.path() / "again" / "tiny.plan.json"),
            PlanDigest(tmp_.path() / "out" / "tiny.plan.json"));
  EXPECT_EQ(Mvmctl({"builder", "stop", "--state-dir", state_.string()}).status, 0);
}

// The builder on the qemu-microvm backend (under TCG here). Its state directory is kept under the
// build tree between runs, so that its root image is made once; its store is
// made afresh for each case, so that every build really happens in the VM. Its Debian root
// (nix-bin, busybox-static) is built once per CI run in the shared rootfs cache.
class MicrovmBuilderTest : public BuilderSandboxTest {
 protected:
  void SetUp() override {
    BuilderSandboxTest::SetUp();
    if (!os::FindProgram("qemu-system-x86_64")) {
      MVM_MISSING_PREREQUISITE()
          << "the microVM builder needs qemu-system-x86 (scripts/bootstrap.sh)";
    }
    state_ = fs::path(MVM_BINARY_DIR) / "microvm-builder-test-state";
    mvm::testing::UseSharedRootfsCache(state_);
    // The guest kernel, its modules and the KVM probe are the microVM suite's, shared (published
    // by rename, so concurrent first uses are safe), as snapshot_e2e_test.cc shares them.
    const fs::path guest = fs::path(MVM_BINARY_DIR) / "qemu-microvm-test-state" / "guest";
    fs::create_directories(guest);
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(state_ / "guest", ec))) {
      fs::create_directory_symlink(guest, state_ / "guest", ec);
    }
    Mvmctl({"builder", "stop", "--state-dir", state_.string()});
    ::umount2((state_ / "builder" / "store").c_str(), MNT_DETACH);
    fs::remove(state_ / "builder" / "store.img");
  }

  void TearDown() override {
    BuilderSandboxTest::TearDown();
    fs::remove(state_ / "builder" / "store.img");
  }

  std::string ReadProbe() { return ReadFile(state_ / "guest" / "kvm-probe"); }
};

// The default is what the KVM probe found on this host, not a constant: the same status command
// answers qemu-microvm when the probe's answer is KVM and container when it is TCG.
TEST_F(MicrovmBuilderTest, TheDefaultBackendIsTheKvmProbesAnswer) {
  auto status = [&](std::vector<std::string> env) {
    env.push_back("MVM_BUILDER_BACKEND=");
    mvm::testing::CommandOptions options = mvm::testing::MergedOutput();
    options.env = env;
    CommandResult r = mvm::testing::RunMvmctl(
        {"builder", "status", "--state-dir", state_.string(), "--format", "json"}, std::nullopt,
        options);
    EXPECT_EQ(r.status, 0) << r.out;
    return nlohmann::json::parse(r.out.substr(r.out.find('{')), nullptr, false);
  };
  nlohmann::json probed = status({"MVM_QEMU_ACCEL="});
  ASSERT_TRUE(probed.is_object());
  // The probe ran (or had run) a real boot under KVM and cached what it saw.
  const std::string probe = ReadProbe();
  ASSERT_TRUE(probe.find("kvm-boots") != std::string::npos ||
              probe.find("kvm-fails") != std::string::npos)
      << probe;
  const bool kvm_boots = probe.find("kvm-boots") != std::string::npos;
  EXPECT_EQ(probed["new_builder_backend"], kvm_boots ? "qemu-microvm" : "container") << probed;
  EXPECT_EQ(probed["new_builder_backend_asked"], false);
  std::printf("here: %s (%s)\n", probed["new_builder_backend"].get<std::string>().c_str(),
              probed["new_builder_backend_reason"].get<std::string>().c_str());
  // The accelerator decides: forced either way, the default follows.
  EXPECT_EQ(status({"MVM_QEMU_ACCEL=kvm"})["new_builder_backend"], "qemu-microvm");
  EXPECT_EQ(status({"MVM_QEMU_ACCEL=tcg"})["new_builder_backend"], "container");
  CommandResult human = Mvmctl(
      {"builder", "status", "--state-dir", state_.string(), "--builder-backend", "qemu-microvm"});
  EXPECT_NE(human.out.find("new builders: backend qemu-microvm, named by --builder-backend"),
            std::string::npos)
      << human.out;
}

TEST_F(MicrovmBuilderTest, TheTemplateBuildsInTheMicrovmToTheContainerBuildersNarHash) {
  WriteFile(project_ / "app.py",
            "from mvm import workload, entrypoint\n\n\n@workload(\"tiny\", "
            "image=\"template:busybox\")\nclass T:\n    @entrypoint(command=[\"/bin/true\"])\n"
            "    def main(self): ...\n");
  const fs::path container_state = tmp_.path() / "container-state";
  CommandResult in_container =
      Mvmctl({"build", (project_ / "app.py").string(), "--state-dir", container_state.string(),
              "-o", (tmp_.path() / "container").string(), "--builder-store-mb", "256",
              "--builder-backend", "container"});
  Mvmctl({"builder", "stop", "--state-dir", container_state.string()});
  ASSERT_EQ(in_container.status, 0) << in_container.out;
  const std::string container_digest = PlanDigest(tmp_.path() / "container" / "tiny.plan.json");
  ASSERT_TRUE(IsSha256Digest(container_digest)) << in_container.out;

  auto [cold, cold_s] =
      TimedMvmctl({"build", (project_ / "app.py").string(), "--state-dir", state_.string(), "-o",
                   (tmp_.path() / "vm").string(), "--builder-store-mb", "256", "--builder-backend",
                   "qemu-microvm"});
  ASSERT_EQ(cold.status, 0) << cold.out;
  EXPECT_NE(cold.out.find("in a new builder"), std::string::npos) << cold.out;
  EXPECT_NE(cold.out.find("on qemu-microvm"), std::string::npos) << cold.out;
  EXPECT_EQ(PlanDigest(tmp_.path() / "vm" / "tiny.plan.json"), container_digest) << cold.out;

  // Warm: a microVM kept running serves the next build without a boot.
  CommandResult started = Mvmctl(
      {"builder", "start", "--state-dir", state_.string(), "--builder-backend", "qemu-microvm"});
  ASSERT_EQ(started.status, 0) << started.out;
  EXPECT_NE(started.out.find("backend qemu-microvm"), std::string::npos) << started.out;
  const double warm_s = WarmBuild(tmp_.path() / "warm", container_digest);
  EXPECT_EQ(Mvmctl({"builder", "stop", "--state-dir", state_.string()}).status, 0);
  std::printf("busybox template in the microVM builder: cold %.2f s, warm %.2f s\n", cold_s,
              warm_s);

  // Audited as the container builder's are, with the backend named.
  std::string audit = ReadFile(state_ / "audit.jsonl");
  EXPECT_NE(audit.find("\"backend\":\"qemu-microvm\""), std::string::npos);
  for (const char* event : {"builder-start", "builder-build", "builder-import", "builder-stop"}) {
    EXPECT_NE(audit.find(std::string("\"event\":\"") + event + "\""), std::string::npos) << event;
  }
  CommandResult verified = Mvmctl({"audit", "verify", "--state-dir", state_.string()});
  EXPECT_EQ(verified.status, 0) << verified.out;
}

// /src is the host's inbox over virtio-fs, read-only by a mount the host locks.
TEST_F(MicrovmBuilderTest, WritesOutsideTheOutputStayInTheBuilder) {
  BuildAFlakeThatWritesEverywhere({"--builder-backend", "qemu-microvm"});
}

TEST_F(MicrovmBuilderTest, AHostileFlakeReadsNoCanaryInEvaluationOrBuild) {
  BuildAHostileFlakeAndFindNoCanary({"--builder-backend", "qemu-microvm"}, /*own_shadow=*/true);
}

}  // namespace
}  // namespace mvm::nix
