// Nix remote builders, proven (issue 25): `mvmctl build --builders 'ssh-ng://…'` builds the
// template flake on a second host and gets the NAR hash a local build gets. The second host is the
// test internet's "internet" network namespace (tests/support/test_internet.h: a veth pair,
// TEST-NET addresses only, nothing in the host's namespace) running Debian's sshd on 192.0.2.1 with
// a Nix store and nix.conf of its own; mvmctl runs in the "client" namespace, 192.0.2.2, so the
// build can only get there over SSH. Keys are generated per run: an ed25519 client key the builder
// authorizes, and the builder's host key pinned in the machine's 8th field (no trust on first use).
// Offline: neither namespace has a route anywhere else. Needs root, nix-bin, openssh-server and
// openssh-client, iproute2 and util-linux, as CI has.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include "backend-emit/nix/artifacts.h"
#include "backend-emit/nix/build.h"
#include "backend-emit/nix/builders.h"
#include "backend-emit/nix/nar.h"
#include "backend-emit/nix/request.h"
#include "backend-emit/plan/base64.h"
#include "backend-emit/plan/verify.h"
#include "ir/support/os/process.h"
#include "ir/support/os/unique_fd.h"
#include "tests/support/command.h"
#include "tests/support/files.h"
#include "tests/support/prerequisite.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_internet.h"

namespace mvm::nix {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using mvm::testing::CommandResult;
using mvm::testing::ReadFile;
using mvm::testing::TempDir;
using mvm::testing::TestInternet;
using mvm::testing::WriteFile;

constexpr std::string_view kBusybox = R"(from mvm import workload, entrypoint


@workload("tiny", image="template:busybox")
class Tiny:
    @entrypoint(command=["/bin/sh", "-c", "echo ok"])
    def main(self): ...
)";

// A flake whose evaluation reads files of the host (with `--impure`, which its request carries):
// what it saw ends up in its output's `eval`. It builds with the busybox the template pins, so the
// remote builder can build it offline.
constexpr std::string_view kPeekFlake = R"(
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
    in {
      packages.${system}.peek = derivation {
        name = "peek";
        inherit system;
        builder = "${bb}/busybox";
        args = [ "sh" "-c" "mkdir $out && echo \"$seen\" > $out/eval" ];
        PATH = "${bb}";
        seen = builtins.concatStringsSep "|" (map peek [ @PATHS@ ]);
      };
    };
}
)";

// The builder's address: the internet namespace's end of the veth pair.
constexpr std::string_view kBuilderAddress = TestInternet::kGatewayAddress;

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

CommandResult Exec(const std::vector<std::string>& argv) {
  return mvm::testing::RunCommand(argv, mvm::testing::MergedOutput());
}

// What could not be set up, or "" when everything could.
std::string MissingPrerequisite() {
  if (auto missing = TestInternet::MissingPrerequisite()) {
    return *missing;
  }
  for (const auto& [tool, package] : {std::pair{"sshd", "openssh-server"},
                                      {"ssh", "openssh-client"},
                                      {"ssh-keygen", "openssh-client"},
                                      {"nix", "nix-bin"}}) {
    if (!os::FindProgram(tool)) {
      return std::string("the remote builder test needs `") + tool + "` (Debian package " +
             package + ", installed by scripts/bootstrap.sh)";
    }
  }
  return "";
}

/// The second host: sshd in the internet namespace, authorizing one client key, with a Nix
/// configuration of its own (NIX_CONF_DIR, set for its sessions by sshd): no substituters (it is
/// offline too), builds in Nix's sandbox, no build users (Debian's nix-bin has no `nixbld`).
/// Each test names a store of its own through the URI's `remote-store`.
class BuilderHost {
 public:
  ~BuilderHost() { Stop(); }

