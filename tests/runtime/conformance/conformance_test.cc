// What every backend must do, run against every backend of the registry (runtime/backends/
// registry.cc) through the real mvmctl: hostile workloads stay inside their limits, the lifecycle
// commands, file snapshots and warm pools behave the same, and nothing outlives the sandbox. A new
// backend is tested here by adding its row to Targets(); what only one backend has (qemu's
// confinement, virtiofsd, cgroup paths) stays in that backend's own suite.
//
// Each backend has its own state directory (the qemu-microvm one keeps guest kernels and images),
// and all share the template trees (mvm::testing::SharedRootfsCache).

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/backends/backend.h"
#include "runtime/backends/qemu_microvm/qemu_microvm.h"
#include "tests/support/host_listener.h"
#include "tests/support/mvmctl.h"
#include "tests/support/prerequisite.h"

namespace {

namespace fs = std::filesystem;
using mvm::testing::Describe;
using mvm::testing::Result;
using ::testing::HasSubstr;
using ::testing::Not;

const fs::path kFixtures = fs::path(MVM_SOURCE_DIR) / "tests" / "fixtures" / "runtime";
const fs::path kHostile = kFixtures / "hostile.py";

/// A workload of a fixture file, with the entrypoint to run (empty: the first).
struct Workload {
  fs::path file;
  std::string workload;
  std::string entrypoint;
};

/// One backend under test and what differs in how it is tested.
struct Target {
  std::string backend;
  fs::path state;
  /// Workloads that reach the memory and output limits; under emulation the container's would take
  /// minutes of guest CPU, so a microVM gets lighter ones that reach the same limits.
  Workload memory_hog;
  Workload flood;
  /// How long `up` may take to report a sandbox ready.
  std::chrono::seconds up_limit;
};

// What ctest shows of the parameter.
void PrintTo(const Target& target, std::ostream* out) { *out << target.backend; }

std::vector<Target> Targets() {
  const fs::path light = kFixtures / "hostile_vm.py";
  return {
      {"container",
       mvm::testing::SharedStatePath(),
       {kHostile, "memory-hog", ""},
       {kHostile, "writer", "flood"},
       std::chrono::seconds(60)},
      {"qemu-microvm",
       fs::path(MVM_BINARY_DIR) / "qemu-microvm-test-state",
       {light, "memory-hog", ""},
       {light, "flood", ""},
       std::chrono::seconds(120)},
  };
}

class Conformance : public ::testing::TestWithParam<Target> {
 protected:
  void SetUp() override {
    const Target& t = GetParam();
    if (t.backend == "qemu-microvm" && !mvm::runtime::qemu_microvm::QemuAvailable()) {
      MVM_MISSING_PREREQUISITE()
          << "qemu-system-x86_64 is not installed (Debian package qemu-system-x86); the "
             "qemu-microvm backend cannot be tested here";
    }
    // One copy of the template trees for every backend and preset (python-3.11 takes mmdebstrap a
    // minute or two).
    mvm::testing::UseSharedRootfsCache(t.state);
  }

  Result Mvmctl(std::vector<std::string> args, const std::string& stdin_data = "") {
    // Every command takes --backend where it starts something; the others ignore the sandbox's
    // backend, which its record names.
    if (args[0] == "run" || args[0] == "up") {
      args.insert(args.begin() + 1, {"--backend", GetParam().backend});
    }
    return mvm::testing::Mvmctl(std::move(args), stdin_data, GetParam().state);
  }

  Result Run(const Workload& w, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"run", w.file.string(), "--workload", w.workload};
    if (!w.entrypoint.empty()) {
      args.insert(args.end(), {"--entrypoint", w.entrypoint});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return Mvmctl(args);
  }

