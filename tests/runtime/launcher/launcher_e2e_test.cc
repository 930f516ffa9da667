// End to end: the real mvmctl, the real agent, real namespaces and cgroups (CI runs as root). Each
// test uses sandbox names of its own; the rootfs cache is shared through one state directory in the
// build tree so a template is built once per build directory, not once per test.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/mvmctl.h"

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

const fs::path kFixture =
    fs::path(MVM_SOURCE_DIR) / "tests" / "fixtures" / "runtime" / "hostile.py";
const fs::path kExamples = fs::path(MVM_SOURCE_DIR) / "examples";

using mvm::testing::Describe;
using mvm::testing::Result;
using mvm::testing::SharedState;
using mvm::testing::Spawn;

class LauncherE2E : public ::testing::Test {
 protected:
  Result Mvmctl(std::vector<std::string> args, const std::string& stdin_data = "",
                const fs::path& state = SharedState()) {
    return mvm::testing::Mvmctl(std::move(args), stdin_data, state);
  }

  Result Run(const std::string& workload, const std::string& entrypoint = "",
             const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"run", kFixture.string(), "--workload", workload};
    if (!entrypoint.empty()) {
      args.insert(args.end(), {"--entrypoint", entrypoint});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return Mvmctl(args);
  }
};

TEST_F(LauncherE2E, MicrovmWorkloadRunsOnContainerOnlyInDevWithAWarning) {
  const std::string file = (kFixture.parent_path() / "default_isolation.py").string();
  Result dev = Mvmctl({"run", file});
  EXPECT_EQ(dev.status, 0) << Describe(dev);
  EXPECT_THAT(dev.err, HasSubstr("[weak-isolation]"));
  // A production plan signed by the dev key is refused before anything starts.
  Result prod = Mvmctl({"run", file, "--profile", "production"});
  EXPECT_EQ(prod.status, 125) << Describe(prod);
  EXPECT_THAT(prod.err, HasSubstr("dev key"));
}

TEST_F(LauncherE2E, AuditLogRecordsTheRunAndDetectsTampering) {
  fs::path state = fs::temp_directory_path() / ("mvm-audit-e2e-" + std::to_string(::getpid()));
  fs::remove_all(state);
  // Share the built rootfs: the audit test is about the log, not the template.
  mvm::testing::UseSharedRootfsCache(state);
  Result run = Mvmctl({"run", kFixture.string(), "--workload", "echo-args"}, "", state);
  EXPECT_EQ(run.status, 7) << Describe(run);
  Result ok = Mvmctl({"audit", "verify"}, "", state);
  EXPECT_EQ(ok.status, 0) << Describe(ok);
  EXPECT_THAT(ok.out, HasSubstr("audit log OK"));

  std::ifstream in(state / "audit.jsonl");
  std::stringstream text;
  text << in.rdbuf();
  std::string log = text.str();
  for (const char* event : {"\"verify\"", "\"admit\"", "\"launch\"", "\"exec\"", "\"destroy\""}) {
    EXPECT_THAT(log, HasSubstr(event));
  }
  size_t at = log.find("\"launch\"");
  ASSERT_NE(at, std::string::npos);
  log[at + 1] = 'L';
  {
    std::ofstream rewrite(state / "audit.jsonl", std::ios::trunc);
    rewrite << log;
  }
  Result broken = Mvmctl({"audit", "verify"}, "", state);
  EXPECT_EQ(broken.status, 4) << Describe(broken);
  EXPECT_THAT(broken.out + broken.err, HasSubstr("BROKEN"));
  fs::remove_all(state);
}

// The shipped examples do what their docstrings say (python-3.11 template: built once, ~1 min).
// The shared state's templates are the run's shared cache (MVM_TEST_ROOTFS_CACHE), not a cache of
// its own: one that something made before the link (a test list evaluated without the tests'
// environment did) builds python-3.11 a second time in every preset, minutes of CI.
TEST_F(LauncherE2E, TheSharedStateUsesTheSharedTemplateCache) {
  const char* shared = std::getenv("MVM_TEST_ROOTFS_CACHE");
  ASSERT_TRUE(shared != nullptr && *shared != '\0')
      << "ctest gives every sandbox test MVM_TEST_ROOTFS_CACHE (CMakeLists.txt)";
  const fs::path rootfs = SharedState() / "rootfs";
  ASSERT_TRUE(fs::is_symlink(rootfs)) << rootfs << " is a cache of its own";
  EXPECT_TRUE(fs::equivalent(rootfs, shared)) << rootfs << " -> " << fs::read_symlink(rootfs);
}

TEST_F(LauncherE2E, ExamplesBehaveAsDocumented) {
  Result hello = Mvmctl({"run", (kExamples / "hello.py").string()});
  EXPECT_EQ(hello.status, 0) << Describe(hello);
  EXPECT_THAT(hello.out, HasSubstr("hello from mvm"));
  Result files = Mvmctl({"run", (kExamples / "files.py").string()});
  EXPECT_EQ(files.status, 0) << Describe(files);
  EXPECT_THAT(files.out, HasSubstr("/scratch/blob.bin: wrote and read back 1048576 bytes"));
  EXPECT_THAT(files.out, HasSubstr("read-only"));
  Result hog = Mvmctl({"run", (kExamples / "memory_hog.py").string()});
  EXPECT_EQ(hog.status, 137) << Describe(hog);
  EXPECT_THAT(hog.err, HasSubstr("killed: memory limit 64 MiB reached"));
  Result net = Mvmctl({"run", (kExamples / "network.py").string()});
  EXPECT_EQ(net.status, 0) << Describe(net);
  EXPECT_THAT(net.out, HasSubstr("blocked"));
  Result slow = Mvmctl({"run", (kExamples / "timeout.py").string()});
  EXPECT_EQ(slow.status, 124) << Describe(slow);
}

}  // namespace

