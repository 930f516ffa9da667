// PR_SET_PDEATHSIG: a sandbox that is not detached dies with the process that started it, whenever
// that process dies, even in the middle of Start.

#include <poll.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "container_test_util.h"
#include "runtime/backends/container/cgroups.h"
#include "runtime/backends/container/container.h"

namespace mvm::runtime::container::testing {
namespace {

using ParentDeathTest = SandboxFixture;

// Makes this process the reaper of its descendants' orphans for a test, so that whatever the
// killed intermediate started becomes ours to see and reap.
class Subreaper {
 public:
  Subreaper() { MVM_CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0); }
  Subreaper(const Subreaper&) = delete;
  Subreaper& operator=(const Subreaper&) = delete;
  ~Subreaper() { MVM_CHECK(prctl(PR_SET_CHILD_SUBREAPER, 0) == 0); }
};

// A process that started `spec` and waits to be killed; killed at the latest when this goes away.
struct Intermediate {
  pid_t pid = -1;          ///< the intermediate
  pid_t sandbox_pid = -1;  ///< PID 1's host pid, or -1 when its Start failed

  void KillIt() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      pid = -1;
    }
  }
  ~Intermediate() { KillIt(); }
};

// Forks the intermediate; it sends back PID 1's host pid (or -1) and pauses.
void StartFromIntermediate(const Spec& spec, const fs::path& log, Intermediate& out) {
  int p[2];
  MVM_CHECK(pipe2(p, O_CLOEXEC) == 0);
  out.pid = fork();
  MVM_CHECK(out.pid >= 0);
  if (out.pid == 0) {
    auto started = StartLogged(spec, log);
    pid_t pid = started ? started->pid : -1;
    (void)!write(p[1], &pid, sizeof pid);
    pause();
    _exit(0);
  }
  close(p[1]);
  (void)!read(p[0], &out.sandbox_pid, sizeof out.sandbox_pid);
  close(p[0]);
}

int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

bool ExitsWithin(int pidfd, std::chrono::milliseconds timeout) {
  pollfd p{pidfd, POLLIN, 0};
  return poll(&p, 1, static_cast<int>(timeout.count())) == 1;
}

TEST_F(ParentDeathTest, Pid1DiesWithItsParent) {
  Spec spec = MakeSpec("exec sleep 1000");
  Intermediate mid;
  StartFromIntermediate(spec, log(), mid);
  ASSERT_GT(mid.sandbox_pid, 0) << ReadFile(log());
  int pidfd = PidfdOpen(mid.sandbox_pid);
  ASSERT_GE(pidfd, 0);
  EXPECT_FALSE(ExitsWithin(pidfd, 200ms));  // alive while its parent is
  mid.KillIt();
  EXPECT_TRUE(ExitsWithin(pidfd, 2s));
  close(pidfd);
}

TEST_F(ParentDeathTest, DetachedSandboxOutlivesItsParentUntilRemoveCgroups) {
  Spec spec = MakeSpec("exec sleep 1000");
  spec.parent_death_signal = 0;
  Intermediate mid;
  StartFromIntermediate(spec, log(), mid);
  ASSERT_GT(mid.sandbox_pid, 0) << ReadFile(log());
  int pidfd = PidfdOpen(mid.sandbox_pid);
  ASSERT_GE(pidfd, 0);
  mid.KillIt();
  EXPECT_FALSE(ExitsWithin(pidfd, 500ms));
  // What `mvmctl gc` does, from a process that is not the parent.
  ASSERT_TRUE(RemoveCgroups(spec.name).ok());
  EXPECT_TRUE(ExitsWithin(pidfd, 2s));
  close(pidfd);
  auto roots = HostCgroupRoots();
  ASSERT_TRUE(roots.ok());
  for (const fs::path& dir : SandboxCgroups(*roots, spec.name).Dirs()) {
    EXPECT_FALSE(fs::exists(dir)) << dir;
  }
  EXPECT_TRUE(RemoveCgroups(spec.name).ok());  // idempotent
}