  /// A sandbox name of this test's own for this backend.
  std::string Name(const std::string& what) const {
    return what + "-" + (GetParam().backend == "container" ? "ct" : "vm");
  }
};

/// The process has ended: no longer there, or a zombie (a detached sandbox's parent is the host's
/// init, which may reap late, or, in some containers running these tests, never).
bool ProcessGone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t paren = text.rfind(')');
  return paren == std::string::npos || paren + 2 >= text.size() || text[paren + 2] == 'Z' ||
         text[paren + 2] == 'X';
}

/// No cgroup named after the sandbox is left in any hierarchy (v1 controllers or v2).
bool NoCgroupOf(const std::string& name) {
  std::error_code ec;
  for (const auto& hierarchy : fs::directory_iterator("/sys/fs/cgroup", ec)) {
    if (fs::exists(hierarchy.path() / "mvm" / ("mvm-" + name))) {
      return false;
    }
  }
  return !fs::exists(fs::path("/sys/fs/cgroup/mvm") / ("mvm-" + name));
}

TEST_P(Conformance, RunPassesArgumentsOutputStatusAndNothingOfTheHostsEnvironment) {
  Result r = Run({kHostile, "echo-args", ""}, {"--", "one", "two words"});
  EXPECT_EQ(r.status, 7) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("args:one two words"));
  EXPECT_THAT(r.err, HasSubstr("to stderr"));
  ::setenv("MVM_HOST_SECRET_PROBE", "leak", 1);
  Result env = Run({kHostile, "echo-args", "env"});
  ::unsetenv("MVM_HOST_SECRET_PROBE");
  EXPECT_EQ(env.status, 0) << Describe(env);
  EXPECT_THAT(env.out, HasSubstr("PATH="));
  EXPECT_THAT(env.out, Not(HasSubstr("MVM_HOST_SECRET_PROBE")));
  // Root of its own namespace or VM, on a hostname of its own.
  Result who = Run({kHostile, "echo-args", "whoami"});
  EXPECT_EQ(who.status, 0) << Describe(who);
  EXPECT_THAT(who.out, HasSubstr("uid=0"));
  EXPECT_THAT(who.out, HasSubstr("host=echo-args-"));
  Result missing = Run({kHostile, "echo-args", "missing"});
  EXPECT_EQ(missing.status, 127) << Describe(missing);
  EXPECT_THAT(missing.err, HasSubstr("no-such-command"));
  Result noexec = Run({kHostile, "echo-args", "not-executable"});
  EXPECT_EQ(noexec.status, 126) << Describe(noexec);
}

TEST_P(Conformance, ForkBombIsContainedAndEndsAtTheTimeout) {
  Result r = Run({kHostile, "fork-bomb", ""});
  EXPECT_EQ(r.status, 124) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("timed out after 5 s"));
  Result after = Run({kHostile, "echo-args", "whoami"});
  EXPECT_EQ(after.status, 0) << "the host must still fork after the bomb\n" << Describe(after);
}

TEST_P(Conformance, MemoryHogIsKilledWithTheLimitNamed) {
  Result r = Run(GetParam().memory_hog);
  EXPECT_EQ(r.status, 137) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("killed: memory limit 64 MiB reached"));
  EXPECT_THAT(r.out, Not(HasSubstr("survived")));
}

TEST_P(Conformance, WritesOutsideWritableMountsFailAndHostDataIsUntouched) {
  Result etc = Run({kHostile, "writer", "etc"});
  EXPECT_NE(etc.status, 0) << Describe(etc);
  EXPECT_THAT(etc.out, Not(HasSubstr("WROTE-ETC")));
  Result ro = Run({kHostile, "writer", "ro-volume"});
  EXPECT_NE(ro.status, 0) << Describe(ro);
  EXPECT_THAT(ro.out, Not(HasSubstr("WROTE-DATA")));
  EXPECT_FALSE(fs::exists(kFixtures / "ro-data" / "owned"));
  Result scratch = Run({kHostile, "writer", "scratch"});
  EXPECT_EQ(scratch.status, 0) << Describe(scratch);
  EXPECT_THAT(scratch.out, HasSubstr("kept"));
  EXPECT_THAT(scratch.out, HasSubstr("read-only data"));
}

