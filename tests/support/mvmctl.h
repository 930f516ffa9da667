// Runs the real mvmctl as a child process for end-to-end tests, capturing its exit status, stdout
// and stderr. The rootfs cache is shared by every state directory the tests use (SharedRootfsCache)
// so a template is built once per test run, not once per test or per state directory.
#ifndef MVM_TESTS_SUPPORT_MVMCTL_H_
#define MVM_TESTS_SUPPORT_MVMCTL_H_

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace mvm::testing {

struct Result {
  int status = -1;  // exit status, or 128+signal
  std::string out;
  std::string err;
};

// Reads both pipes to the end without deadlocking on either.
inline void Drain(int out_fd, int err_fd, std::string& out, std::string& err) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) {
        continue;
      }
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? out : err).append(buf, static_cast<size_t>(n));
      } else {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
}

/// In a forked child: execs `args` (args[0] a path), or exits 127.
[[noreturn]] inline void ExecOrExit(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const std::string& a : args) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  ::execv(argv[0], argv.data());
  ::_exit(127);
}

inline pid_t Spawn(const std::vector<std::string>& args, int out_fd, int err_fd, int in_fd) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in_fd, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    ExecOrExit(args);
  }
  return pid;
}

/// The template cache the sandbox tests share: $MVM_TEST_ROOTFS_CACHE, which ctest sets to one
/// directory for the test binaries of both presets (python-3.11 takes mmdebstrap a minute or two,
/// so it is built once per `.ci/run`, not once per state directory and preset); run by hand
/// without it, the shared state directory's own cache.
inline std::filesystem::path SharedRootfsCache() {
  const char* shared = std::getenv("MVM_TEST_ROOTFS_CACHE");
  if (shared != nullptr && *shared != '\0') {
    return shared;
  }
  return std::filesystem::path(MVM_BINARY_DIR) / "runtime-test-state" / "rootfs";
}

/// Makes `state`'s rootfs cache (<state>/rootfs) a link to SharedRootfsCache(). A state directory
/// that already has a cache of its own keeps it. The cache is safe for concurrent use, and so is
/// this: a test process that loses the race to create the link finds the winner's.
inline void UseSharedRootfsCache(const std::filesystem::path& state) {
  namespace fs = std::filesystem;
  const fs::path cache = SharedRootfsCache();
  const fs::path link = state / "rootfs";
  fs::create_directories(cache);
  fs::create_directories(state);
  std::error_code ec;
  if (link != cache && !fs::exists(fs::symlink_status(link, ec))) {
    fs::create_directory_symlink(cache, link, ec);
  }
}

/// The shared state directory's path, without making it: for code that runs before a test does
/// (a parameter list that gtest evaluates when it lists the tests, which ctest does without the
/// tests' environment, so SharedState() there would make a rootfs cache of the state's own).
inline std::filesystem::path SharedStatePath() {
  return std::filesystem::path(MVM_BINARY_DIR) / "runtime-test-state";
}

inline std::filesystem::path SharedState() {
  static const std::filesystem::path state = [] {
    std::filesystem::path dir = SharedStatePath();
    UseSharedRootfsCache(dir);
    return dir;
  }();
  return state;
}

/// A started `mvmctl ARGS…` with `--state-dir=STATE` right after the subcommand (every command
/// takes it), and the caller's ends of its stdout, stderr and stdin pipes.
struct MvmctlChild {
  pid_t pid = -1;
  int out = -1;
  int err = -1;
  int in = -1;
};

/// The argv of `mvmctl ARGS…` with `--state-dir=STATE` right after the subcommand.
inline std::vector<std::string> MvmctlArgv(std::vector<std::string> args,
                                           const std::filesystem::path& state) {
  args.insert(args.begin(), MVM_MVMCTL_PATH);
  args.insert(args.begin() + 2, "--state-dir=" + state.string());
  return args;
}

