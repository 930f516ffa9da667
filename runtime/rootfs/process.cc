#include "runtime/rootfs/process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/rootfs/tree_util.h"

extern char** environ;

namespace mvm::runtime::rootfs {

std::string ProcessResult::Describe() const {
  return signal != 0 ? "killed by signal " + std::to_string(signal)
                     : "exit status " + std::to_string(exit_code);
}

std::string ProcessResult::Tail(size_t lines) const {
  std::string_view text = output;
  while (text.ends_with('\n')) {
    text.remove_suffix(1);
  }
  size_t start = text.size();
  size_t seen = 0;
  while (start > 0 && !(text[start - 1] == '\n' && ++seen == lines)) {
    --start;
  }
  return std::string(text.substr(start));
}

ErrorOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                  const std::function<void(std::string_view line)>& on_line) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return Error{"cannot create a pipe to run `" + argv[0] + "`: " + ErrnoText(errno)};
  }
  Fd read_end(pipe_fds[0]);
  Fd write_end(pipe_fds[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  // dup2 clears O_CLOEXEC on the copies, so only these two reach the child.
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDERR_FILENO);

  // Whatever signal handling the caller set up (a blocked SIGCHLD for a signalfd, an ignored
  // SIGPIPE) is not the tool's: it starts with an empty mask and default dispositions.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT}) {
    sigaddset(&defaults, sig);
  }
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> args;
  for (const std::string& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  pid_t pid = -1;
  int spawned = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    return Error{"cannot run `" + argv[0] + "`: " + ErrnoText(spawned)};
  }
  write_end = Fd();  // or the read below would never see end-of-file

  ProcessResult result;
  std::string partial;
  auto deliver = [&](std::string_view line) {
    if (on_line) {
      on_line(line);
    }
  };
  char buf[8192];
  while (true) {
    ssize_t n = read(read_end.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;  // end of output, or a read error: either way all that is left is to reap the child
    }
    std::string_view chunk(buf, static_cast<size_t>(n));
    result.output.append(chunk);
    if (result.output.size() > kMaxProcessOutput) {
      result.output.erase(0, result.output.size() - kMaxProcessOutput);
    }
    partial.append(chunk);
    size_t start = 0;
    for (size_t nl = partial.find('\n'); nl != std::string::npos; nl = partial.find('\n', start)) {
      deliver(std::string_view(partial).substr(start, nl - start));
      start = nl + 1;
    }
    partial.erase(0, start);
  }
  if (!partial.empty()) {
    deliver(partial);
  }

  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return Error{"cannot wait for `" + argv[0] + "`: " + ErrnoText(errno)};
    }
  }
  if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  } else {
    result.exit_code = WEXITSTATUS(status);
  }
  return result;
}

}  // namespace mvm::runtime::rootfs
