// Starting qemu confined: its own uid and namespaces, no capabilities, no_new_privs, qemu's own
// seccomp filter (`-sandbox`), and only the descriptors the caller opened for it.

#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/backends/qemu_microvm/child_report.h"
#include "runtime/backends/qemu_microvm/qemu_microvm.h"

namespace mvm::runtime::qemu_microvm {

namespace {

// Each step the child can fail at, in order; its name is what the error message says.
enum class Step : int32_t {
  kPrivateMounts,
  kProc,
  kDev,
  kDevNode,
  kReadOnly,
  kDescriptors,
  kGroups,
  kBounding,
  kGid,
  kUid,
  kCapabilities,
  kNoNewPrivs,
  kParentDeath,
  kExec,
};

const char* StepName(Step step) {
  switch (step) {
    case Step::kPrivateMounts:
      return "make its mount namespace private";
    case Step::kProc:
      return "mount a /proc of its pid namespace";
    case Step::kDev:
      return "mount its /dev";
    case Step::kDevNode:
      return "make a node in its /dev";
    case Step::kReadOnly:
      return "make its mounts read-only";
    case Step::kDescriptors:
      return "place its descriptors";
    case Step::kGroups:
      return "drop supplementary groups";
    case Step::kBounding:
      return "empty the capability bounding set";
    case Step::kGid:
      return "change gid";
    case Step::kUid:
      return "change uid";
    case Step::kCapabilities:
      return "clear capabilities";
    case Step::kNoNewPrivs:
      return "set no_new_privs";
    case Step::kParentDeath:
      return "arm the parent-death signal";
    case Step::kExec:
      return "run qemu-system-x86_64";
  }
  return "start qemu";
}

// Everything the child uses, made before the clone: the child makes only system calls, since the
// caller may have threads and a raw clone runs no fork handlers (a lock another thread held, in
// malloc for one, would stay locked in the child).
struct ChildPlan {
  char* const* argv;
  const int* inherit;
  int* scratch;
  size_t count;
  int log_fd;
  int null_fd;
  int error_fd;
  int alive_read;
  int alive_write;
  uid_t id;
  bool kvm;
};

struct DevNode {
  const char* path;
  unsigned major;
  unsigned minor;
};

// What qemu and its libraries open under /dev; nothing else of the host's devices is there.
constexpr DevNode kDevNodes[] = {{"/dev/null", 1, 3},
                                 {"/dev/zero", 1, 5},
                                 {"/dev/full", 1, 7},
                                 {"/dev/random", 1, 8},
                                 {"/dev/urandom", 1, 9}};

[[noreturn]] void RunChild(const ChildPlan& p) {
  int error_fd = p.error_fd;
  auto fail = [&](Step step) { ReportChildFailure(error_fd, step); };
  ::umask(0);
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    fail(Step::kPrivateMounts);
  }
  // The host's /proc would show every host process; this one shows qemu alone.
  if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    fail(Step::kProc);
  }
  if (::mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=0755") != 0) {
    fail(Step::kDev);
  }
  for (const DevNode& node : kDevNodes) {
    if (::mknod(node.path, S_IFCHR | 0666, makedev(node.major, node.minor)) != 0) {
      fail(Step::kDevNode);
    }
  }
  // A node of its own, owned by its uid: qemu opens /dev/kvm by that name, and the host's node
  // belongs to root and group kvm, neither of which qemu is.
  if (p.kvm && (::mknod("/dev/kvm", S_IFCHR | 0600, makedev(10, 232)) != 0 ||
                ::chown("/dev/kvm", p.id, p.id) != 0)) {
    fail(Step::kDevNode);
  }
  // qemu writes no file: the console, its log and the images are descriptors it was given.
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID;
  if (::mount_setattr(AT_FDCWD, "/", AT_RECURSIVE, &attr, sizeof attr) != 0) {
    fail(Step::kReadOnly);
  }

  // Up first, then down into place, so that no dup2 overwrites a descriptor still to be moved.
  const int high = static_cast<int>(3 + p.count + 2);
  for (size_t i = 0; i < p.count; ++i) {
    p.scratch[i] = ::fcntl(p.inherit[i], F_DUPFD, high);
    if (p.scratch[i] < 0) {
      fail(Step::kDescriptors);
    }
  }
  int log = ::fcntl(p.log_fd, F_DUPFD, high);
  int null = ::fcntl(p.null_fd, F_DUPFD, high);
  int error = ::fcntl(error_fd, F_DUPFD_CLOEXEC, high);
  int alive = ::fcntl(p.alive_read, F_DUPFD_CLOEXEC, high);
  if (log < 0 || null < 0 || error < 0 || alive < 0) {
    fail(Step::kDescriptors);
  }
  error_fd = error;
  const int error_at = static_cast<int>(3 + p.count);
  const int alive_at = error_at + 1;
  if (::dup2(null, 0) < 0 || ::dup2(log, 1) < 0 || ::dup2(log, 2) < 0) {
    fail(Step::kDescriptors);
  }
  for (size_t i = 0; i < p.count; ++i) {
    if (::dup2(p.scratch[i], static_cast<int>(3 + i)) < 0) {
      fail(Step::kDescriptors);
    }
  }
  if (::dup3(error, error_at, O_CLOEXEC) < 0 || ::dup3(alive, alive_at, O_CLOEXEC) < 0) {
    fail(Step::kDescriptors);
  }
  error_fd = error_at;
  // The write end of the liveness pipe goes too: only the parent's copy may keep it open.
  ::close_range(static_cast<unsigned>(alive_at + 1), ~0U, 0);