  std::string Start() {
    if (auto started = internet_.Start(); !started) {
      return started.error().message;
    }
    const fs::path d = dir_.path();
    for (const char* key : {"client_key", "host_key", "wrong_host_key", "stranger_key"}) {
      CommandResult made =
          Exec({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                std::string("mvm-remote-builder-test-") + key, "-f", (d / key).string()});
      if (made.status != 0) {
        return "ssh-keygen failed: " + made.out;
      }
    }
    WriteFile(d / "authorized_keys", ReadFile(d / "client_key.pub"));
    fs::create_directories(d / "nix-conf");
    WriteFile(d / "nix-conf" / "nix.conf",
              "substituters =\nsandbox = true\nsandbox-fallback = false\nbuild-users-group =\n");
    // StrictModes off: the files are in a scratch directory below /tmp, which sshd's check of
    // every directory on the path (no group or world write) refuses.
    WriteFile(d / "sshd_config", "ListenAddress " + std::string(kBuilderAddress) + ":22\nHostKey " +
                                     (d / "host_key").string() + "\nAuthorizedKeysFile " +
                                     (d / "authorized_keys").string() +
                                     "\nPermitRootLogin prohibit-password\n"
                                     "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                                     "UsePAM no\nStrictModes no\nPidFile none\nLogLevel VERBOSE\n"
                                     "SetEnv NIX_CONF_DIR=" +
                                     (d / "nix-conf").string() + "\n");
    // sshd's privilege separation directory, which Debian's service would make.
    std::error_code ec;
    fs::create_directories("/run/sshd", ec);

    os::UniqueFd log(open(log_path().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!log.valid()) {
      return "cannot create " + log_path().string();
    }
    os::SpawnOptions spawn;
    // nsenter execs sshd (-D: no daemon), so the pid is sshd's and it is our child. sshd re-execs
    // itself, so it is named by its absolute path.
    spawn.argv = {os::FindProgram("nsenter")->string(),
                  "--net=" + ("/run/netns/" + internet_.internet_netns()),
                  os::FindProgram("sshd")->string(),
                  "-D",
                  "-e",
                  "-f",
                  (d / "sshd_config").string()};
    spawn.fds = {{1, log.get()}, {2, log.get()}};
    auto pid = os::Spawn(spawn);
    if (!pid) {
      return "cannot start sshd: " + pid.error().message;
    }
    sshd_ = *pid;
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (ReadFile(log_path()).find("Server listening on") == std::string::npos) {
      if (waitpid(sshd_, nullptr, WNOHANG) == sshd_) {
        sshd_ = 0;
        return "sshd exited: " + ReadFile(log_path());
      }
      if (Clock::now() >= deadline) {
        return "sshd did not listen within 10 s: " + ReadFile(log_path());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return "";
  }

  void Stop() {
    if (sshd_ > 0) {
      kill(sshd_, SIGTERM);
      const auto deadline = Clock::now() + std::chrono::seconds(5);
      while (waitpid(sshd_, nullptr, WNOHANG) == 0 && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      if (waitpid(sshd_, nullptr, WNOHANG) == 0) {
        kill(sshd_, SIGKILL);
        waitpid(sshd_, nullptr, 0);
      }
      sshd_ = 0;
    }
    internet_.Stop();  // and whatever sshd's sessions left in the namespace
  }

  /// One machine of Nix's machines list for this builder, building into `remote_store`, with the
  /// host key of `host_key_file` pinned and `client_key` as the identity.
  std::string Machine(std::string_view scheme, const fs::path& remote_store,
                      const std::string& host_key_file = "host_key.pub",
                      const std::string& client_key = "client_key") const {
    // The 8th field is the base64 of the public key line without its comment.
    std::string line = ReadFile(dir_.path() / host_key_file);
    line = line.substr(0, line.find(' ', line.find(' ') + 1));
    return std::string(scheme) + "root@" + std::string(kBuilderAddress) +
           "?remote-store=" + remote_store.string() + " x86_64-linux " +
           (dir_.path() / client_key).string() + " 1 1 - - " + plan::Base64Encode(line);
  }

  /// The SHA256 fingerprint of a generated public key, as sshd logs it.
  std::string Fingerprint(const std::string& key) const {
    CommandResult listed =
        Exec({"ssh-keygen", "-l", "-f", (dir_.path() / (key + ".pub")).string()});
    size_t start = listed.out.find("SHA256:");
    return start == std::string::npos
               ? ""
               : listed.out.substr(start, listed.out.find(' ', start) - start);
  }

  fs::path log_path() const { return dir_.path() / "sshd.log"; }
  std::string Log() const { return ReadFile(log_path()); }
  /// The log from byte `since` on, once it holds `text` or 5 s have passed: sshd may log a
  /// connection's end a moment after the client has gone.
  std::string LogOnceItHas(size_t since, std::string_view text) const {
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    std::string log = Log().substr(since);
    while (log.find(text) == std::string::npos && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      log = Log().substr(since);
    }
    return log;
  }
  const TestInternet& internet() const { return internet_; }

 private:
  TestInternet internet_;
  TempDir dir_{"mvm-remote-builder"};
  pid_t sshd_ = 0;
};

class RemoteBuilderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    missing_ = new std::string(MissingPrerequisite());
    if (!missing_->empty()) {
      return;
    }
    auto start = Clock::now();
    host_ = new BuilderHost();
    setup_error_ = new std::string(host_->Start());
    std::printf("builder host set up in %.2f s\n", Since(start));
  }
  static void TearDownTestSuite() {
    delete host_;
    host_ = nullptr;
  }

  void SetUp() override {
    if (!missing_->empty()) {
      MVM_MISSING_PREREQUISITE() << *missing_;
    }
    ASSERT_TRUE(setup_error_->empty()) << *setup_error_;
    source_ = tmp_.path() / "src" / "app.py";
    WriteFile(source_, kBusybox);
  }

  /// `mvmctl ARGS` in the client namespace, stdout and stderr in `out`, at most 300 s.
  CommandResult MvmctlInClient(std::vector<std::string> args) {
    args.insert(args.begin(), MVM_MVMCTL_PATH);
    CommandResult r = host_->internet().Run(args, std::nullopt, std::chrono::seconds(300));
    r.out += r.err;
    return r;
  }

  static std::string PlanDigest(const fs::path& path) {
    auto decoded = plan::DecodePlanFile(ReadFile(path));
    if (!decoded.ok() || decoded->plan.artifacts_size() != 1) {
      return "";
    }
    return decoded->plan.artifacts(0).digest();
  }

  /// `nix path-info --json` of `store_path` in the local store at `store`: null when it is not
  /// valid there.
  static nlohmann::json PathInfo(const fs::path& store, const std::string& store_path) {
    CommandResult info = mvm::testing::RunCommand(
        {"nix", "--extra-experimental-features", "nix-command", "path-info", "--store",
         store.string(), "--option", "substituters", "", "--option", "build-users-group", "",
         "--json", store_path});
    nlohmann::json j = nlohmann::json::parse(info.out, nullptr, /*allow_exceptions=*/false);
    if (info.status != 0 || !j.is_array() || j.size() != 1 || !j[0].is_object() ||
        !j[0].contains("narHash")) {
      return nullptr;
    }
    return j[0];
  }

  /// How many template outputs (`<hash>-mvm-rootfs-busybox`) the local store at `store` holds.
  static int RootfsOutputsIn(const fs::path& store) {
    int count = 0;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(store / "nix" / "store", ec)) {
      count += entry.path().filename().string().ends_with("-mvm-rootfs-busybox") ? 1 : 0;
    }
    return count;
  }

  static std::string NarDigest(const nlohmann::json& info) {
    if (!info.is_object()) {
      return "";
    }
    auto digest = SriToDigest(info.value("narHash", ""));
    return digest.ok() ? *digest : "";
  }

  static inline std::string* missing_ = nullptr;
  static inline std::string* setup_error_ = nullptr;
  static inline BuilderHost* host_ = nullptr;
  TempDir tmp_{"mvm-remote-build"};
  fs::path source_;
};

TEST_F(RemoteBuilderTest, TheTemplateBuildsOnTheBuilderWithTheLocalBuildsNarHash) {
  const fs::path remote_store = tmp_.path() / "builder-store";
  const fs::path state = tmp_.path() / "state";
  const std::string machine = host_->Machine("ssh-ng://", remote_store);
  const size_t log_before = host_->Log().size();

  auto start = Clock::now();
  CommandResult built =
      MvmctlInClient({"build", source_.string(), "--state-dir", state.string(), "-o",
                      (tmp_.path() / "out").string(), "-v", "--builders", machine});
  double remote_seconds = Since(start);
  ASSERT_EQ(built.status, 0) << built.out;
  std::string digest = PlanDigest(tmp_.path() / "out" / "tiny.plan.json");
  ASSERT_TRUE(IsSha256Digest(digest)) << built.out;
  auto record = ReadBuiltArtifact(state, digest);
  ASSERT_TRUE(record.ok()) << record.error().message;

  // Built there: Nix says where it sent the derivation, ...
  EXPECT_NE(built.out.find("-mvm-rootfs-busybox.drv' on 'ssh-ng://root@" +
                           std::string(kBuilderAddress) + "?remote-store="),
            std::string::npos)
      << built.out;
  // ... the builder's own store holds the output as built by that store ("ultimate": not copied
  // in), with the NAR hash the builder itself computed, ...
  nlohmann::json remote = PathInfo(remote_store, record->store_path);
  ASSERT_TRUE(remote.is_object()) << "the builder's store does not have " << record->store_path;
  EXPECT_TRUE(remote.value("ultimate", false)) << remote.dump();
  EXPECT_EQ(NarDigest(remote), digest);
  // ... while this host's store got it by copying, so it did not build it.
  nlohmann::json local = PathInfo(state / "nix", record->store_path);
  ASSERT_TRUE(local.is_object());
  EXPECT_FALSE(local.value("ultimate", false)) << local.dump();
  EXPECT_EQ(RootfsOutputsIn(state / "nix"), 1);
  // And the builder's sshd let in exactly our client key, from the client namespace, and ran
  // Nix's command for it.
  std::string log = host_->Log().substr(log_before);
  EXPECT_NE(
      log.find("Accepted publickey for root from " + std::string(TestInternet::kClientAddress)),
      std::string::npos)
      << log;
  EXPECT_NE(log.find(host_->Fingerprint("client_key")), std::string::npos) << log;
  EXPECT_NE(log.find("Starting session: command for root"), std::string::npos) << log;

  // The flake was evaluated in the builder sandbox, and this host's Nix was given the derivation
  // only: the command `-v` prints builds a `.drv` path, not the flake.
  EXPECT_NE(built.out.find("mvmctl build: evaluated tiny in a new builder mvm-builder-"),
            std::string::npos)
      << built.out;
  const std::string running = "mvmctl build: running ";
  size_t at = built.out.find(running);
  ASSERT_NE(at, std::string::npos) << built.out;
  std::string command = built.out.substr(at, built.out.find('\n', at) - at);
  EXPECT_TRUE(command.ends_with("-mvm-rootfs-busybox.drv")) << command;
  EXPECT_EQ(command.find('#'), std::string::npos) << command;
  EXPECT_EQ(command.find("path:"), std::string::npos) << command;

  // The request written beside the plan records where it built.
  auto request = ParseRequestJson(ReadFile(tmp_.path() / "out" / "tiny.nix.json"));
  ASSERT_TRUE(request.ok()) << request.error().message;
  auto builders = std::find(request->argv.begin(), request->argv.end(), "--builders");
  ASSERT_NE(builders, request->argv.end());
  EXPECT_EQ(builders[1], machine);
  EXPECT_NE(std::find(request->argv.begin(), request->argv.end(), "--max-jobs"),
            request->argv.end());

  // The same template built here, in the builder sandbox: the same NAR hash.
  const fs::path local_state = tmp_.path() / "local-state";
  start = Clock::now();
  CommandResult here = Exec({MVM_MVMCTL_PATH, "build", source_.string(), "--state-dir",
                             local_state.string(), "-o", (tmp_.path() / "local-out").string()});
  double local_seconds = Since(start);
  ASSERT_EQ(here.status, 0) << here.out;
  EXPECT_EQ(PlanDigest(tmp_.path() / "local-out" / "tiny.plan.json"), digest);
  EXPECT_NE(here.out.find("builder"), std::string::npos) << here.out;

  RecordProperty("remote_build_seconds", std::to_string(remote_seconds));
  RecordProperty("local_build_seconds", std::to_string(local_seconds));
  std::printf("template build, empty stores: remote %.2f s, local %.2f s\n", remote_seconds,
              local_seconds);
}

TEST_F(RemoteBuilderTest, EvaluationHappensInTheBuilderSandboxNotOnThisHost) {
  const fs::path remote_store = tmp_.path() / "builder-store";
  const fs::path state = tmp_.path() / "state";
  const fs::path project = tmp_.path() / "project";
  std::random_device random;
  const std::string secret = "canary-" + std::to_string(random()) + std::to_string(random());
  WriteFile(state / "canary", secret + "-state\n");
  std::string flake(kPeekFlake);
  flake.replace(flake.find("@PATHS@"), 7,
                "\"" + (state / "canary").string() + "\" \"/etc/shadow\"");
  WriteFile(project / "flake" / "flake.nix", flake);
  WriteFile(project / "app.py",
            "from mvm import workload, entrypoint\n\n\n@workload(\"w\", "
            "image=\"nix:path:./flake#packages.x86_64-linux.peek\")\nclass W:\n"
            "    @entrypoint(command=[\"/bin/true\"])\n    def main(self): ...\n");
  const fs::path plans = tmp_.path() / "plans";
  CommandResult compiled =
      Exec({MVM_MVMCTL_PATH, "compile", (project / "app.py").string(), "-o", plans.string(),
            "--emit", "plan,nix", "--state-dir", state.string()});
  ASSERT_EQ(compiled.status, 0) << compiled.out;
  nlohmann::json request = nlohmann::json::parse(ReadFile(plans / "w.nix.json"));
  request["argv"].insert(request["argv"].begin() + 4, "--impure");
  WriteFile(plans / "w.nix.json", request.dump());

  // The flake really is hostile: evaluated on this host with --impure, it reads the canary.
  CommandResult on_host = mvm::testing::RunCommand(
      {"nix", "--extra-experimental-features", "nix-command flakes", "eval", "--impure", "--raw",
       "--store", (tmp_.path() / "host-store").string(), "--option", "substituters", "",
       "path:" + (project / "flake").string() + "#packages.x86_64-linux.peek.seen"},
      mvm::testing::MergedOutput());
  EXPECT_NE(on_host.out.find(secret + "-state"), std::string::npos) << on_host.out;

  CommandResult built =
      MvmctlInClient({"build", (plans / "w.plan.json").string(), "--state-dir", state.string(),
                      "-v", "--builders", host_->Machine("ssh-ng://", remote_store)});
  ASSERT_EQ(built.status, 0) << built.out;
  std::string digest = PlanDigest(plans / "w.plan.json");
  auto record = ReadBuiltArtifact(state, digest);
  ASSERT_TRUE(record.ok()) << built.out;
  // Evaluated in the builder sandbox, which sees neither the state directory nor /etc/shadow ...
  EXPECT_EQ(ReadFile(record->tree / "eval"), "absent|absent\n") << built.out;
  EXPECT_EQ(built.out.find(secret), std::string::npos) << built.out;
  EXPECT_NE(built.out.find("mvmctl build: evaluated w in a new builder"), std::string::npos)
      << built.out;
  // ... and built on the remote builder, not here.
  nlohmann::json remote = PathInfo(remote_store, record->store_path);
  EXPECT_TRUE(remote.value("ultimate", false)) << remote.dump();
  EXPECT_EQ(NarDigest(remote), digest);
  EXPECT_FALSE(PathInfo(state / "nix", record->store_path).value("ultimate", false));
  // The audit log records the evaluation and the derivation it gave.
  const std::string audit = ReadFile(state / "audit.jsonl");
  EXPECT_NE(audit.find("builder-evaluate"), std::string::npos);
  EXPECT_NE(audit.find("-peek.drv"), std::string::npos);
}

// What the builder sandbox exports crosses as data that proves itself: this host imports a path
// only when its name follows from its contents, so a builder cannot slip a made-up build output (a
// path named by its derivation, not its contents) into the store the remote build fills.
TEST_F(RemoteBuilderTest, OnlyContentAddressedPathsOfTheExportAreImported) {
  std::string flake(kPeekFlake);
  flake.replace(flake.find("@PATHS@"), 7, "");
  WriteFile(tmp_.path() / "flake" / "flake.nix", flake);
  const std::string source_store = (tmp_.path() / "source-store").string();
  const std::vector<std::string> nix = {"nix",
                                        "--extra-experimental-features",
                                        "nix-command flakes",
                                        "--option",
                                        "substituters",
                                        "",
                                        "--option",
                                        "build-users-group",
                                        ""};
  auto run = [&](std::vector<std::string> more) {
    std::vector<std::string> argv = nix;
    argv.insert(argv.end(), more.begin(), more.end());
    return mvm::testing::RunCommand(argv);
  };
  CommandResult evaluated =
      run({"path-info", "--store", source_store, "--derivation",
           "path:" + (tmp_.path() / "flake").string() + "#packages.x86_64-linux.peek"});
  ASSERT_EQ(evaluated.status, 0) << evaluated.out << evaluated.err;
  const std::string drv = evaluated.out.substr(0, evaluated.out.find('\n'));
  const fs::path cache = tmp_.path() / "cache";
  CommandResult exported = run({"copy", "--store", source_store, "--derivation", "--to",
                                "file://" + cache.string() + "?compression=none", drv});
  ASSERT_EQ(exported.status, 0) << exported.err;
  auto nix_path = FindNix();
  ASSERT_TRUE(nix_path.ok());

  const fs::path good = tmp_.path() / "good-store";
  auto imported = ImportDerivations(*nix_path, cache, good.string(), drv);
  ASSERT_TRUE(imported.ok()) << imported.error().message;
  EXPECT_TRUE(fs::is_regular_file(good / fs::path(drv).relative_path()));

  // The same export with the busybox source's `CA:` line gone: its name no longer follows from
  // anything Nix can check, as an output's would not.
  std::string busybox_info;
  for (const auto& entry : fs::directory_iterator(cache)) {
    if (entry.path().extension() != ".narinfo") {
      continue;
    }
    const std::string text = ReadFile(entry.path());
    if (text.find("-busybox-static\n") != std::string::npos) {
      busybox_info = entry.path().filename().string();
    }
  }
  ASSERT_FALSE(busybox_info.empty());
  const fs::path forged = tmp_.path() / "forged";
  fs::copy(cache, forged, fs::copy_options::recursive);
  std::string text = ReadFile(forged / busybox_info);
  text.erase(text.find("CA: "), text.find('\n', text.find("CA: ")) + 1 - text.find("CA: "));
  fs::remove(forged / busybox_info);
  WriteFile(forged / busybox_info, text);
  const fs::path bad = tmp_.path() / "bad-store";
  auto refused = ImportDerivations(*nix_path, forged, bad.string(), drv);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("lacks a valid signature"), std::string::npos)
      << refused.error().message;
  EXPECT_FALSE(fs::exists(bad / fs::path(drv).relative_path()));