TEST_P(Conformance, OutputBeyondTheLimitIsCountedAndReported) {
  Result r = Run(GetParam().flood);
  EXPECT_EQ(r.status, 0) << Describe(r).substr(0, 2000);
  EXPECT_EQ(r.out.size(), size_t{16} << 20);
  EXPECT_THAT(r.err, HasSubstr("stdout truncated"));
  EXPECT_THAT(r.err, HasSubstr("done"));
}

TEST_P(Conformance, CannotReachAListenerOnTheHostLoopback) {
  mvm::testing::HostLoopbackListener listener;
  ASSERT_NE(listener.port(), 0);
  Result r = Run({kHostile, "host-probe", ""}, {"--", std::to_string(listener.port())});
  EXPECT_EQ(r.status, 0) << Describe(r);
  EXPECT_THAT(r.out, Not(HasSubstr("REACHED")));
  // The probe ran and was refused: the sandbox's loopback is its own, with nothing listening.
  EXPECT_THAT(r.out, HasSubstr("wget-status 1\n")) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("Connection refused")) << Describe(r);
  // Only the loopback has an address: no interface of the host's, and a microVM has no NIC.
  EXPECT_THAT(r.out, HasSubstr("inet-count 1\n")) << Describe(r);
  // Nothing ever arrived at the host's listener.
  EXPECT_FALSE(listener.Reached());
}

