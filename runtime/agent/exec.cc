#include "runtime/agent/exec.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <iterator>
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

// openat2 passes its mode in memory, where the container backend's seccomp filter cannot see
// whether it asks for a set-uid file; the agent needs the call (RESOLVE_IN_ROOT) and a workload
// does not (libc never makes it), so workloads get ENOSYS and fall back to openat, whose mode the
// filter checks. Stacked only where no_new_privs is already set (the container backend, which
// sets it for PID 1): installing it needs that or CAP_SYS_ADMIN.
bool DenyOpenat2() {
  if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
    return true;
  }
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
