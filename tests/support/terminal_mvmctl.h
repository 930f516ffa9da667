// mvmctl as a user at a terminal runs it, for the end-to-end tests of `-t`: on a new
// pseudo-terminal that is its stdin, stdout, stderr and controlling terminal, with the test on the
// other side typing, resizing and reading, and able to compare the terminal's mode before and
// after.
#ifndef MVM_TESTS_SUPPORT_TERMINAL_MVMCTL_H_
#define MVM_TESTS_SUPPORT_TERMINAL_MVMCTL_H_

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/mvmctl.h"

namespace mvm::testing {

/// Whether two terminal modes are the same in every field a program can set.
inline bool SameMode(const termios& a, const termios& b) {
  return a.c_iflag == b.c_iflag && a.c_oflag == b.c_oflag && a.c_cflag == b.c_cflag &&
         a.c_lflag == b.c_lflag && std::memcmp(a.c_cc, b.c_cc, sizeof a.c_cc) == 0 &&
         cfgetispeed(&a) == cfgetispeed(&b) && cfgetospeed(&a) == cfgetospeed(&b);
}

/// A running `mvmctl ARGS…` (with `--state-dir=STATE` after the subcommand) on a terminal of
/// `rows` x `cols`, with TERM=`term`. The test keeps a descriptor of the terminal's slave, so its
/// mode can be read after mvmctl is gone. Killed and reaped at the end if still running.
class TerminalMvmctl {
 public:
  TerminalMvmctl(std::vector<std::string> args, const std::filesystem::path& state,
                 unsigned short rows, unsigned short cols, const std::string& term) {
    args = MvmctlArgv(std::move(args), state);
    winsize size{rows, cols, 0, 0};
    EXPECT_EQ(::openpty(&master_, &slave_, nullptr, nullptr, &size), 0);
    ::fcntl(master_, F_SETFD, FD_CLOEXEC);
    ::fcntl(slave_, F_SETFD, FD_CLOEXEC);
    EXPECT_EQ(::tcgetattr(slave_, &before_), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      // The session's leader with the terminal as its controlling one, as a shell's foreground
      // job: SIGWINCH reaches it, and setting the terminal's mode does not stop it (SIGTTOU).
      ::setsid();
      ::ioctl(slave_, TIOCSCTTY, 0);
      ::dup2(slave_, 0);
      ::dup2(slave_, 1);
      ::dup2(slave_, 2);
      ::setenv("TERM", term.c_str(), 1);
      ExecOrExit(args);
    }
  }
  TerminalMvmctl(const TerminalMvmctl&) = delete;
  TerminalMvmctl& operator=(const TerminalMvmctl&) = delete;
  ~TerminalMvmctl() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(master_);
    ::close(slave_);
  }

  /// The terminal's mode when mvmctl started.
  const termios& before() const { return before_; }
  /// Its mode now.
  termios Mode() const {
    termios mode{};
    EXPECT_EQ(::tcgetattr(slave_, &mode), 0);
    return mode;
  }

  /// Reads what mvmctl wrote until `needle` has appeared after `from` (an offset into Seen()), or
  /// `limit` has passed; whether it appeared.
  bool WaitFor(std::string_view needle, std::chrono::seconds limit, size_t from = 0) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (seen_.find(needle, from) == std::string::npos) {
      if (std::chrono::steady_clock::now() >= deadline) {
        return false;
      }
      ReadSome(100);
    }
    return true;
  }

  /// Waits until mvmctl has made the terminal raw (canonical mode and signals off).
  bool WaitRaw(std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if ((Mode().c_lflag & (ICANON | ISIG)) == 0) {
        return true;
      }
      ReadSome(50);
    }
    return false;
  }

  /// Types `keys` into the terminal.
  void Type(std::string_view keys) {
    EXPECT_EQ(::write(master_, keys.data(), keys.size()), static_cast<ssize_t>(keys.size()));
  }
  /// Resizes the terminal; the kernel sends mvmctl SIGWINCH.
  void Resize(unsigned short rows, unsigned short cols) {
    winsize size{rows, cols, 0, 0};
    EXPECT_EQ(::ioctl(master_, TIOCSWINSZ, &size), 0);
  }

  /// Waits for mvmctl to end, reading its output meanwhile; its exit status, or 128+N when a
  /// signal N ended it (`signalled` says which). nullopt when it still runs at `limit`.
  std::optional<int> Wait(std::chrono::seconds limit, bool* signalled = nullptr) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!status_ && std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        status_ = status;
        break;
      }
      ReadSome(50);
    }
    while (ReadSome(0)) {
    }
    if (!status_) {
      return std::nullopt;
    }
    if (signalled != nullptr) {
      *signalled = WIFSIGNALED(*status_);
    }
    return WIFEXITED(*status_) ? WEXITSTATUS(*status_) : 128 + WTERMSIG(*status_);
  }

  pid_t pid() const { return pid_; }

  /// The processes of mvmctl's process group (the terminal's foreground group: what a resize, ^C
  /// or ^Z reaches) other than mvmctl itself that have a handler for `sig`, as "PID COMMAND".
  std::vector<std::string> OthersInTheGroupCatching(int sig) const {
    std::vector<std::string> catching;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      const std::string pid = entry.path().filename().string();
      if (pid.find_first_not_of("0123456789") != std::string::npos || pid == std::to_string(pid_)) {
        continue;
      }
      const std::string stat = ReadProc(entry.path() / "stat");
      const size_t close = stat.rfind(')');
      int pgrp = -1;
      // After ')': state, ppid, pgrp.
      if (close == std::string::npos ||
          std::sscanf(stat.c_str() + close + 1, " %*c %*d %d", &pgrp) != 1 || pgrp != pid_) {
        continue;
      }
      const std::string status = ReadProc(entry.path() / "status");
      const size_t at = status.find("SigCgt:");
      if (at == std::string::npos) {
        continue;
      }
      const unsigned long long caught = std::strtoull(status.c_str() + at + 7, nullptr, 16);
      if ((caught >> (sig - 1)) & 1u) {
        std::string command = ReadProc(entry.path() / "cmdline");
        std::replace(command.begin(), command.end(), '\0', ' ');
        catching.push_back(pid + " " + command);
      }
    }
    return catching;
  }
  /// Everything mvmctl and the sandbox's terminal wrote so far.
  const std::string& Seen() const { return seen_; }

 private:
  // One read of the master within `timeout_ms`; false when nothing came.
  bool ReadSome(int timeout_ms) {
    pollfd p{master_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) {
      return false;
    }
    char buffer[4096];
    const ssize_t n = ::read(master_, buffer, sizeof buffer);
    if (n <= 0) {
      return false;
    }
    seen_.append(buffer, static_cast<size_t>(n));
    return true;
  }

  static std::string ReadProc(const std::filesystem::path& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  int master_ = -1;
  int slave_ = -1;
  pid_t pid_ = -1;
  termios before_{};
  std::optional<int> status_;
  std::string seen_;
};

}  // namespace mvm::testing

#endif  // MVM_TESTS_SUPPORT_TERMINAL_MVMCTL_H_
