#include "runtime/agent/exec.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <string>
#include <vector>

#include "ir/support/os/process.h"

namespace mvm::runtime::agent {
namespace {

// A pipe whose both ends are close-on-exec and above the standard descriptors, so that the
// child's dup2 onto 0, 1 and 2 never overwrites another of its pipe ends.
ErrorOr<Ok> MakePipe(os::UniqueFd& read_end, os::UniqueFd& write_end) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return Error{std::string("exec: creating a pipe: ") + std::strerror(errno)};
  }
  read_end.Reset(fds[0]);
  write_end.Reset(fds[1]);
  for (os::UniqueFd* end : {&read_end, &write_end}) {
    if (end->get() <= STDERR_FILENO) {
      int moved = fcntl(end->get(), F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
      if (moved < 0) {
        return Error{std::string("exec: moving a pipe: ") + std::strerror(errno)};
      }
      end->Reset(moved);
    }
  }
  return Ok{};
}

// A descriptor moved above the standard ones (close-on-exec), for the same reason as MakePipe's.
ErrorOr<Ok> AboveStdio(os::UniqueFd& fd, const char* what) {
  if (fd.get() > STDERR_FILENO) {
    return Ok{};
  }
  int moved = fcntl(fd.get(), F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
  if (moved < 0) {
    return Error{std::string("exec: moving ") + what + ": " + std::strerror(errno)};
  }
  fd.Reset(moved);
  return Ok{};
}

// A pseudo-terminal of `spec`'s size: the master for the agent, the slave for the command. Both
// close-on-exec and above the standard descriptors. The slave is opened through the master
// (TIOCGPTPEER), not by its name, so that nothing mounted over /dev/pts can hand the command
// another file; by name only where the kernel lacks that (before 4.13).
ErrorOr<Ok> MakeTerminal(const ExecSpec& spec, os::UniqueFd& master, os::UniqueFd& slave) {
  master.Reset(posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master.valid()) {
    return Error{std::string("exec: allocating a terminal (/dev/ptmx): ") + std::strerror(errno)};
  }
  // No grantpt: on devpts the slave already belongs to the opener, and the sandbox's devpts has
  // no `tty` group to hand it to.
  if (unlockpt(master.get()) != 0) {
    return Error{std::string("exec: unlocking the terminal: ") + std::strerror(errno)};
  }
  slave.Reset(ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave.valid() && (errno == EINVAL || errno == ENOTTY)) {
    char name[64];
    if (ptsname_r(master.get(), name, sizeof name) == 0) {
      slave.Reset(open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
    }
  }
  if (!slave.valid()) {
    return Error{std::string("exec: opening the terminal's slave: ") + std::strerror(errno)};
  }
  if (spec.rows != 0 || spec.cols != 0) {
    winsize size{spec.rows, spec.cols, 0, 0};
    if (ioctl(master.get(), TIOCSWINSZ, &size) != 0) {
      return Error{std::string("exec: sizing the terminal: ") + std::strerror(errno)};
    }
  }
  if (auto moved = AboveStdio(master, "the terminal"); !moved) {
    return moved;
  }
  return AboveStdio(slave, "the terminal");
}

// openat2 passes its mode in memory, where the container backend's seccomp filter cannot see
// whether it asks for a set-uid file; the agent needs the call (RESOLVE_IN_ROOT) and a workload
// does not (libc never makes it), so workloads get ENOSYS and fall back to openat, whose mode the
// filter checks. Called after DropWorkloadPrivileges, whose no_new_privs lets it be installed.
bool DenyOpenat2() {
  sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),  // the backend's own filter judges the rest
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog program{static_cast<unsigned short>(std::size(code)), code};
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program, 0, 0) == 0;
}

[[noreturn]] void ChildFail(int status_fd, ChildFailure::Step step, int error, int exit_code) {
  const int32_t record[2] = {static_cast<int32_t>(step), error};
  static_assert(sizeof record == kChildFailureBytes);
  // 8 bytes into an empty pipe: one atomic write that cannot block. If it fails the parent sees a
  // plain exit status, which is still reported.
  (void)!write(status_fd, record, sizeof record);
  _exit(exit_code);
}

// What a workload keeps of the agent's capabilities: the file and process ones a container
// runtime's default set gives root (ownership, permission overrides, set*id, kill, chroot, low
// ports), which act on what the workload already owns as uid 0 (files under its own tmpfs, its
// own processes), so root-run tools such as pip keep working. Everything that reaches the kernel
// itself is not kept: modules, raw I/O and /dev/mem, mounts and namespaces (CAP_SYS_ADMIN),
// tracing the agent, kernel log, time, network configuration, device nodes, raw sockets, bpf,
// perf, open_by_handle_at (CAP_DAC_READ_SEARCH), resource limits beyond its own. An allow-list,
// so a capability a newer kernel adds is dropped too. In a microVM the agent is the init and has
// every capability; in a container it has none, and then this drops nothing and changes nothing.
constexpr int kWorkloadCapabilities[] = {
    CAP_CHOWN,       CAP_DAC_OVERRIDE, CAP_FOWNER,  CAP_FSETID,           CAP_KILL,
    CAP_SETGID,      CAP_SETUID,       CAP_SETPCAP, CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT,
    CAP_AUDIT_WRITE, CAP_SETFCAP,
};

// In the child, before execve: the bounding set and the current sets cut down to
// kWorkloadCapabilities, no ambient ones, and no_new_privs, so no set-uid file or file capability
// gives any back. Fails with errno set.
bool DropWorkloadPrivileges(const ProcessBaseline& baseline) {
  uint64_t keep = 0;
  for (int cap : kWorkloadCapabilities) {
    keep |= uint64_t{1} << cap;
  }
  if (baseline.bounding_set) {
    // The agent never changes its bounding set, so what it read at its start still holds.
    for (uint64_t drop = *baseline.bounding_set & ~keep; drop != 0; drop &= drop - 1) {
      if (prctl(PR_CAPBSET_DROP, __builtin_ctzll(drop), 0, 0, 0) != 0) {
        return false;
      }
    }
  } else {
    for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; ++cap) {
      if ((keep & (uint64_t{1} << cap)) == 0 && prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1 &&
          prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
        return false;
      }
    }
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) {
    return false;
  }
  for (int i = 0; i < 2; ++i) {
    const auto mask = static_cast<uint32_t>(keep >> (32 * i));
    data[i].effective &= mask;
    data[i].permitted &= mask;
    data[i].inheritable &= mask;
  }
  return syscall(SYS_capset, &header, data) == 0 &&
         prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == 0 &&
         prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0;
}