// The parent dies at every moment of Start, from before the clone to after the exec. Whatever the
// moment, nothing it started may survive: before the go the child sees the control socket close,
// later the parent-death signal or the re-check after arming it catches the death.
TEST_F(ParentDeathTest, ParentDeathDuringStartLeavesNothingRunning) {
  Subreaper subreaper;
  // How long a Start takes here, to spread the deaths from before it begins to after it ends.
  Spec reference = MakeSpec("true");
  auto begin = std::chrono::steady_clock::now();
  auto sandbox = StartLogged(reference, log());
  auto span = 1.5 * (std::chrono::steady_clock::now() - begin) + 1ms;
  ASSERT_TRUE(sandbox.ok()) << sandbox.error().message;
  ASSERT_TRUE(Wait(*sandbox, 30s).ok());
  close(sandbox->pidfd);
  int started = 0;
  for (int i = 0; i < 40; ++i) {
    Spec spec = MakeSpec("echo > /out/started-" + std::to_string(i) + "; exec sleep 1000");
    pid_t mid = fork();
    ASSERT_GE(mid, 0);
    if (mid == 0) {
      (void)StartLogged(spec, log());
      pause();
      _exit(0);
    }
    if (i == 39) {
      // However slow this host is today, one death comes after init has run.
      ASSERT_TRUE(WaitForFile(out() / ("started-" + std::to_string(i))));
    } else {
      std::this_thread::sleep_for(
          std::chrono::duration_cast<std::chrono::microseconds>(span * i / 40));
    }
    kill(mid, SIGKILL);
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (true) {
      pid_t pid = waitpid(-1, nullptr, WNOHANG);
      if (pid < 0) {
        break;  // ECHILD: the intermediate and all it started are gone
      }
      if (pid > 0) {
        continue;
      }
      ASSERT_LT(std::chrono::steady_clock::now(), deadline)
          << "iteration " << i << ": something the dead parent started is still running";
      std::this_thread::sleep_for(5ms);
    }
    started += fs::exists(out() / ("started-" + std::to_string(i))) ? 1 : 0;
    ASSERT_TRUE(RemoveCgroups(spec.name).ok());
  }
  // Both ends of the range were exercised: some sandboxes got to run init, some did not.
  std::printf("[          ] %d of 40 sandboxes reached init before their parent died\n", started);
  EXPECT_GT(started, 0);
  EXPECT_LT(started, 40);
}

// The one moment the parent-death signal alone cannot cover: the parent dies after PID 1's last
// credential change (which clears the signal) and before the prctl that arms it again, so that
// the prctl arms it against the new parent. A tracer holds PID 1 exactly at that prctl while the
// parent is killed; PID 1 must then notice on its own and exit instead of exec'ing init.
TEST_F(ParentDeathTest, ParentDyingJustBeforeTheSignalIsArmedIsNoticed) {
  Subreaper subreaper;
  Spec spec = MakeSpec("echo > /out/started; exec sleep 1000");
  pid_t mid = fork();
  ASSERT_GE(mid, 0);
  if (mid == 0) {
    ptrace(PTRACE_TRACEME, 0, nullptr, nullptr);
    raise(SIGSTOP);
    (void)StartLogged(spec, log());
    pause();
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(mid, &status, 0), mid);
  ASSERT_TRUE(WIFSTOPPED(status));
  ASSERT_EQ(ptrace(PTRACE_SETOPTIONS, mid, nullptr,
                   PTRACE_O_TRACEFORK | PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL),
            0);
  ASSERT_EQ(ptrace(PTRACE_CONT, mid, nullptr, nullptr), 0);
  // The intermediate's next stop is its clone3 of PID 1, which starts traced and stopped.
  ASSERT_EQ(waitpid(mid, &status, 0), mid);
  ASSERT_EQ(status >> 8, SIGTRAP | (PTRACE_EVENT_FORK << 8));
  unsigned long child = 0;
  ASSERT_EQ(ptrace(PTRACE_GETEVENTMSG, mid, nullptr, &child), 0);
  ASSERT_EQ(ptrace(PTRACE_DETACH, mid, nullptr, nullptr), 0);
  auto pid1 = static_cast<pid_t>(child);
  ASSERT_EQ(waitpid(pid1, &status, __WALL), pid1);

  // Step PID 1 from one system call to the next up to the prctl that re-arms the signal: the one
  // after the seccomp filter is loaded.
  bool filtered = false;
  int pass_on = 0;  // a signal to deliver (the first stop's SIGSTOP is swallowed)
  while (true) {
    ASSERT_EQ(ptrace(PTRACE_SYSCALL, pid1, nullptr, pass_on), 0);
    ASSERT_EQ(waitpid(pid1, &status, __WALL), pid1);
    ASSERT_TRUE(WIFSTOPPED(status)) << "PID 1 ended before arming the signal: " << status;
    pass_on = WSTOPSIG(status) == (SIGTRAP | 0x80) ? 0 : WSTOPSIG(status);
    __ptrace_syscall_info info{};
    if (pass_on != 0 ||
        ptrace(PTRACE_GET_SYSCALL_INFO, pid1, reinterpret_cast<void*>(sizeof info), &info) <= 0 ||
        info.op != PTRACE_SYSCALL_INFO_ENTRY || info.entry.nr != SYS_prctl) {
      continue;
    }
    if (info.entry.args[0] == PR_SET_SECCOMP) {
      filtered = true;
    } else if (info.entry.args[0] == PR_SET_PDEATHSIG && filtered) {
      break;
    }
  }
  kill(mid, SIGKILL);
  ASSERT_EQ(waitpid(mid, nullptr, 0), mid);
  int pidfd = PidfdOpen(pid1);
  ASSERT_GE(pidfd, 0);
  ASSERT_EQ(ptrace(PTRACE_DETACH, pid1, nullptr, nullptr), 0);
  EXPECT_TRUE(ExitsWithin(pidfd, 5s)) << "PID 1 outlived its parent";
  close(pidfd);
  EXPECT_FALSE(fs::exists(out() / "started")) << "init ran";
  kill(pid1, SIGKILL);
  waitpid(pid1, nullptr, 0);
}

}  // namespace
}  // namespace mvm::runtime::container::testing
