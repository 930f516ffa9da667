// End to end: the real mvmctl, the real agent, real namespaces and cgroups (CI runs as root). Each
// test uses sandbox names of its own; the rootfs cache is shared through one state directory in the
// build tree so a template is built once per build directory, not once per test.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/runtime/launcher/mvmctl_process.h"

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

TEST_F(LauncherE2E, PassesArgumentsOutputAndExitStatusThrough) {
  Result r = Run("echo-args", "", {"--", "one", "two words"});
  EXPECT_EQ(r.status, 7) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("args:one two words"));
  EXPECT_THAT(r.err, HasSubstr("to stderr"));
}

TEST_F(LauncherE2E, EnvironmentIsOnlyWhatThePlanDeclares) {
  ::setenv("MVM_HOST_SECRET_PROBE", "leak", 1);
  Result r = Run("echo-args", "env");
  ::unsetenv("MVM_HOST_SECRET_PROBE");
  EXPECT_EQ(r.status, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("PATH="));
  EXPECT_THAT(r.out, Not(HasSubstr("MVM_HOST_SECRET_PROBE")));
}

TEST_F(LauncherE2E, RunsAsPidOneNamespaceRootOnItsOwnHostname) {
  Result r = Run("echo-args", "whoami");
  EXPECT_EQ(r.status, 0) << Describe(r);
  // The shell is not PID 1 (the agent is), but its pid is small: a pid namespace of its own.
  EXPECT_THAT(r.out, HasSubstr("uid=0"));
  EXPECT_THAT(r.out, HasSubstr("host=echo-args-"));
}

TEST_F(LauncherE2E, CommandNotFoundAndNotExecutableUse127And126) {
  Result missing = Run("echo-args", "missing");
  EXPECT_EQ(missing.status, 127) << Describe(missing);
  EXPECT_THAT(missing.err, HasSubstr("no-such-command"));
  Result noexec = Run("echo-args", "not-executable");
  EXPECT_EQ(noexec.status, 126) << Describe(noexec);
}

TEST_F(LauncherE2E, ForkBombIsContainedAndEndsAtTheTimeout) {
  Result r = Run("fork-bomb");
  EXPECT_EQ(r.status, 124) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("timed out after 5 s"));
  Result after = Run("echo-args", "whoami");
  EXPECT_EQ(after.status, 0) << "the host must still fork after the bomb\n" << Describe(after);
}

TEST_F(LauncherE2E, MemoryHogIsKilledWithTheLimitNamed) {
  Result r = Run("memory-hog");
  EXPECT_EQ(r.status, 137) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("killed: memory limit 64 MiB reached"));
  EXPECT_THAT(r.out, Not(HasSubstr("survived")));
}

TEST_F(LauncherE2E, WritesOutsideWritableMountsFailAndHostDataIsUntouched) {
  fs::path data = kFixture.parent_path() / "ro-data";
  Result etc = Run("writer", "etc");
  EXPECT_NE(etc.status, 0) << Describe(etc);
  EXPECT_THAT(etc.out, Not(HasSubstr("WROTE-ETC")));
  Result ro = Run("writer", "ro-volume");
  EXPECT_NE(ro.status, 0) << Describe(ro);
  EXPECT_THAT(ro.out, Not(HasSubstr("WROTE-DATA")));
  EXPECT_FALSE(fs::exists(data / "owned"));
  Result scratch = Run("writer", "scratch");
  EXPECT_EQ(scratch.status, 0) << Describe(scratch);
  EXPECT_THAT(scratch.out, HasSubstr("kept"));
  EXPECT_THAT(scratch.out, HasSubstr("read-only data"));
}

TEST_F(LauncherE2E, OutputBeyondTheLimitIsCountedAndReported) {
  Result r = Run("writer", "flood");
  EXPECT_EQ(r.status, 0) << Describe(r).substr(0, 2000);
  EXPECT_EQ(r.out.size(), size_t{16} << 20);
  EXPECT_THAT(r.err, HasSubstr("stdout truncated"));
  EXPECT_THAT(r.err, HasSubstr("done"));
}

TEST_F(LauncherE2E, CannotReachAListenerOnTheHostLoopback) {
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 8), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  std::string port = std::to_string(ntohs(addr.sin_port));
  Result r = Run("host-probe", "", {"--", port});
  EXPECT_EQ(r.status, 0) << Describe(r);
  EXPECT_THAT(r.out, Not(HasSubstr("REACHED")));
  // Nothing ever arrived at the host's listener.
  pollfd p = {listener, POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0);
  ::close(listener);
}

TEST_F(LauncherE2E, RefusesAPlanThatAllowsEgressOnThisBackend) {
  Result r = Mvmctl({"run", (kExamples / "agent_tool.py").string(), "--workload", "agent-tool"});
  EXPECT_EQ(r.status, 125) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("refused"));
  EXPECT_THAT(r.err, HasSubstr("egress"));
}

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

