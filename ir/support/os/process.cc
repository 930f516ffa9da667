#include "ir/support/os/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include "ir/support/os/errno_text.h"
#include "ir/support/os/unique_fd.h"

extern char** environ;

namespace mvm::os {

void ResetCaughtSignals() {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler != SIG_DFL &&
        old.sa_handler != SIG_IGN) {
      (void)::sigaction(sig, &dfl, nullptr);
    }
  }
}

namespace {

using Clock = std::chrono::steady_clock;

// Appends `chunk` to `to`, keeping only the last `max` bytes.
void Capture(std::string& to, bool& truncated, std::string_view chunk, size_t max) {
  to.append(chunk);
  if (to.size() > max) {
    to.erase(0, to.size() - max);
    truncated = true;
  }
}

// A file holding `data`, positioned at its start, for a child's stdin.
ErrorOr<UniqueFd> MemoryFile(std::string_view data) {
  UniqueFd fd(memfd_create("mvm-stdin", MFD_CLOEXEC));
  if (!fd.valid()) {
    return Error{"cannot create a file for a child's stdin: " + ErrnoText(errno)};
  }
  while (!data.empty()) {
    ssize_t n = write(fd.get(), data.data(), data.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return Error{"cannot write a child's stdin: " + ErrnoText(errno)};
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  if (lseek(fd.get(), 0, SEEK_SET) != 0) {
    return Error{"cannot rewind a child's stdin: " + ErrnoText(errno)};
  }
  return fd;
}

}  // namespace

ExitStatus ExitStatus::FromWaitStatus(int status) {
  ExitStatus out;
  if (WIFSIGNALED(status)) {
    out.signal = WTERMSIG(status);
  } else if (WIFEXITED(status)) {
    out.exit_code = WEXITSTATUS(status);
  }
  return out;
}

std::string ExitStatus::Describe() const {
  return signal != 0 ? "killed by signal " + std::to_string(signal)
                     : "exit status " + std::to_string(exit_code);
}

std::string LastLines(std::string_view text, size_t lines) {
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

std::string ProcessResult::Tail(size_t lines) const {
  return LastLines(err.empty() ? out : err, lines);
}

std::vector<std::string> EnvironmentWith(const std::vector<std::string>& additions) {
  auto name_of = [](std::string_view entry) { return entry.substr(0, entry.find('=')); };
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    if (std::none_of(additions.begin(), additions.end(),
                     [&](const std::string& a) { return name_of(a) == name_of(entry); })) {
      env.emplace_back(entry);
    }
  }
  env.insert(env.end(), additions.begin(), additions.end());
  return env;
}

std::optional<std::filesystem::path> FindProgram(std::string_view name) {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/bin:/bin";
  while (!dirs.empty()) {
    const size_t colon = dirs.find(':');
    const std::string_view dir = dirs.substr(0, colon);
    dirs = colon == std::string_view::npos ? "" : dirs.substr(colon + 1);
    if (dir.empty()) {
      continue;
    }
    std::filesystem::path candidate = std::filesystem::path(dir) / name;
    std::error_code ec;
    if (std::filesystem::is_regular_file(candidate, ec) && ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return std::nullopt;
}

ErrorOr<pid_t> Spawn(const SpawnOptions& options) {
  const std::string& name =
      options.executable.empty() ? options.argv.at(0) : options.executable.string();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  for (int child_fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}) {
    if (std::none_of(options.fds.begin(), options.fds.end(),
                     [&](const auto& fd) { return fd.first == child_fd; })) {
      posix_spawn_file_actions_addopen(&actions, child_fd, "/dev/null",
                                       child_fd == STDIN_FILENO ? O_RDONLY : O_WRONLY, 0);
    }
  }
  for (const auto& [child_fd, parent_fd] : options.fds) {
    // The copy loses O_CLOEXEC, so exactly the listed descriptors reach the program; with equal
    // numbers glibc (since 2.29) clears the flag on the descriptor itself, as POSIX now asks.
    posix_spawn_file_actions_adddup2(&actions, parent_fd, child_fd);
  }
  // A descriptor this process inherited without O_CLOEXEC (from whatever started it: a shell, an
  // IDE) would reach the program too, so every number that is not listed is closed. glibc ignores
  // EBADF from a close action, so the numbers that are not open cost nothing.
  int highest = STDERR_FILENO;
  for (const auto& fd : options.fds) {
    highest = std::max(highest, fd.first);
  }
  for (int fd = STDERR_FILENO + 1; fd < highest; ++fd) {
    if (std::none_of(options.fds.begin(), options.fds.end(),
                     [&](const auto& listed) { return listed.first == fd; })) {
      posix_spawn_file_actions_addclose(&actions, fd);
    }
  }
  posix_spawn_file_actions_addclosefrom_np(&actions, highest + 1);

  if (!options.cwd.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions, options.cwd.c_str());
  }

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

  std::vector<char*> args = CStrings(options.argv);
  std::vector<char*> env;
  if (options.env) {
    env = CStrings(*options.env);
  }
  char** envp = options.env ? env.data() : environ;
  pid_t pid = -1;
  int spawned =
      options.executable.empty()
          ? posix_spawnp(&pid, args[0], &actions, &attr, args.data(), envp)
          : posix_spawn(&pid, options.executable.c_str(), &actions, &attr, args.data(), envp);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    return Error{"cannot run `" + name + "`: " + ErrnoText(spawned)};
  }
  return pid;
}

ErrorOr<ExitStatus> WaitForExit(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return Error{"cannot wait for process " + std::to_string(pid) + ": " + ErrnoText(errno)};
    }
  }
  return ExitStatus::FromWaitStatus(status);
}

