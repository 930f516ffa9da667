#include "runtime/backends/helper.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include "ir/support/os/errno_text.h"
#include "ir/support/os/process.h"
#include "ir/support/os/unique_fd.h"

namespace mvm::runtime::backends {

namespace {

/// What the child reports through its close-on-exec pipe when a step before exec fails: one of
/// the HelperSpec's steps (0, 1, …) or one of these, the steps every helper takes.
struct ChildFailure {
  int step;
  int error;
};

enum GenericStep : int {
  kSession = -1,
  kDescriptors = -2,
  kParentDeath = -3,
  kExec = -4,
};

/// What the child reported on `report`: the step that failed, or nothing when the pipe closed
/// without a report (the child exec'd, or waits to).
std::optional<ChildFailure> ReadChildFailure(int report) {
  ChildFailure failure{};
  ssize_t n;
  do {
    n = ::read(report, &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof failure)) {
    return failure;
  }
  return std::nullopt;
}

[[noreturn]] void ReportFailure(int report_fd, int step) {
  ChildFailure failure{step, errno};
  (void)!::write(report_fd, &failure, sizeof failure);
  ::_exit(127);
}

/// Everything the child uses, made before the clone.
struct ChildPlan {
  const HelperSpec* spec;
  const char* program;
  char* const* argv;
  char* const* envp;
  int* scratch;  // one per passed descriptor
  int null_fd;
  int report_fd;
  int alive_read;   // -1 unless the helper dies with its parent
  int alive_write;  // the parent's end, closed in the child at once
};

[[noreturn]] void RunChild(const ChildPlan& p) {
  const HelperSpec& spec = *p.spec;
  int report = p.report_fd;
  if (p.alive_write >= 0) {
    ::close(p.alive_write);
  }
  if (spec.own_session && ::setsid() < 0) {
    ReportFailure(report, kSession);
  }
  if (spec.setup) {
    spec.setup(HelperChild(report));
  }
  // Up above every descriptor in play first, then down into place, so that placing one at its
  // number never overwrites another still to be placed.
  const int count = static_cast<int>(spec.fds.size());
  const int report_at = 3 + count;
  const int alive_at = report_at + 1;
  const int high = alive_at + 1;
  for (int i = 0; i < count; ++i) {
    p.scratch[i] = ::fcntl(spec.fds[static_cast<size_t>(i)], F_DUPFD, high);
    if (p.scratch[i] < 0) {
      ReportFailure(report, kDescriptors);
    }
  }
  const int out = ::fcntl(spec.output >= 0 ? spec.output : p.null_fd, F_DUPFD, high);
  const int null = ::fcntl(p.null_fd, F_DUPFD, high);
  const int moved_report = ::fcntl(report, F_DUPFD_CLOEXEC, high);
  const int alive = p.alive_read >= 0 ? ::fcntl(p.alive_read, F_DUPFD_CLOEXEC, high) : -1;
  if (out < 0 || null < 0 || moved_report < 0 || (p.alive_read >= 0 && alive < 0)) {
    ReportFailure(report, kDescriptors);
  }
  report = moved_report;
  if (::dup2(null, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(out, 2) < 0) {
    ReportFailure(report, kDescriptors);
  }
  for (int i = 0; i < count; ++i) {
    if (::dup2(p.scratch[i], 3 + i) < 0) {
      ReportFailure(report, kDescriptors);
    }
  }
  if (::dup3(report, report_at, O_CLOEXEC) < 0 ||
      (p.alive_read >= 0 && ::dup3(alive, alive_at, O_CLOEXEC) < 0)) {
    ReportFailure(report, kDescriptors);
  }
  report = report_at;
  ::close_range(static_cast<unsigned>(p.alive_read >= 0 ? alive_at + 1 : alive_at), ~0U, 0);
  if (spec.confine) {
    spec.confine(HelperChild(report));
  }
  if (spec.dies_with_parent) {
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) {
      ReportFailure(report, kParentDeath);
    }
    // A starter that died before the signal was armed shows as the liveness pipe's hang-up
    // (getppid cannot tell: it says 0 in a new pid namespace).
    pollfd parent = {alive_at, POLLIN, 0};
    if (::poll(&parent, 1, 0) != 0) {
      ::_exit(0);
    }
  }
  if (spec.exec_on_hangup) {
    // Until the exec this is a copy of the starter: it must not run the starter's signal handlers
    // (C++ that may lock), so they go back to what an exec would leave.
    os::ResetCaughtSignals();
    // Named like the program it stands in for, for ps and top (a no-op where argv[0] is long).
    (void)::prctl(PR_SET_NAME, p.argv[0], 0, 0, 0);
    ::close(report);  // what a successful exec would do: the starter stops waiting
    char c = 0;
    ssize_t n;
    do {
      n = ::read(3, &c, 1);
    } while (n < 0 && errno == EINTR);
    if (n == 1) {
      ::_exit(0);
    }
    ::execve(p.program, p.argv, p.envp);
    ::_exit(127);
  }
  ::execve(p.program, p.argv, p.envp);
  ReportFailure(report, kExec);
}

std::string StepName(const HelperSpec& spec, int step) {
  switch (step) {
    case kSession:
      return "setsid";
    case kDescriptors:
      return "place its descriptors";
    case kParentDeath:
      return "arm the parent-death signal";
    case kExec:
      return "exec " + spec.program.string();
    default:
      return step >= 0 && static_cast<size_t>(step) < spec.steps.size()
                 ? spec.steps[static_cast<size_t>(step)]
                 : "step " + std::to_string(step);
  }
}

}  // namespace

bool EmptyCapabilityBoundingSet() {
  for (int cap = 0; ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; ++cap) {
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      return false;
    }
  }
  return true;
}