  auto not_drv = ImportDerivations(*nix_path, cache, bad.string(), "/nix/store/../etc");
  ASSERT_FALSE(not_drv.ok());
  EXPECT_NE(not_drv.error().message.find("not a store path ending in `.drv`"), std::string::npos)
      << not_drv.error().message;
}

TEST_F(RemoteBuilderTest, TheWarmBuilderEvaluatesWhenItRuns) {
  const fs::path remote_store = tmp_.path() / "builder-store";
  const fs::path state = tmp_.path() / "state";
  // One shell for the three commands: each run in the client namespace gets a mount namespace of
  // its own, and the warm builder's store is mounted in the one `builder start` ran in.
  auto quoted = [](const std::string& s) { return "'" + s + "'"; };
  const std::string mvmctl = quoted(MVM_MVMCTL_PATH) + " ";
  const std::string state_flag = " --state-dir " + quoted(state.string());
  const std::string script = mvmctl + "builder start" + state_flag + " || exit 90\n" + mvmctl +
                             "build " + quoted(source_.string()) + state_flag + " -o " +
                             quoted((tmp_.path() / "out").string()) + " --builders " +
                             quoted(host_->Machine("ssh-ng://", remote_store)) + "\nstatus=$?\n" +
                             mvmctl + "builder stop" + state_flag + " || exit 91\nexit $status\n";
  CommandResult built =
      host_->internet().Run({"/bin/sh", "-c", script}, std::nullopt, std::chrono::seconds(300));
  built.out += built.err;
  ASSERT_EQ(built.status, 0) << built.out;
  EXPECT_NE(built.out.find("mvmctl build: evaluated tiny in the warm builder mvm-builder:"),
            std::string::npos)
      << built.out;
  auto record = ReadBuiltArtifact(state, PlanDigest(tmp_.path() / "out" / "tiny.plan.json"));
  ASSERT_TRUE(record.ok()) << built.out;
  EXPECT_TRUE(PathInfo(remote_store, record->store_path).value("ultimate", false));
}