ErrorOr<ProcessResult> RunProcess(const RunOptions& options) {
  const std::string& name = options.spawn.executable.empty() ? options.spawn.argv.at(0)
                                                             : options.spawn.executable.string();
  std::array<UniqueFd, 2> read_ends;   // stdout, stderr
  std::array<UniqueFd, 2> write_ends;  // the child's copies, closed once it runs
  for (size_t i = 0; i < (options.merge_stderr ? 1u : 2u); ++i) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      return Error{"cannot create a pipe to run `" + name + "`: " + ErrnoText(errno)};
    }
    read_ends[i].Reset(fds[0]);
    write_ends[i].Reset(fds[1]);
  }
  UniqueFd stdin_file;
  SpawnOptions spawn = options.spawn;
  spawn.fds = {{STDOUT_FILENO, write_ends[0].get()},
               {STDERR_FILENO, write_ends[options.merge_stderr ? 0 : 1].get()}};
  if (options.stdin_data) {
    auto file = MemoryFile(*options.stdin_data);
    if (!file) {
      return file.error();
    }
    stdin_file = std::move(*file);
    spawn.fds.push_back({STDIN_FILENO, stdin_file.get()});
  }
  auto pid = Spawn(spawn);
  if (!pid) {
    return pid.error();
  }
  // Or the reads below would never see end-of-file.
  write_ends = {};
  stdin_file.Reset();

  ProcessResult result;
  std::string partial;  // the line being read from the stream that feeds on_line
  const size_t line_stream = options.merge_stderr ? 0 : 1;
  auto deliver = [&](std::string_view line) {
    if (options.on_line) {
      options.on_line(line);
    }
  };
  const Clock::time_point start = Clock::now();
  Clock::time_point last_heard = start;
  std::array<char, 65536> buffer{};
  while (read_ends[0].valid() || read_ends[1].valid()) {
    std::array<pollfd, 2> fds{};
    std::array<size_t, 2> stream{};
    nfds_t n = 0;
    for (size_t i = 0; i < 2; ++i) {
      if (read_ends[i].valid()) {
        stream[n] = i;
        fds[n++] = {read_ends[i].get(), POLLIN, 0};
      }
    }
    int timeout = -1;
    const Clock::time_point beat_due = last_heard + options.silence;
    if (options.on_silence) {
      // Rounded up: a truncated timeout wakes poll just before the beat is due.
      auto wait = std::chrono::ceil<std::chrono::milliseconds>(beat_due - Clock::now());
      timeout = static_cast<int>(std::max<int64_t>(wait.count(), 0));
    }
    int ready = poll(fds.data(), n, timeout);
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready < 0) {
      // Leaves no running or unreaped child behind.
      int error = errno;
      kill(*pid, SIGKILL);
      (void)WaitForExit(*pid);
      return Error{"cannot wait for `" + name + "`: " + ErrnoText(error)};
    }
    if (ready == 0) {
      if (Clock::now() >= beat_due) {
        options.on_silence(std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - start));
        last_heard = Clock::now();
      }
      continue;  // or woke early (timer slack): the silence has not lasted long enough yet
    }
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents == 0) {
        continue;
      }
      const size_t s = stream[i];
      ssize_t got = read(fds[i].fd, buffer.data(), buffer.size());
      if (got < 0 && errno == EINTR) {
        continue;
      }
      if (got <= 0) {
        read_ends[s].Reset();  // end of output, or a read error: all that is left is to reap it
        continue;
      }
      std::string_view chunk(buffer.data(), static_cast<size_t>(got));
      if (s == 0) {
        Capture(result.out, result.out_truncated, chunk, options.max_captured);
      } else {
        Capture(result.err, result.err_truncated, chunk, options.max_captured);
      }
      if (s != line_stream) {
        continue;
      }
      last_heard = Clock::now();
      partial.append(chunk);
      size_t begin = 0;
      for (size_t nl = partial.find('\n'); nl != std::string::npos;
           nl = partial.find('\n', begin)) {
        deliver(std::string_view(partial).substr(begin, nl - begin));
        begin = nl + 1;
      }
      partial.erase(0, begin);
    }
  }
  if (!partial.empty()) {
    deliver(partial);
  }
  auto status = WaitForExit(*pid);
  if (!status) {
    return Error{"cannot wait for `" + name + "`: " + status.error().message};
  }
  result.status = *status;
  return result;
}

}  // namespace mvm::os