// Every capability out of the current sets (the bounding set is left: no_new_privs and the
// container's NOROOT securebit keep an exec from drawing on it). Fails with errno set.
bool ClearAllCapabilities() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  return syscall(SYS_capset, &header, data) == 0;
}

// The child between fork and execve. The agent has one thread, so this may call anything, but it
// only makes system calls on data prepared before the fork.
[[noreturn]] void RunChild(const ExecSpec& spec, const ProcessBaseline& baseline, char* const* argv,
                           char* const* envp, int in, int out, int err, int status) {
  // The agent blocks every signal (it reads them from a signalfd) and may have inherited ignored
  // ones; both would carry over execve. A workload starts with default dispositions, none blocked.
  if (!baseline.no_ignored_signals) {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) {
      (void)sigaction(sig, &dfl, nullptr);  // fails for SIGKILL, SIGSTOP and libc-internal ones
    }
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  // A session of its own, so that no terminal signal from the agent's session reaches it. Timeouts
  // and Signal do not rely on its group: the workload may leave it (the shim is what holds on).
  // With a terminal (`in` is then its slave) the session's leader takes it as its controlling
  // terminal, so that ^C, job control and SIGWINCH reach the foreground group as on any terminal.
  if (setsid() < 0 || (spec.tty && ioctl(in, TIOCSCTTY, 0) != 0) || dup2(in, STDIN_FILENO) < 0 ||
      dup2(out, STDOUT_FILENO) < 0 || dup2(err, STDERR_FILENO) < 0) {
    ChildFail(status, ChildFailure::Step::kSetup, errno, 126);
  }
  if (spec.tty && spec.uid) {
    // Programs that check their terminal's owner (mesg, write, ssh-style prompts) should find the
    // user. Best effort: a container's agent may not chown, and the open slave works regardless.
    (void)fchown(STDIN_FILENO, *spec.uid, *spec.gid);
  }
  if (!DropWorkloadPrivileges(baseline)) {
    ChildFail(status, ChildFailure::Step::kSetup, errno, 126);
  }
  // After the drop (which needs CAP_SETPCAP), before the chdir (checked as the user). Becoming a
  // non-zero uid clears the capabilities that were kept; no_new_privs is already set. setgroups
  // fails where the user namespace denies it, and there the process has no supplementary groups
  // to lose.
  if (spec.uid) {
    (void)setgroups(0, nullptr);
    if (setresgid(*spec.gid, *spec.gid, *spec.gid) != 0 ||
        setresuid(*spec.uid, *spec.uid, *spec.uid) != 0) {
      ChildFail(status, ChildFailure::Step::kUser, errno, 126);
    }
  } else if (!spec.workload_capabilities && !ClearAllCapabilities()) {
    // A container's agent holds CAP_SETUID and CAP_SETGID only to switch users; a command that
    // stays root gets neither.
    ChildFail(status, ChildFailure::Step::kSetup, errno, 126);
  }
  if (chdir(spec.cwd.c_str()) != 0) {
    ChildFail(status, ChildFailure::Step::kChdir, errno, 126);
  }
  if (!DenyOpenat2()) {
    ChildFail(status, ChildFailure::Step::kSetup, errno, 126);
  }
  // The PATH search of execvp, over the request's PATH rather than the agent's: keep looking past
  // "not there" and "not allowed", stop at any other error; "not allowed" wins over "not there".
  int error = ENOENT;
  bool denied = false;
  for (const std::string& candidate : spec.candidates) {
    execve(candidate.c_str(), argv, envp);
    if (errno == EACCES) {
      denied = true;
    } else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE && errno != ENODEV &&
               errno != ETIMEDOUT) {
      error = errno;
      break;
    }
  }
  if (denied && error == ENOENT) {
    error = EACCES;
  }
  ChildFail(status, ChildFailure::Step::kExec, error, error == ENOENT ? 127 : 126);
}