TEST_F(RemoteBuilderTest, TheLegacySshProtocolBuildsThereToo) {
  const fs::path remote_store = tmp_.path() / "builder-store";
  const fs::path state = tmp_.path() / "state";
  CommandResult built = MvmctlInClient({"build", source_.string(), "--state-dir", state.string(),
                                        "-o", (tmp_.path() / "out").string(), "--builders",
                                        host_->Machine("ssh://", remote_store)});
  ASSERT_EQ(built.status, 0) << built.out;
  std::string digest = PlanDigest(tmp_.path() / "out" / "tiny.plan.json");
  auto record = ReadBuiltArtifact(state, digest);
  ASSERT_TRUE(record.ok()) << built.out;
  nlohmann::json remote = PathInfo(remote_store, record->store_path);
  EXPECT_TRUE(remote.value("ultimate", false)) << remote.dump();
  EXPECT_EQ(NarDigest(remote), digest);
  EXPECT_FALSE(PathInfo(state / "nix", record->store_path).value("ultimate", false));
}

TEST_F(RemoteBuilderTest, ABuilderWhoseHostKeyIsNotThePinnedOneIsRefused) {
  const fs::path remote_store = tmp_.path() / "builder-store";
  const fs::path state = tmp_.path() / "state";
  const size_t log_before = host_->Log().size();
  CommandResult built =
      MvmctlInClient({"build", source_.string(), "--state-dir", state.string(), "-o",
                      (tmp_.path() / "out").string(), "--builders",
                      host_->Machine("ssh-ng://", remote_store, "wrong_host_key.pub")});
  EXPECT_EQ(built.status, 3) << built.out;
  EXPECT_NE(built.out.find("Host key verification failed"), std::string::npos) << built.out;
  EXPECT_NE(built.out.find("hint: the builder's SSH host key is not the one pinned"),
            std::string::npos)
      << built.out;
  // Nothing was built anywhere (`--max-jobs 0` keeps it off this host), nothing recorded, no plan.
  EXPECT_FALSE(fs::exists(remote_store / "nix" / "store")) << built.out;
  EXPECT_EQ(RootfsOutputsIn(state / "nix"), 0) << built.out;
  EXPECT_FALSE(fs::exists(state / "artifacts")) << built.out;
  EXPECT_FALSE(fs::exists(tmp_.path() / "out")) << built.out;
  // The client hung up before authenticating: the builder never saw our key.
  const std::string closed = "Connection closed by " + std::string(TestInternet::kClientAddress);
  std::string log = host_->LogOnceItHas(log_before, closed);
  EXPECT_NE(log.find(closed), std::string::npos) << log;
  EXPECT_EQ(log.find("Accepted publickey"), std::string::npos) << log;
  // No trust on first use either: the builder's key was not added to root's known_hosts.
  if (const char* home = std::getenv("HOME")) {
    EXPECT_EQ(ReadFile(fs::path(home) / ".ssh" / "known_hosts").find(std::string(kBuilderAddress)),
              std::string::npos);
  }
}

TEST_F(RemoteBuilderTest, AClientKeyTheBuilderDoesNotAuthorizeIsRefused) {
  const fs::path remote_store = tmp_.path() / "builder-store";
  const fs::path state = tmp_.path() / "state";
  CommandResult built =
      MvmctlInClient({"build", source_.string(), "--state-dir", state.string(), "-o",
                      (tmp_.path() / "out").string(), "--builders",
                      host_->Machine("ssh-ng://", remote_store, "host_key.pub", "stranger_key")});
  EXPECT_EQ(built.status, 3) << built.out;
  EXPECT_NE(built.out.find("Permission denied (publickey)"), std::string::npos) << built.out;
  EXPECT_NE(built.out.find("hint: the builder refused the ssh key"), std::string::npos)
      << built.out;
  EXPECT_FALSE(fs::exists(remote_store / "nix" / "store")) << built.out;
  EXPECT_EQ(RootfsOutputsIn(state / "nix"), 0) << built.out;
  EXPECT_FALSE(fs::exists(state / "artifacts")) << built.out;
}

}  // namespace
}  // namespace mvm::nix