TEST_P(Conformance, LifecycleUpExecFsLogsStopDestroy) {
  const std::string name = Name("conf-life");
  Mvmctl({"destroy", name});
  Result up = Mvmctl({"up", kHostile.string(), "--workload", "idle", "--name", name, "--detach"});
  ASSERT_EQ(up.status, 0) << Describe(up);
  EXPECT_THAT(up.out, HasSubstr("sandbox " + name + " is up"));

  Result ps = Mvmctl({"ps", "--format", "json"});
  pid_t pid = 0;
  const nlohmann::json listed = nlohmann::json::parse(ps.out, nullptr, false);
  for (const auto& sandbox : listed.is_object() ? listed.value("sandboxes", nlohmann::json::array())
                                                : nlohmann::json::array()) {
    if (sandbox.is_object() && sandbox.value("name", "") == name) {
      EXPECT_EQ(sandbox.value("status", ""), "running") << ps.out;
      EXPECT_EQ(sandbox.value("backend", ""), GetParam().backend) << ps.out;
      pid = sandbox.value("pid", 0);
    }
  }
  ASSERT_GT(pid, 0) << "`ps --format json` does not list " << name << ":\n" << ps.out;

  Result exec = Mvmctl({"exec", name, "--", "sh", "-c", "echo hi; exit 3"});
  EXPECT_EQ(exec.status, 3) << Describe(exec);
  EXPECT_EQ(exec.out, "hi\n");
  Result json =
      Mvmctl({"exec", name, "--format", "json", "--", "sh", "-c", "echo out; echo err >&2"});
  EXPECT_EQ(json.status, 0) << Describe(json);
  EXPECT_THAT(json.out, HasSubstr("\"stdout\":\"out\\n\""));
  EXPECT_THAT(json.out, HasSubstr("\"stderr\":\"err\\n\""));
  EXPECT_THAT(json.out, HasSubstr("\"audit_id\":"));
  // The timeout reaches every process the command started, also those that left its session.
  Result timeout = Mvmctl({"exec", name, "--timeout", "1", "--", "sh", "-c",
                           "setsid sh -c 'exec sleep 1000' & (setsid sh -c 'exec sleep 1001' &); "
                           "sleep 1000"});
  EXPECT_EQ(timeout.status, 124) << Describe(timeout);
  Result left = Mvmctl({"exec", name, "--", "sh", "-c", "cat /proc/[0-9]*/comm"});
  EXPECT_EQ(left.status, 0) << Describe(left);
  EXPECT_THAT(left.out, Not(HasSubstr("sleep"))) << left.out;

  // Files: a round trip larger than one frame, listing, the read-only root, link escapes, removal.
  std::string blob;
  for (int i = 0; i < 20000; ++i) {
    blob += "line " + std::to_string(i) + "\n";
  }
  Result write = Mvmctl({"fs", name, "write", "/tmp/note.txt"}, blob);
  EXPECT_EQ(write.status, 0) << Describe(write);
  Result read = Mvmctl({"fs", name, "read", "/tmp/note.txt"});
  EXPECT_EQ(read.status, 0) << Describe(read);
  EXPECT_TRUE(read.out == blob) << "round trip changed " << blob.size() << " bytes into "
                                << read.out.size();
  Result ls = Mvmctl({"fs", name, "ls", "/tmp"});
  EXPECT_THAT(ls.out, HasSubstr("note.txt"));
  Result etc = Mvmctl({"fs", name, "write", "/etc/owned"}, "x");
  EXPECT_NE(etc.status, 0) << "the root filesystem is read-only\n" << Describe(etc);
  // A symlink the workload plants must not lead the file API out of the sandbox.
  ASSERT_EQ(Mvmctl({"exec", name, "--", "ln", "-s", "/", "/tmp/root"}).status, 0);
  ASSERT_EQ(Mvmctl({"exec", name, "--", "ln", "-s", "../../../../..", "/tmp/up"}).status, 0);
  for (const char* path : {"/tmp/root/etc/passwd", "/tmp/up/etc/passwd", "/tmp/../../etc/passwd"}) {
    Result escape = Mvmctl({"fs", name, "read", path});
    EXPECT_EQ(escape.status, 1) << path << "\n" << Describe(escape);
    EXPECT_THAT(escape.err, HasSubstr("escapes")) << path;
  }
  Result escape_write = Mvmctl({"fs", name, "write", "/tmp/root/tmp/planted"}, "x");
  EXPECT_EQ(escape_write.status, 1) << Describe(escape_write);
  Result rm = Mvmctl({"fs", name, "rm", "/tmp/note.txt"});
  EXPECT_EQ(rm.status, 0) << Describe(rm);

  Result logs = Mvmctl({"logs", name});
  EXPECT_EQ(logs.status, 0) << Describe(logs);
  EXPECT_THAT(logs.out, HasSubstr("hi"));

  Result stop = Mvmctl({"stop", name});
  EXPECT_EQ(stop.status, 0) << Describe(stop);
  EXPECT_TRUE(ProcessGone(pid)) << "pid " << pid << " outlived `stop`";
  EXPECT_TRUE(NoCgroupOf(name)) << "a cgroup of " << name << " outlived `stop`";
  Result stopped = Mvmctl({"ps"});
  EXPECT_THAT(stopped.out, HasSubstr("stopped"));
  Result destroy = Mvmctl({"destroy", name});
  EXPECT_EQ(destroy.status, 0) << Describe(destroy);
  EXPECT_FALSE(fs::exists(GetParam().state / "sandboxes" / name));
}