  // Raw system calls, not glibc's: its set*id wrappers change every thread of the process through
  // a lock and signals to the threads it knows, which after a raw clone are the parent's.
  if (::syscall(SYS_setgroups, 0, nullptr) != 0) {
    fail(Step::kGroups);
  }
  for (int cap = 0; ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; ++cap) {
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      fail(Step::kBounding);
    }
  }
  if (::syscall(SYS_setresgid, p.id, p.id, p.id) != 0) {
    fail(Step::kGid);
  }
  if (::syscall(SYS_setresuid, p.id, p.id, p.id) != 0) {
    fail(Step::kUid);
  }
  // Leaving uid 0 cleared the permitted and effective sets; the inheritable one is cleared here.
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capset, &header, data) != 0 ||
      ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) {
    fail(Step::kCapabilities);
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    fail(Step::kNoNewPrivs);
  }
  // The uid change cleared any parent-death signal, so it is armed only now; a parent that died
  // before shows as the liveness pipe's hang-up (getppid says 0 in a new pid namespace).
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) {
    fail(Step::kParentDeath);
  }
  pollfd parent = {alive_at, POLLIN, 0};
  if (::poll(&parent, 1, 0) != 0) {
    ::_exit(1);
  }
  ::umask(0077);
  ::execvp(p.argv[0], p.argv);
  fail(Step::kExec);
  ::_exit(127);
}

}  // namespace

ErrorOr<pid_t> StartConfinedQemu(const std::vector<std::string>& args,
                                 const std::vector<int>& inherit, int log_fd, bool kvm) {
  std::vector<std::string> storage = args;
  std::vector<char*> argv;
  for (std::string& a : storage) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  std::vector<int> scratch(inherit.size(), -1);
  int error[2] = {-1, -1};
  // Liveness: the child holds the read end and sees a hang-up once the write end is closed, which
  // happens before the child's exec only if this process died.
  int alive[2] = {-1, -1};
  int null = -1;
  auto close_all = [&] {
    for (int fd : {error[0], error[1], alive[0], alive[1], null}) {
      if (fd >= 0) {
        ::close(fd);
      }
    }
  };
  if (::pipe2(error, O_CLOEXEC) != 0 || ::pipe2(alive, O_CLOEXEC) != 0) {
    int saved = errno;
    close_all();
    return Error{std::string("pipe: ") + std::strerror(saved)};
  }
  null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0) {
    int saved = errno;
    close_all();
    return Error{std::string("open /dev/null: ") + std::strerror(saved)};
  }
  const ChildPlan plan{
      argv.data(), inherit.data(), scratch.data(), inherit.size(), log_fd >= 0 ? log_fd : null,
      null,        error[1],       alive[0],       alive[1],       QemuId(::getpid()),
      kvm};
  // A raw clone, as fork but into new namespaces: pid (qemu is its init, and sees no other
  // process), mount (its own /proc and /dev, everything read-only), network (no interface but a
  // down loopback: qemu needs none), IPC, UTS and cgroup.
  long pid = ::syscall(SYS_clone,
                       CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS |
                           CLONE_NEWCGROUP | SIGCHLD,
                       nullptr, nullptr, nullptr, nullptr);
  if (pid == 0) {
    ::close(plan.alive_write);
    RunChild(plan);
  }
  if (pid < 0) {
    int saved = errno;
    close_all();
    return Error{std::string("clone qemu into new namespaces: ") + std::strerror(saved)};
  }
  ::close(error[1]);
  error[1] = -1;
  auto failure = AwaitChildExec<Step>(error[0]);
  close_all();
  if (failure) {
    while (::waitpid(static_cast<pid_t>(pid), nullptr, 0) < 0 && errno == EINTR) {
    }
    return Error{std::string("cannot ") + StepName(failure->step) + ": " +
                 std::strerror(failure->error) +
                 (failure->step == Step::kExec && failure->error == ENOENT
                      ? " (install the Debian package qemu-system-x86)"
                      : "")};
  }
  return static_cast<pid_t>(pid);
}

}  // namespace mvm::runtime::qemu_microvm