TEST_F(LauncherE2E, LifecycleUpExecFsLogsStopDestroy) {
  const std::string name = "e2e-lifecycle";
  Mvmctl({"destroy", name});
  Result up = Mvmctl({"up", kFixture.string(), "--workload", "idle", "--name", name, "--detach"});
  ASSERT_EQ(up.status, 0) << Describe(up);
  EXPECT_THAT(up.out, HasSubstr("sandbox " + name + " is up"));

  Result ps = Mvmctl({"ps", "--format", "json"});
  EXPECT_THAT(ps.out, HasSubstr("\"name\":\"" + name + "\""));
  EXPECT_THAT(ps.out, HasSubstr("\"status\":\"running\""));

  Result exec = Mvmctl({"exec", name, "--", "sh", "-c", "echo hi; exit 3"});
  EXPECT_EQ(exec.status, 3) << Describe(exec);
  EXPECT_EQ(exec.out, "hi\n");

  Result json =
      Mvmctl({"exec", name, "--format", "json", "--", "sh", "-c", "echo out; echo err >&2"});
  EXPECT_EQ(json.status, 0) << Describe(json);
  EXPECT_THAT(json.out, HasSubstr("\"stdout\":\"out\\n\""));
  EXPECT_THAT(json.out, HasSubstr("\"stderr\":\"err\\n\""));
  EXPECT_THAT(json.out, HasSubstr("\"audit_id\":"));

  Result timeout = Mvmctl({"exec", name, "--timeout", "1", "--", "sleep", "30"});
  EXPECT_EQ(timeout.status, 124) << Describe(timeout);

  Result write = Mvmctl({"fs", name, "write", "/tmp/note.txt"}, "round trip\n");
  EXPECT_EQ(write.status, 0) << Describe(write);
  Result read = Mvmctl({"fs", name, "read", "/tmp/note.txt"});
  EXPECT_EQ(read.status, 0) << Describe(read);
  EXPECT_EQ(read.out, "round trip\n");
  Result ls = Mvmctl({"fs", name, "ls", "/tmp"});
  EXPECT_THAT(ls.out, HasSubstr("note.txt"));

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
  Result stopped = Mvmctl({"ps"});
  EXPECT_THAT(stopped.out, HasSubstr("stopped"));
  EXPECT_FALSE(fs::exists("/sys/fs/cgroup/pids/mvm/mvm-" + name));
  Result destroy = Mvmctl({"destroy", name});
  EXPECT_EQ(destroy.status, 0) << Describe(destroy);
  EXPECT_FALSE(fs::exists(SharedState() / "sandboxes" / name));
}

// kill -9 of a non-detached `mvmctl up` leaves nothing behind within 2 s: no process, no cgroup, no
// state.
TEST_F(LauncherE2E, KillingTheParentLeavesNoTrace) {
  const std::string name = "e2e-orphan";
  Mvmctl({"destroy", name});
  int out[2], err[2], in[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(err, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(in, O_CLOEXEC), 0);
  pid_t parent = Spawn({MVM_MVMCTL_PATH, "up", "--state-dir=" + SharedState().string(),
                        kFixture.string(), "--workload", "idle", "--name", name},
                       out[1], err[1], in[0]);
  ::close(out[1]);
  ::close(err[1]);
  ::close(in[0]);
  // Wait for "is up" on stdout.
  std::string seen;
  char buf[4096];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (seen.find(" is up") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p = {out[0], POLLIN, 0};
    if (::poll(&p, 1, 1000) > 0) {
      ssize_t n = ::read(out[0], buf, sizeof buf);
      if (n <= 0) {
        break;
      }
      seen.append(buf, static_cast<size_t>(n));
    }
  }
  ASSERT_THAT(seen, HasSubstr(" is up"));
  std::ifstream record(SharedState() / "sandboxes" / name / "sandbox.json");
  std::stringstream text;
  text << record.rdbuf();
  std::string json = text.str();
  size_t at = json.find("\"pid\": ");
  ASSERT_NE(at, std::string::npos) << json;
  pid_t sandbox_pid = std::stoi(json.substr(at + 7));
  ASSERT_GT(sandbox_pid, 0);

  ASSERT_EQ(::kill(parent, SIGKILL), 0);
  int status = 0;
  ::waitpid(parent, &status, 0);
  auto killed = std::chrono::steady_clock::now();
  bool clean = false;
  while (std::chrono::steady_clock::now() - killed < std::chrono::seconds(2)) {
    bool process_gone = ::kill(sandbox_pid, 0) != 0 ||
                        !fs::exists("/proc/" + std::to_string(sandbox_pid) + "/ns/pid");
    clean = process_gone && !fs::exists("/sys/fs/cgroup/memory/mvm/mvm-" + name) &&
            !fs::exists("/sys/fs/cgroup/pids/mvm/mvm-" + name) &&
            !fs::exists(SharedState() / "sandboxes" / name);
    if (clean) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(clean) << "traces of " << name << " remain 2 s after kill -9 of its parent";
  ::close(out[0]);
  ::close(err[0]);
  ::close(in[1]);
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