bool ClearCapabilities() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  return ::syscall(SYS_capset, &header, data) == 0 &&
         ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == 0;
}

void HelperChild::Fail(int step) const { ReportFailure(report_fd_, step); }

ErrorOr<Helper> StartHelper(const HelperSpec& spec) {
  // Everything the child needs is built here: after the clone it only makes system calls.
  std::vector<char*> argv;
  for (const std::string& a : spec.argv) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  char* fixed_envp[] = {const_cast<char*>("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), nullptr};
  char** envp = spec.inherits_environment ? environ : fixed_envp;
  const std::string program = spec.program.string();
  std::vector<int> scratch(spec.fds.size(), -1);
  const std::string cannot = "cannot start the " + spec.role + ": ";
  os::UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null.valid()) {
    return Error{cannot + "open /dev/null: " + os::ErrnoText(errno)};
  }
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    return Error{cannot + "pipe: " + os::ErrnoText(errno)};
  }
  os::UniqueFd report_read(report[0]);
  os::UniqueFd report_write(report[1]);
  // Liveness: the child holds the read end and sees a hang-up once the write end is closed, which
  // happens before the child's exec only if this process died.
  os::UniqueFd alive_read;
  os::UniqueFd alive_write;
  if (spec.dies_with_parent) {
    int alive[2];
    if (::pipe2(alive, O_CLOEXEC) != 0) {
      return Error{cannot + "pipe: " + os::ErrnoText(errno)};
    }
    alive_read = os::UniqueFd(alive[0]);
    alive_write = os::UniqueFd(alive[1]);
  }
  const ChildPlan plan{&spec,
                       program.c_str(),
                       argv.data(),
                       envp,
                       scratch.data(),
                       null.get(),
                       report_write.get(),
                       alive_read.get(),
                       alive_write.get()};
  // A raw clone, as fork but into the asked namespaces; it runs no fork handlers, which is right:
  // the child runs nothing they would prepare for.
  const long pid = ::syscall(SYS_clone, static_cast<unsigned long>(spec.namespaces) | SIGCHLD,
                             nullptr, nullptr, nullptr, nullptr);
  if (pid == 0) {
    RunChild(plan);
  }
  if (pid < 0) {
    const int saved = errno;
    return Error{cannot + (spec.namespaces != 0 ? "clone into new namespaces: " : "fork: ") +
                 os::ErrnoText(saved) +
                 (saved == ENOSPC ? " (user.max_user_namespaces reached?)" : "")};
  }
  report_write.Reset();
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  const int pidfd_error = errno;
  Helper helper{OwnedProcess(static_cast<pid_t>(pid), pidfd, false),
                {spec.role, static_cast<pid_t>(pid), 0},
                os::UniqueFd()};
  auto abandon = [&](std::string message) -> Error {
    (void)::kill(static_cast<pid_t>(pid), SIGKILL);
    while (::waitpid(static_cast<pid_t>(pid), nullptr, 0) < 0 && errno == EINTR) {
    }
    return Error{std::move(message)};
  };
  if (spec.prepare) {
    if (auto prepared = spec.prepare(static_cast<pid_t>(pid)); !prepared) {
      return abandon(cannot + prepared.error().message);
    }
  }
  if (spec.confirm_later) {
    if (pidfd < 0) {
      return abandon(cannot + "pidfd_open: " + os::ErrnoText(pidfd_error));
    }
    helper.record.start_time = ProcessStartTime(static_cast<pid_t>(pid));
    helper.unconfirmed = std::move(report_read);
    return helper;
  }
  if (const auto failure = ReadChildFailure(report_read.get())) {
    return abandon(cannot + StepName(spec, failure->step) + ": " + os::ErrnoText(failure->error) +
                   (failure->step == kExec && failure->error == ENOENT && !spec.missing_hint.empty()
                        ? " (" + spec.missing_hint + ")"
                        : std::string()));
  }
  if (pidfd < 0) {
    return abandon(cannot + "pidfd_open: " + os::ErrnoText(pidfd_error));
  }
  helper.record.start_time = ProcessStartTime(static_cast<pid_t>(pid));
  return helper;
}

ErrorOr<Ok> ConfirmHelper(const os::UniqueFd& report, std::string_view role) {
  if (const auto failure = ReadChildFailure(report.get())) {
    return Error{"cannot start the " + std::string(role) + ": " +
                 StepName(HelperSpec{}, failure->step) + ": " + os::ErrnoText(failure->error)};
  }
  return Ok{};
}

bool SignalHelper(const HelperRecord& helper, int signal) {
  if (helper.pid <= 0) {
    return false;
  }
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, helper.pid, 0));
  if (pidfd < 0) {
    return false;
  }
  // Checked after the pidfd is open: from here on the pidfd names this process even if it dies
  // and its pid is reused.
  bool sent = false;
  if (helper.start_time != 0 && ProcessStartTime(helper.pid) == helper.start_time) {
    sent = ::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0) == 0;
  }
  ::close(pidfd);
  return sent;
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
