#include "runtime/agent/exec.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace mvm::runtime::agent {
namespace {

// A pipe whose both ends are close-on-exec and above the standard descriptors, so that the
// child's dup2 onto 0, 1 and 2 never overwrites another of its pipe ends.
ErrorOr<Ok> MakePipe(UniqueFd& read_end, UniqueFd& write_end) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return Error{std::string("exec: creating a pipe: ") + std::strerror(errno)};
  }
  read_end.Reset(fds[0]);
  write_end.Reset(fds[1]);
  for (UniqueFd* end : {&read_end, &write_end}) {
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
bool DropWorkloadPrivileges() {
  uint64_t keep = 0;
  for (int cap : kWorkloadCapabilities) {
    keep |= uint64_t{1} << cap;
  }
  for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; ++cap) {
    if ((keep & (uint64_t{1} << cap)) == 0 && prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1 &&
        prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      return false;
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

// The child between fork and execve. The agent has one thread, so this may call anything, but it
// only makes system calls on data prepared before the fork.
[[noreturn]] void RunChild(const ExecSpec& spec, char* const* argv, char* const* envp, int in,
                           int out, int err, int status) {
  // The agent blocks every signal (it reads them from a signalfd) and may have inherited ignored
  // ones; both would carry over execve. A workload starts with default dispositions, none blocked.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    (void)sigaction(sig, &dfl, nullptr);  // fails for SIGKILL, SIGSTOP and libc-internal ones
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  // A session of its own makes it the leader of a new process group too, so one kill(-pgid) reaches
  // everything it starts, and no terminal signal from the agent's session reaches it.
  if (setsid() < 0 || dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
      dup2(err, STDERR_FILENO) < 0) {
    ChildFail(status, ChildFailure::Step::kSetup, errno, 126);
  }
  if (!DropWorkloadPrivileges()) {
    ChildFail(status, ChildFailure::Step::kSetup, errno, 126);
  }
  if (chdir(spec.cwd.c_str()) != 0) {
    ChildFail(status, ChildFailure::Step::kChdir, errno, 126);
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

std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const std::string& s : strings) {
    out.push_back(const_cast<char*>(s.c_str()));
  }
  out.push_back(nullptr);
  return out;
}

}  // namespace

ErrorOr<Spawned> Spawn(const ExecSpec& spec) {
  UniqueFd child_in, child_out, child_err, child_status;
  Spawned spawned;
  for (auto [read_end, write_end] :
       {std::pair{&child_in, &spawned.stdin_fd}, std::pair{&spawned.stdout_fd, &child_out},
        std::pair{&spawned.stderr_fd, &child_err}, std::pair{&spawned.status_fd, &child_status}}) {
    if (auto made = MakePipe(*read_end, *write_end); !made) {
      return made.error();
    }
  }
  std::vector<char*> argv = CStrings(spec.argv);
  std::vector<char*> envp = CStrings(spec.env);

  pid_t pid = fork();
  if (pid < 0) {
    return Error{std::string("exec: fork: ") + std::strerror(errno)};
  }
  if (pid == 0) {
    RunChild(spec, argv.data(), envp.data(), child_in.get(), child_out.get(), child_err.get(),
             child_status.get());
  }
  spawned.pid = pid;
  for (const UniqueFd* fd :
       {&spawned.stdin_fd, &spawned.stdout_fd, &spawned.stderr_fd, &spawned.status_fd}) {
    (void)fcntl(fd->get(), F_SETFL, O_NONBLOCK);  // cannot fail on a pipe we own
  }
  if (spec.stdin_data.empty()) {
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
      record[0] > static_cast<int32_t>(ChildFailure::Step::kExec)) {
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