inline MvmctlChild StartMvmctl(std::vector<std::string> args, const std::filesystem::path& state) {
  args = MvmctlArgv(std::move(args), state);
  int out[2], err[2], in[2];
  EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
  EXPECT_EQ(::pipe2(err, O_CLOEXEC), 0);
  EXPECT_EQ(::pipe2(in, O_CLOEXEC), 0);
  MvmctlChild child{Spawn(args, out[1], err[1], in[0]), out[0], err[0], in[1]};
  ::close(out[1]);
  ::close(err[1]);
  ::close(in[0]);
  return child;
}

/// Runs `mvmctl ARGS…` with `--state-dir=STATE` after the subcommand, feeding `stdin_data`.
inline Result Mvmctl(std::vector<std::string> args, const std::string& stdin_data = "",
                     const std::filesystem::path& state = SharedState()) {
  const MvmctlChild child = StartMvmctl(std::move(args), state);
  std::thread writer([&] {
    (void)!::write(child.in, stdin_data.data(), stdin_data.size());
    ::close(child.in);
  });
  Result r;
  Drain(child.out, child.err, r.out, r.err);
  writer.join();
  int status = 0;
  ::waitpid(child.pid, &status, 0);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

/// `mvmctl ARGS…` left running (e.g. `up` without --detach, for tests that then kill it), with
/// `--state-dir=STATE` after the subcommand and its stdout read by WaitFor. Killed and reaped at
/// the end if still running.
class BackgroundMvmctl {
 public:
  BackgroundMvmctl(std::vector<std::string> args, const std::filesystem::path& state) {
    const MvmctlChild child = StartMvmctl(std::move(args), state);
    pid_ = child.pid;
    out_ = child.out;
    err_ = child.err;
    in_ = child.in;
  }
  BackgroundMvmctl(const BackgroundMvmctl&) = delete;
  BackgroundMvmctl& operator=(const BackgroundMvmctl&) = delete;
  ~BackgroundMvmctl() {
    KillAndReap();
    ::close(out_);
    ::close(err_);
    ::close(in_);
  }

  /// Reads its stdout until `needle` appears, it closes, or `limit` passes; returns all read.
  std::string WaitFor(std::string_view needle, std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    char buf[4096];
    while (seen_.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p = {out_, POLLIN, 0};
      if (::poll(&p, 1, 1000) > 0) {
        ssize_t n = ::read(out_, buf, sizeof buf);
        if (n <= 0) {
          break;
        }
        seen_.append(buf, static_cast<size_t>(n));
      }
    }
    return seen_;
  }

  pid_t pid() const { return pid_; }

  /// SIGKILL, then waits for it (not for what it started).
  void KillAndReap() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1, err_ = -1, in_ = -1;
  std::string seen_;
};

inline std::string Describe(const Result& r) {
  return "exit " + std::to_string(r.status) + "\nstdout:\n" + r.out.substr(0, 4000) +
         "\nstderr:\n" + r.err.substr(0, 4000);
}

/// A detached sandbox of hostile.py's `idle` workload per test, named `<prefix>-<pid>`, destroyed
/// (with its snapshots) after the test.
class IdleSandboxTest : public ::testing::Test {
 protected:
  explicit IdleSandboxTest(std::string prefix)
      : name_(std::move(prefix) + "-" + std::to_string(::getpid())) {}

  void SetUp() override {
    Result up =
        Mvmctl({"up", fixture_.string(), "--workload", "idle", "--name", name_, "--detach"});
    ASSERT_EQ(up.status, 0) << Describe(up);
  }
  void TearDown() override {
    (void)Mvmctl({"destroy", name_});
    std::filesystem::remove_all(SharedState() / "snapshots" / name_);
  }

  /// `sh -c SCRIPT` in the sandbox.
  Result Exec(const std::string& script) {
    return Mvmctl({"exec", name_, "--", "sh", "-c", script});
  }

  const std::filesystem::path fixture_ =
      std::filesystem::path(MVM_SOURCE_DIR) / "tests" / "fixtures" / "runtime" / "hostile.py";
  const std::string name_;
};

}  // namespace mvm::testing

#endif  // MVM_TESTS_SUPPORT_MVMCTL_H_