// Closes every descriptor of the shim but `keep`: it is a fork of the agent and never execs, so
// close-on-exec does not help, and a copy of a client socket or of another exec's pipe end held
// here would keep that peer from ever seeing EOF.
void CloseAllBut(int keep) {
  if ((keep == 0 || close_range(0, static_cast<unsigned>(keep) - 1, 0) == 0) &&
      close_range(static_cast<unsigned>(keep) + 1, ~0U, 0) == 0) {
    return;
  }
  const long limit = std::min(sysconf(_SC_OPEN_MAX), 1L << 16);  // close_range missing (old kernel)
  for (int fd = 0; fd < limit; ++fd) {
    if (fd != keep) {
      close(fd);
    }
  }
}

// The exec shim: a child subreaper above the command, so that every orphan of the command's tree
// re-parents here rather than to the agent (PID 1), however it changed its session or process
// group; the agent finds and signals the whole tree as this process's descendants. It reports the
// command's pid, then its wait status, on `result`, and exits once it has reaped every descendant.
// It keeps the agent's mask (every signal blocked), so only SIGKILL and SIGSTOP reach it.
[[noreturn]] void RunShim(const ExecSpec& spec, const ProcessBaseline& baseline, char* const* argv,
                          char* const* envp, int in, int out, int err, int status, int result) {
  auto report = [result](int32_t value) { (void)!write(result, &value, sizeof value); };
  // Before the fork: not even the command's first orphan may get past this process.
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    report(-errno);
    _exit(1);
  }
  const pid_t command = fork();
  if (command == 0) {
    RunChild(spec, baseline, argv, envp, in, out, err, status);
  }
  if (command < 0) {
    report(-errno);
    _exit(1);
  }
  report(command);
  CloseAllBut(result);
  for (;;) {
    int wait_status = 0;
    const pid_t pid = waitpid(-1, &wait_status, __WALL);
    if (pid < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;  // ECHILD: the whole tree is gone
    }
    if (pid == command) {
      // Whether anything of the tree outlives the command: its orphans are this process's children
      // by now (re-parented as it exited), so no child left means no descendant left. Zombies
      // found meanwhile are reaped here; one alive is enough to know.
      int32_t left = 0;
      for (;;) {
        const pid_t other = waitpid(-1, nullptr, __WALL | WNOHANG);
        if (other > 0 || (other < 0 && errno == EINTR)) {
          continue;
        }
        left = other == 0 ? 1 : 0;
        break;
      }
      const int32_t report_both[2] = {wait_status, left};
      static_assert(sizeof report_both == kResultBytes);
      // Into an empty pipe (the pid went before and was read or fits): atomic, never blocks.
      (void)!write(result, report_both, sizeof report_both);
      close(result);
    }
  }
  _exit(0);
}

}  // namespace