// kill -9 of a non-detached `mvmctl up` leaves nothing behind within 2 s: not the sandbox's
// process (PID 1, or qemu), its cgroups or its state (virtiofsd: the microVM suite).
TEST_P(Conformance, KillingTheParentLeavesNoTrace) {
  const std::string name = Name("conf-orphan");
  Mvmctl({"destroy", name});
  mvm::testing::BackgroundMvmctl up({"up", kHostile.string(), "--backend", GetParam().backend,
                                     "--workload", "idle", "--name", name},
                                    GetParam().state);
  ASSERT_THAT(up.WaitFor(" is up", GetParam().up_limit), HasSubstr(" is up"));
  std::ifstream record(GetParam().state / "sandboxes" / name / "sandbox.json");
  std::stringstream text;
  text << record.rdbuf();
  const pid_t sandbox_pid = nlohmann::json::parse(text.str(), nullptr, false).value("pid", 0);
  ASSERT_GT(sandbox_pid, 0) << text.str();

  up.KillAndReap();
  auto killed = std::chrono::steady_clock::now();
  bool clean = false;
  while (std::chrono::steady_clock::now() - killed < std::chrono::seconds(2)) {
    clean = ProcessGone(sandbox_pid) && NoCgroupOf(name) &&
            !fs::exists(GetParam().state / "sandboxes" / name);
    if (clean) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(clean) << "traces of " << name << " remain 2 s after kill -9 of its parent";
}

// A file-state snapshot: what the workload wrote to its memory file systems, the same bytes for the
// same state, verifiable, and listed.
TEST_P(Conformance, SnapshotCapturesMemoryFileSystemsDeterministically) {
  const std::string name = Name("conf-snap");
  Mvmctl({"destroy", name});
  fs::remove_all(GetParam().state / "snapshots" / name);
  Result up = Mvmctl({"up", kHostile.string(), "--workload", "idle", "--name", name, "--detach"});
  ASSERT_EQ(up.status, 0) << Describe(up);
  Result write = Mvmctl({"fs", name, "write", "/tmp/state.txt"}, "kept");
  ASSERT_EQ(write.status, 0) << Describe(write);
  Result take = Mvmctl({"snapshot", name, "--label", "one", "--format", "json"});
  ASSERT_EQ(take.status, 0) << Describe(take);
  const nlohmann::json info = nlohmann::json::parse(take.out, nullptr, false);
  ASSERT_TRUE(info.is_object()) << take.out;
  EXPECT_EQ(info.value("files", -1), 1) << take.out;
  EXPECT_THAT(info["paths"].dump(), HasSubstr("\"/tmp\""));
  Result verify = Mvmctl({"snapshot", "verify", name, "one"});
  EXPECT_EQ(verify.status, 0) << Describe(verify);
  Result again = Mvmctl({"snapshot", name, "--label", "two", "--format", "json"});
  ASSERT_EQ(again.status, 0) << Describe(again);
  EXPECT_EQ(nlohmann::json::parse(again.out, nullptr, false).value("sha256", ""),
            info.value("sha256", "-"))
      << "the same state gives the same tar";
  Result ls = Mvmctl({"snapshot", "ls", name, "--format", "json"});
  EXPECT_EQ(
      nlohmann::json::parse(ls.out, nullptr, false).value("snapshots", nlohmann::json()).size(), 2u)
      << ls.out;
  Result destroy = Mvmctl({"destroy", name});
  EXPECT_EQ(destroy.status, 0) << Describe(destroy);
  fs::remove_all(GetParam().state / "snapshots" / name);
}

// A warm pool: a claim takes the ready sandbox instead of starting one, the claimed sandbox is the
// claimer's, the pool starts a replacement, and stopping the pool leaves none of its sandboxes.
TEST_P(Conformance, WarmPoolClaimIsTheClaimersAndThePoolRefills) {
  const std::string pool = Name("conf-pool") + "-" + std::to_string(::getpid());
  const std::string name = Name("conf-claimed");
  Mvmctl({"destroy", name});
  const fs::path err = fs::temp_directory_path() / (pool + ".err");
  int err_fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  const pid_t process = mvm::testing::Spawn(
      mvm::testing::MvmctlArgv({"pool", "start", kHostile.string(), "--workload", "idle",
                                "--backend", GetParam().backend, "--name", pool},
                               GetParam().state),
      null_fd, err_fd, null_fd);
  ::close(err_fd);
  ::close(null_fd);
  auto pool_log = [&] {
    std::ifstream in(err);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  // The pool's entry in `pool ls`, once it reports `ready` and `claimed` sandboxes.
  auto wait_pool = [&](int ready, int claimed) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
    while (std::chrono::steady_clock::now() < deadline) {
      const nlohmann::json list =
          nlohmann::json::parse(Mvmctl({"pool", "ls", "--format", "json"}).out, nullptr, false);
      for (const nlohmann::json& p : list.is_object() ? list.value("pools", nlohmann::json::array())
                                                      : nlohmann::json::array()) {
        if (p.value("name", "") == pool && p.value("running", false) &&
            p.value("ready", -1) == ready && p.value("claimed", -1) == claimed) {
          return true;
        }
      }
      if (::waitpid(process, nullptr, WNOHANG) == process) {
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
  };
  // The pids of the sandboxes `ps` says belong to the pool.
  auto pool_pids = [&] {
    std::vector<pid_t> pids;
    const nlohmann::json list =
        nlohmann::json::parse(Mvmctl({"ps", "--format", "json"}).out, nullptr, false);
    for (const nlohmann::json& s : list.is_object()
                                       ? list.value("sandboxes", nlohmann::json::array())
                                       : nlohmann::json::array()) {
      if (s.value("pool", "") == pool && s.value("pid", 0) > 0) {
        pids.push_back(s.value("pid", 0));
      }
    }
    return pids;
  };
  ASSERT_TRUE(wait_pool(1, 0)) << pool_log();

  Result up =
      Mvmctl({"up", kHostile.string(), "--workload", "idle", "--name", name, "--detach", "-v"});
  ASSERT_EQ(up.status, 0) << Describe(up);
  EXPECT_THAT(up.err, HasSubstr("claimed a ready sandbox from pool `" + pool + "`"));
  Result exec = Mvmctl({"exec", name, "--", "sh", "-c", "echo claimed; exit 4"});
  EXPECT_EQ(exec.status, 4) << Describe(exec);
  EXPECT_EQ(exec.out, "claimed\n");
  Result write = Mvmctl({"fs", name, "write", "/tmp/pool.txt"}, "warm");
  EXPECT_EQ(write.status, 0) << Describe(write);
  EXPECT_EQ(Mvmctl({"fs", name, "read", "/tmp/pool.txt"}).out, "warm");
  EXPECT_TRUE(wait_pool(1, 1)) << pool_log();
  const std::vector<pid_t> pooled = pool_pids();
  EXPECT_FALSE(pooled.empty()) << "`ps` names no sandbox of the pool";

  Result destroy = Mvmctl({"destroy", name});
  EXPECT_EQ(destroy.status, 0) << Describe(destroy);
  Result stop = Mvmctl({"pool", "stop", pool});
  EXPECT_EQ(stop.status, 0) << Describe(stop);
  int status = 0;
  EXPECT_EQ(::waitpid(process, &status, 0), process);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << pool_log();
  for (pid_t pid : pooled) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!ProcessGone(pid) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_TRUE(ProcessGone(pid)) << "pid " << pid << " of the pool outlived `pool stop`";
  }
  EXPECT_TRUE(pool_pids().empty()) << "`ps` still lists sandboxes of the stopped pool";
  fs::remove(err);
}

// Every registered backend has a row in Targets(): a backend added without one fails here.
TEST(ConformanceTargets, EveryRegisteredBackendIsTested) {
  std::vector<std::string> tested;
  for (const Target& t : Targets()) {
    tested.push_back(t.backend);
  }
  for (const mvm::runtime::backends::Backend* backend : mvm::runtime::backends::All()) {
    EXPECT_THAT(tested, ::testing::Contains(std::string(backend->name())))
        << "backend `" << backend->name() << "` has no row in the conformance suite's Targets()";
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, Conformance, ::testing::ValuesIn(Targets()),
                         [](const ::testing::TestParamInfo<Target>& param) {
                           std::string name = param.param.backend;
                           for (char& c : name) {
                             c = c == '-' ? '_' : c;
                           }
                           return name;
                         });

}  // namespace
