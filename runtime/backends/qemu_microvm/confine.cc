// Starting qemu confined: its own uid and namespaces, no capabilities, no_new_privs, qemu's own
// seccomp filter (`-sandbox`), and only the descriptors the caller opened for it.

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ir/support/os/process.h"
#include "runtime/backends/helper.h"
#include "runtime/backends/qemu_microvm/qemu_microvm.h"

namespace mvm::runtime::qemu_microvm {

namespace {

// The steps of the child before its exec, by the numbers it reports them with.
enum Step : int {
  kPrivateMounts,
  kProc,
  kDev,
  kDevNode,
  kReadOnly,
  kGroups,
  kBounding,
  kGid,
  kUid,
  kCapabilities,
  kNoNewPrivs,
};

const std::vector<std::string>& StepNames() {
  static const std::vector<std::string> kNames = {"make its mount namespace private",
                                                  "mount a /proc of its pid namespace",
                                                  "mount its /dev",
                                                  "make a node in its /dev",
                                                  "make its mounts read-only",
                                                  "drop supplementary groups",
                                                  "empty the capability bounding set",
                                                  "change gid",
                                                  "change uid",
                                                  "clear capabilities",
                                                  "set no_new_privs"};
  return kNames;
}

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

// In the child, before its descriptors are placed: its own /proc and /dev, everything read-only.
void MountItsWorld(const backends::HelperChild& child, uid_t id, bool kvm) {
  ::umask(0);
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    child.Fail(kPrivateMounts);
  }
  // The host's /proc would show every host process; this one shows qemu alone.
  if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    child.Fail(kProc);
  }
  if (::mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=0755") != 0) {
    child.Fail(kDev);
  }
  for (const DevNode& node : kDevNodes) {
    if (::mknod(node.path, S_IFCHR | 0666, makedev(node.major, node.minor)) != 0) {
      child.Fail(kDevNode);
    }
  }
  // A node of its own, owned by its uid: qemu opens /dev/kvm by that name, and the host's node
  // belongs to root and group kvm, neither of which qemu is.
  if (kvm && (::mknod("/dev/kvm", S_IFCHR | 0600, makedev(10, 232)) != 0 ||
              ::chown("/dev/kvm", id, id) != 0)) {
    child.Fail(kDevNode);
  }
  // qemu writes no file: the console, its log and the images are descriptors it was given.
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID;
  if (::mount_setattr(AT_FDCWD, "/", AT_RECURSIVE, &attr, sizeof attr) != 0) {
    child.Fail(kReadOnly);
  }
}

// In the child, once its descriptors are placed: an unprivileged uid with no capabilities.
void DropPrivileges(const backends::HelperChild& child, uid_t id) {
  // Raw system calls, not glibc's: its set*id wrappers change every thread of the process through
  // a lock and signals to the threads it knows, which after a raw clone are the parent's.
  if (::syscall(SYS_setgroups, 0, nullptr) != 0) {
    child.Fail(kGroups);
  }
  if (!backends::EmptyCapabilityBoundingSet()) {
    child.Fail(kBounding);
  }
  if (::syscall(SYS_setresgid, id, id, id) != 0) {
    child.Fail(kGid);
  }
  if (::syscall(SYS_setresuid, id, id, id) != 0) {
    child.Fail(kUid);
  }
  // Leaving uid 0 cleared the permitted and effective sets; the inheritable one is cleared here.
  if (!backends::ClearCapabilities()) {
    child.Fail(kCapabilities);
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    child.Fail(kNoNewPrivs);
  }
  ::umask(0077);
}

}  // namespace

ErrorOr<pid_t> StartConfinedQemu(const std::vector<std::string>& args,
                                 const std::vector<int>& inherit, int log_fd, bool kvm) {
  auto program = os::FindProgram(kQemu);
  if (!program) {
    return Error{std::string(kQemu) +
                 " is not on PATH (install the Debian package qemu-system-x86)"};
  }
  const uid_t id = QemuId(::getpid());
  backends::HelperSpec spec;
  spec.role = "confined qemu";
  spec.program = *program;
  spec.argv = args;
  spec.fds = inherit;
  spec.output = log_fd;
  // pid (qemu is its init, and sees no other process), mount (its own /proc and /dev, everything
  // read-only), network (no interface but a down loopback: qemu needs none), IPC, UTS and cgroup.
  spec.namespaces =
      CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP;
  spec.setup = [id, kvm](const backends::HelperChild& child) { MountItsWorld(child, id, kvm); };
  spec.confine = [id](const backends::HelperChild& child) { DropPrivileges(child, id); };
  spec.steps = StepNames();
  spec.missing_hint = "install the Debian package qemu-system-x86";
  auto helper = backends::StartHelper(spec);
  if (!helper) {
    return helper.error();
  }
  return helper->process.pid();
}

}  // namespace mvm::runtime::qemu_microvm