ProcessBaseline LearnProcessBaseline() {
  ProcessBaseline baseline;
  os::UniqueFd fd(open("/proc/self/status", O_RDONLY | O_CLOEXEC));
  std::string text(4096, '\0');
  ssize_t n = fd.valid() ? read(fd.get(), text.data(), text.size()) : -1;
  text.resize(n > 0 ? static_cast<size_t>(n) : 0);
  auto mask = [&text](std::string_view field) -> std::optional<uint64_t> {
    const size_t at = text.find("\n" + std::string(field) + ":\t");
    if (at == std::string::npos) {
      return std::nullopt;
    }
    const char* digits = text.c_str() + at + field.size() + 3;
    char* end = nullptr;
    errno = 0;
    const unsigned long long value = std::strtoull(digits, &end, 16);
    if (errno != 0 || end == digits || (*end != '\n' && *end != '\0')) {
      return std::nullopt;
    }
    return static_cast<uint64_t>(value);
  };
  baseline.bounding_set = mask("CapBnd");
  if (const std::optional<uint64_t> ignored = mask("SigIgn")) {
    bool reset = true;
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig <= 64 && sig < NSIG; ++sig) {
      if ((*ignored >> (sig - 1) & 1) != 0 && sigaction(sig, &dfl, nullptr) != 0) {
        reset = false;
      }
    }
    baseline.no_ignored_signals = reset;
  }
  return baseline;
}

