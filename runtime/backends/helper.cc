#include "runtime/backends/helper.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace mvm::runtime::backends {

namespace {

/// What the child reports through its close-on-exec pipe when a step before exec fails.
struct ChildFailure {
  int step;
  int error;
};

constexpr const char* kSteps[] = {"setsid", "prctl(PR_SET_PDEATHSIG)", "placing descriptors",
                                  "opening /dev/null", "exec"};

[[noreturn]] void FailInChild(int report, int step) {
  ChildFailure failure{step, errno};
  (void)!::write(report, &failure, sizeof failure);
  ::_exit(127);
}

}  // namespace

ErrorOr<Helper> StartHelper(const HelperSpec& spec) {
  // Everything the child needs is built here: after fork it only makes system calls.
  std::vector<char*> argv;
  for (const std::string& a : spec.argv) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  char* envp[] = {const_cast<char*>("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), nullptr};
  const std::string program = spec.program.string();
  const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0) {
    return Error{"cannot open /dev/null for the " + spec.role + ": " + std::strerror(errno)};
  }
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    ::close(null);
    return Error{"cannot start the " + spec.role + ": pipe: " + std::strerror(errno)};
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int saved = errno;
    ::close(null);
    ::close(report[0]);
    ::close(report[1]);
    return Error{"cannot start the " + spec.role + ": fork: " + std::strerror(saved)};
  }
  if (pid == 0) {
    ::close(report[0]);
    if (spec.own_session && ::setsid() < 0) {
      FailInChild(report[1], 0);
    }
    if (spec.dies_with_parent) {
      if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
        FailInChild(report[1], 1);
      }
      if (::getppid() != parent) {
        ::_exit(0);  // the starter is already gone: there is nothing to help
      }
    }
    // The passed descriptors go above every descriptor in play first, so that placing one at its
    // number never overwrites another still to be placed (or the report pipe).
    const int count = static_cast<int>(spec.fds.size());
    int high = std::max({3 + count, report[1], null, spec.output});
    for (int fd : spec.fds) {
      high = std::max(high, fd);
    }
    ++high;
    const int report_fd = high + count;
    if (::dup3(report[1], report_fd, O_CLOEXEC) != report_fd) {
      FailInChild(report[1], 2);
    }
    for (int i = 0; i < count; ++i) {
      if (::dup2(spec.fds[static_cast<size_t>(i)], high + i) != high + i) {
        FailInChild(report_fd, 2);
      }
    }
    const int out = spec.output >= 0 ? spec.output : null;
    if (::dup2(null, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(out, 2) < 0) {
      FailInChild(report_fd, 3);
    }
    for (int i = 0; i < count; ++i) {
      if (::dup2(high + i, 3 + i) != 3 + i) {
        FailInChild(report_fd, 2);
      }
    }
    ::close_range(static_cast<unsigned>(3 + count), static_cast<unsigned>(report_fd - 1), 0);
    ::close_range(static_cast<unsigned>(report_fd + 1), ~0U, 0);
    ::execve(program.c_str(), argv.data(), envp);
    FailInChild(report_fd, 4);
  }
  ::close(null);
  ::close(report[1]);
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  Helper helper{OwnedProcess(pid, pidfd, false), {spec.role, pid, 0}};
  ChildFailure failure{};
  ssize_t n;
  do {
    n = ::read(report[0], &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  if (n == static_cast<ssize_t>(sizeof failure)) {
    (void)helper.process.Wait(std::chrono::seconds(5));
    const int step = failure.step >= 0 && failure.step < 5 ? failure.step : 4;
    return Error{"cannot start the " + spec.role + ": " + kSteps[step] +
                 (step == 4 ? " " + program : std::string()) + ": " + std::strerror(failure.error)};
  }
  if (pidfd < 0) {
    return Error{"cannot start the " + spec.role + ": pidfd_open: " + std::strerror(errno)};
  }
  helper.record.start_time = ProcessStartTime(pid);
  return helper;
}

void SignalHelper(const HelperRecord& helper, int signal) {
  if (helper.pid <= 0) {
    return;
  }
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, helper.pid, 0));
  if (pidfd < 0) {
    return;
  }
  // Checked after the pidfd is open: from here on the pidfd names this process even if it dies
  // and its pid is reused.
  if (helper.start_time != 0 && ProcessStartTime(helper.pid) == helper.start_time) {
    (void)::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0);
  }
  ::close(pidfd);
}

uint64_t ProcessStartTime(pid_t pid) {
  if (pid <= 0) {
    return 0;
  }
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name (field 2) may hold spaces and parentheses; fields are counted after the last
  // ')'.
  const size_t close = text.rfind(')');
  if (close == std::string::npos) {
    return 0;
  }
  // A zombie has exited: it is not running whatever its start time.
  if (text.substr(close + 2, 1) == "Z") {
    return 0;
  }
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  // After ')' come field 3 (state) onwards; start time is field 22.
  for (int i = 3; i <= 22; ++i) {
    if (!(fields >> field)) {
      return 0;
    }
  }
  return std::strtoull(field.c_str(), nullptr, 10);
}

}  // namespace mvm::runtime::backends