namespace {

/// The host pid of the process in a new pid namespace that `pid` is, or 0: whether /proc/PID/status
/// lists it as pid 1 of a namespace of its own (NSpid: HOST 1).
bool IsInitOfANewPidNamespace(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("NSpid:", 0) == 0) {
      std::istringstream ids(line.substr(6));
      std::vector<long> all;
      for (long id; ids >> id;) {
        all.push_back(id);
      }
      return all.size() >= 2 && all.back() == 1;
    }
  }
  return false;
}

bool SandboxCgroupExists(const std::string& name) {
  std::error_code ec;
  for (const auto& hierarchy : fs::directory_iterator("/sys/fs/cgroup", ec)) {
    if (fs::exists(hierarchy.path() / "mvm" / ("mvm-" + name))) {
      return true;
    }
  }
  return fs::exists(fs::path("/sys/fs/cgroup/mvm") / ("mvm-" + name));
}

}  // namespace

// `up --detach` killed the moment its sandbox exists, before the sandbox is recorded: nothing may
// outlive it (PID 1, its cgroups, its state directory), since no record would name the sandbox for
// `ps`, `stop` or `destroy`, and a detached sandbox's PID 1 has no parent-death signal; only the
// watchdog cleans up there. The kill lands exactly there: mvmctl is traced and killed while
// stopped at the clone that made PID 1. Without a watchdog for detached starts, the cgroups and
// the state directory stayed.
TEST_F(LauncherE2E, AnUpDetachKilledBeforeItRecordsItsSandboxLeavesNothingBehind) {
  const std::string name = "orphan-up-" + std::to_string(::getpid());
  (void)Mvmctl({"destroy", name});
  std::vector<std::string> argv = mvm::testing::MvmctlArgv(
      {"up", kFixture.string(), "--workload", "idle", "--name", name, "--detach"}, SharedState());
  const pid_t mvmctl = ::fork();
  ASSERT_GE(mvmctl, 0);
  if (mvmctl == 0) {
    const int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr);
    ::raise(SIGSTOP);
    mvm::testing::ExecOrExit(argv);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(mvmctl, &status, 0), mvmctl);
  ASSERT_TRUE(WIFSTOPPED(status));
  ASSERT_EQ(
      ::ptrace(PTRACE_SETOPTIONS, mvmctl, nullptr,
               PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | PTRACE_O_EXITKILL),
      0);
  ASSERT_EQ(::ptrace(PTRACE_CONT, mvmctl, nullptr, nullptr), 0);
  // What mvmctl makes starts traced and stopped: each is let go at once (threads, the watchdog,
  // helpers), but for the sandbox's PID 1, which is held until mvmctl is dead.
  pid_t init = 0;
  for (int stops = 0; stops < 20000 && init == 0; ++stops) {
    const pid_t who = ::waitpid(-1, &status, __WALL);
    ASSERT_GT(who, 0) << "mvmctl ended before it made the sandbox: " << std::strerror(errno);
    if (!WIFSTOPPED(status)) {
      ASSERT_NE(who, mvmctl) << "mvmctl ended before it made the sandbox: " << status;
      continue;
    }
    const int signal = WSTOPSIG(status);
    if (who != mvmctl) {
      if (IsInitOfANewPidNamespace(who)) {
        init = who;
      } else {
        (void)::ptrace(PTRACE_DETACH, who, nullptr, signal == SIGSTOP ? 0 : signal);
      }
      continue;
    }
    (void)::ptrace(PTRACE_CONT, who, nullptr, signal == SIGTRAP ? 0 : signal);
  }
  ASSERT_GT(init, 0) << "never saw the sandbox's PID 1 made";
  const int init_fd = static_cast<int>(::syscall(SYS_pidfd_open, init, 0));
  ASSERT_GE(init_fd, 0);
  ::kill(mvmctl, SIGKILL);
  while (::waitpid(mvmctl, &status, __WALL) < 0 && errno == EINTR) {
  }
  ASSERT_EQ(::ptrace(PTRACE_DETACH, init, nullptr, nullptr), 0) << std::strerror(errno);
  pollfd gone{init_fd, POLLIN, 0};
  const bool ended = ::poll(&gone, 1, 10000) == 1;
  ::close(init_fd);
  if (!ended) {
    ::kill(init, SIGKILL);
  }
  EXPECT_TRUE(ended) << "the sandbox's PID 1 outlived the killed `up --detach`";
  bool clean = false;
  for (int i = 0; i < 100 && !clean; ++i) {
    clean = !SandboxCgroupExists(name) && !fs::exists(SharedState() / "sandboxes" / name);
    if (!clean) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  EXPECT_TRUE(clean) << "traces of " << name << " remain";
  (void)Mvmctl({"destroy", name});
}