ErrorOr<Spawned> Spawn(const ExecSpec& spec, const ProcessBaseline& baseline) {
  os::UniqueFd child_in, child_out, child_err, child_status, shim_result;
  Spawned spawned;
  std::vector<std::pair<os::UniqueFd*, os::UniqueFd*>> pipes = {{&spawned.status_fd, &child_status},
                                                                {&spawned.result_fd, &shim_result}};
  os::UniqueFd slave;
  if (spec.tty) {
    // One terminal for all three: the agent writes the command's input to the master and reads
    // its output, both streams merged, from the same descriptor.
    if (auto made = MakeTerminal(spec, spawned.stdout_fd, slave); !made) {
      return made.error();
    }
    spawned.stdin_fd.Reset(fcntl(spawned.stdout_fd.get(), F_DUPFD_CLOEXEC, STDERR_FILENO + 1));
    if (!spawned.stdin_fd.valid()) {
      return Error{std::string("exec: duplicating the terminal: ") + std::strerror(errno)};
    }
  } else {
    pipes.insert(pipes.end(), {{&child_in, &spawned.stdin_fd},
                               {&spawned.stdout_fd, &child_out},
                               {&spawned.stderr_fd, &child_err}});
  }
  for (auto [read_end, write_end] : pipes) {
    if (auto made = MakePipe(*read_end, *write_end); !made) {
      return made.error();
    }
  }
  const int in = spec.tty ? slave.get() : child_in.get();
  const int out = spec.tty ? slave.get() : child_out.get();
  const int err = spec.tty ? slave.get() : child_err.get();
  std::vector<char*> argv = os::CStrings(spec.argv);
  std::vector<char*> envp = os::CStrings(spec.env);

  pid_t shim = fork();
  if (shim < 0) {
    return Error{std::string("exec: fork: ") + std::strerror(errno)};
  }
  if (shim == 0) {
    RunShim(spec, baseline, argv.data(), envp.data(), in, out, err, child_status.get(),
            shim_result.get());
  }
  spawned.shim = shim;
  shim_result.Reset();
  // The shim writes the command's pid right after its fork. The wait is bounded because the
  // command could stop its parent (SIGSTOP) in theory; the pid then comes later through the loop.
  pollfd ready{spawned.result_fd.get(), POLLIN, 0};
  int32_t pid = 0;
  if (poll(&ready, 1, 1000) == 1 &&
      read(spawned.result_fd.get(), &pid, sizeof pid) == static_cast<ssize_t>(sizeof pid)) {
    if (pid < 0) {
      // The shim could not fork or become a subreaper; it exits, the agent's loop reaps it.
      return Error{std::string("exec: starting the command: ") + std::strerror(-pid)};
    }
    spawned.pid = pid;
  }
  for (const os::UniqueFd* fd : {&spawned.stdin_fd, &spawned.stdout_fd, &spawned.stderr_fd,
                                 &spawned.status_fd, &spawned.result_fd}) {
    if (fd->valid()) {
      (void)fcntl(fd->get(), F_SETFL, O_NONBLOCK);  // cannot fail on a pipe or master we own
    }
  }
  if (spec.stdin_data.empty() && !spec.stdin_stream) {
    spawned.stdin_fd.Reset();
  }
  return spawned;
}

std::optional<ChildFailure> DecodeChildFailure(std::string_view bytes) {
  if (bytes.size() != kChildFailureBytes) {
    return std::nullopt;
  }
  int32_t record[2];
  std::memcpy(record, bytes.data(), sizeof record);
  if (record[0] < static_cast<int32_t>(ChildFailure::Step::kSetup) ||
      record[0] > static_cast<int32_t>(ChildFailure::Step::kUser)) {
    return std::nullopt;
  }
  return ChildFailure{static_cast<ChildFailure::Step>(record[0]), record[1]};
}

StartFailure DescribeFailure(const ExecSpec& spec, const ChildFailure& failure) {
  const std::string command = Quote(spec.argv.front());
  const std::string reason = std::strerror(failure.error);
  switch (failure.step) {
    case ChildFailure::Step::kSetup:
      return {true, 126, "exec: could not set up the process for " + command + ": " + reason};
    case ChildFailure::Step::kChdir:
      return {true, 126,
              "exec: working directory " + Quote(spec.cwd) + ": " + reason +
                  "; pass an existing directory as cwd"};
    case ChildFailure::Step::kUser:
      return {true, 126,
              "exec: cannot run " + command + " as uid " + std::to_string(spec.uid.value_or(0)) +
                  " gid " + std::to_string(spec.gid.value_or(0)) + ": " + reason};
    case ChildFailure::Step::kExec:
      break;
  }
  switch (failure.error) {
    case ENOENT:
      return {false, 127,
              spec.searched ? command + ": command not found in PATH"
                            : command + ": no such file (or its `#!` interpreter is missing)"};
    case EACCES:
      return {false, 126, command + ": permission denied (not executable, or a directory)"};
    case ENOEXEC:
      return {false, 126, command + ": exec format error (not a binary and no `#!` line)"};
    default:
      return {false, 126, command + ": " + reason};
  }
}

}  // namespace mvm::runtime::agent
