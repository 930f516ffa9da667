// Runs between clone3 and exec, in a copy of a possibly multi-threaded parent: only system calls
// and memory the plan already holds, no allocation, no stdio, no exceptions.

#include "runtime/backends/container/child.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <linux/securebits.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>

#include "runtime/backends/helper.h"

namespace mvm::runtime::container {

namespace {

constexpr unsigned kSecureBits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                                 SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
                                 SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
// For an init that switches users: the uid fixup stays on (becoming a non-zero uid clears every
// capability) and ambient capabilities may be raised (they carry CAP_SETUID and CAP_SETGID across
// the exec of init, which NOROOT would not grant to uid 0). KEEP_CAPS stays off, locked.
constexpr unsigned kSwitchingSecureBits =
    SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED;

// Builds a report's step text from pieces, truncating; fixed storage only.
class StepText {
 public:
  explicit StepText(char* buf, size_t size) : buf_(buf), size_(size) { buf_[0] = '\0'; }
  StepText& operator<<(const char* s) {
    while (*s != '\0' && len_ + 1 < size_) {
      buf_[len_++] = *s++;
    }
    buf_[len_] = '\0';
    return *this;
  }

 private:
  char* buf_;
  size_t size_;
  size_t len_ = 0;
};

class Child {
 public:
  Child(ChildPlan& plan, int control_fd) : plan_(plan), control_(control_fd) {}

  [[noreturn]] void Run();

 private:
  // Reports `errno` with the step made of `parts` and exits.
  template <typename... Parts>
  [[noreturn]] void Fail(const Parts*... parts) {
    int error = errno;
    ChildReport report;
    report.kind = ChildReport::kFailed;
    report.error = error;
    StepText text(report.step, sizeof report.step);
    (text << ... << parts);
    (void)send(control_, &report, sizeof report, MSG_NOSIGNAL);
    _exit(1);
  }
  void Report(ChildReport::Kind kind) {
    ChildReport report;
    report.kind = kind;
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    report.at_ns = int64_t{now.tv_sec} * 1000000000 + now.tv_nsec;
    if (send(control_, &report, sizeof report, MSG_NOSIGNAL) < 0) {
      _exit(1);  // the parent is gone: nobody would ever learn of this sandbox
    }
  }

  void ReceiveGo();
  void EnterNamespaces();
  void EnterCgroups();
  void BringUpLoopback();
  void BuildRoot();
  void ApplyMount(const ChildMount& m);
  int EnsurePath(const char* path, bool dir);
  void PivotRoot();
  void SetUpStdio();
  void LimitUserNamespace();
  void CloseFds();
  void DropPrivileges();
  void ArmParentDeath();

  ChildPlan& plan_;
  int control_;
  int root_ = -1;  // O_PATH fd of the overlay that becomes "/"
};

int OpenInRoot(int root, const char* path, int flags) {
  // Symlinks in the rootfs resolve against the new root, never the host's.
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(syscall(SYS_openat2, root, path, &how, sizeof how));
}

void Child::ReceiveGo() {
  char byte;
  iovec iov{&byte, 1};
  size_t fds_bytes = plan_.received_fds.size() * sizeof(int);
  alignas(cmsghdr) char control[CMSG_SPACE(kMaxSources * sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = CMSG_SPACE(fds_bytes);
  ssize_t n;
  do {
    n = recvmsg(control_, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {
    _exit(1);  // the parent died or gave up before the go
  }
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (c == nullptr || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(fds_bytes)) {
    errno = EPROTO;
    Fail("receive the host mounts from the parent");
  }
  memcpy(plan_.received_fds.data(), CMSG_DATA(c), fds_bytes);
}

void Child::EnterCgroups() {
  // Joined by us, not moved by the parent: we are single-threaded, so the kernel need not take
  // the lock whose write side waits for an RCU grace period (see OpenJoinFiles).
  for (int fd : plan_.cgroup_fds) {
    if (write(fd, "0", 1) != 1) {
      Fail("join the sandbox's cgroups");
    }
  }
  // Only now, so that the sandbox's cgroups are the namespace's root.
  if (unshare(CLONE_NEWCGROUP) != 0) {
    Fail("unshare the cgroup namespace");
  }
}

void Child::EnterNamespaces() {
  // The id maps are written now; until this call our credentials are host root's, which the new
  // user namespace cannot represent.
  if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) {
    Fail("become root of the sandbox's user namespace");
  }
  // A session of our own: no controlling terminal, so TIOCSTI cannot type into the host's.
  if (setsid() < 0) {
    Fail("setsid");
  }
  if (sethostname(plan_.hostname.data(), plan_.hostname.size()) != 0) {
    Fail("set the hostname");
  }
  BringUpLoopback();
}

void Child::BringUpLoopback() {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    Fail("bring up lo: socket");
  }
  ifreq req{};
  memcpy(req.ifr_name, "lo", 3);
  if (ioctl(s, SIOCGIFFLAGS, &req) != 0) {
    Fail("bring up lo: SIOCGIFFLAGS");
  }
  req.ifr_flags = static_cast<short>(req.ifr_flags | IFF_UP);
  if (ioctl(s, SIOCSIFFLAGS, &req) != 0) {
    Fail("bring up lo: SIOCSIFFLAGS");
  }
  close(s);
}

// Returns an O_PATH fd of `path` below the new root, creating missing directories on the way and
// the last component as a directory or an empty file.
int Child::EnsurePath(const char* path, bool dir) {
  char prefix[PATH_MAX];
  size_t len = strlen(path);
  if (len >= sizeof prefix) {
    errno = ENAMETOOLONG;
    Fail("create the mount point /", path, " in ", plan_.rootfs.c_str());
  }
  size_t start = 0;  // of the current component
  for (size_t end = 0; end <= len; ++end) {
    if (end < len && path[end] != '/') {
      continue;
    }
    bool last = end == len;
    bool want_dir = !last || dir;
    int flags = O_PATH | (want_dir ? O_DIRECTORY : 0);
    memcpy(prefix, path, end);
    prefix[end] = '\0';
    int fd = OpenInRoot(root_, prefix, flags);
    if (fd < 0 && errno == ENOENT) {
      int parent = root_;
      if (start > 0) {
        prefix[start - 1] = '\0';
        parent = OpenInRoot(root_, prefix, O_PATH | O_DIRECTORY);
        prefix[start - 1] = '/';
        if (parent < 0) {
          Fail("create the mount point /", path, " in ", plan_.rootfs.c_str());
        }
      }
      const char* name = prefix + start;
      int made;
      if (want_dir) {
        made = mkdirat(parent, name, 0755);
      } else {
        made = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (made >= 0) {
          close(made);
        }
      }
      // EEXIST: a dangling symlink (or a racing creator); reopening below tells which.
      if (made < 0 && errno != EEXIST) {
        Fail("create the mount point /", path, " in ", plan_.rootfs.c_str());
      }
      if (parent != root_) {
        close(parent);
      }
      fd = OpenInRoot(root_, prefix, flags);
    }
    if (fd < 0) {
      Fail("create the mount point /", path, " in ", plan_.rootfs.c_str());
    }
    if (last) {
      return fd;
    }
    close(fd);
    start = end + 1;
  }
  return -1;  // unreachable: the loop returns at the last component
}

void Child::ApplyMount(const ChildMount& m) {
  int target = EnsurePath(m.target.c_str(), m.target_is_dir);
  int mount_fd;
  if (m.kind == ChildMount::Kind::kAttach) {
    mount_fd = plan_.received_fds[m.fd_index];
  } else {
    int fs = fsopen(m.fs_type.c_str(), FSOPEN_CLOEXEC);
    if (fs < 0) {
      Fail(m.what.c_str(), ": fsopen");
    }
    for (const auto& [key, value] : m.options) {
      if (fsconfig(fs, FSCONFIG_SET_STRING, key.c_str(), value.c_str(), 0) != 0) {
        Fail(m.what.c_str(), ": option ", key.c_str());
      }
    }
    if (fsconfig(fs, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
      Fail(m.what.c_str());
    }
    mount_fd = fsmount(fs, FSMOUNT_CLOEXEC, static_cast<unsigned>(m.attrs));
    if (mount_fd < 0) {
      Fail(m.what.c_str());
    }
    close(fs);
  }
  if (move_mount(mount_fd, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) !=
      0) {
    Fail(m.what.c_str());
  }
  close(mount_fd);
  close(target);
}

void Child::BuildRoot() {
  // Nothing we mount may propagate back to the host's namespace.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    Fail("make the host's mounts private");
  }
  // The staging tmpfs holds the overlay's upper and work directories: the mount points created
  // below land there, in memory owned by this sandbox, and the shared rootfs stays untouched.
  if (mount("tmpfs", kStagingDir, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700,size=4m") != 0) {
    Fail("mount the staging tmpfs on ", kStagingDir);
  }
  if (chdir(kStagingDir) != 0) {
    Fail("enter the staging tmpfs");
  }
  for (const char* dir : {"lower", "upper", "work", "root"}) {
    if (mkdir(dir, 0755) != 0) {
      Fail("create staging directory ", dir);
    }
  }
  if (move_mount(plan_.received_fds[0], "", AT_FDCWD, "lower", MOVE_MOUNT_F_EMPTY_PATH) != 0) {
    Fail("attach the idmapped rootfs ", plan_.rootfs.c_str());
  }
  close(plan_.received_fds[0]);
  if (mount("overlay", "root", "overlay", MS_NOSUID | MS_NODEV, plan_.overlay_options.c_str()) !=
      0) {
    Fail("mount an overlay over the rootfs ", plan_.rootfs.c_str());
  }
  root_ = open("root", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_ < 0) {
    Fail("open the new root");
  }
  for (const ChildMount& m : plan_.mounts) {
    ApplyMount(m);
  }
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  if (mount_setattr(root_, "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) {
    Fail("make the root read-only");
  }
}

void Child::PivotRoot() {
  // pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves the new
  // root alone, with no directory of the host reachable.
  if (fchdir(root_) != 0) {
    Fail("enter the new root");
  }
  if (syscall(SYS_pivot_root, ".", ".") != 0) {
    Fail("pivot_root into ", plan_.rootfs.c_str());
  }
  if (umount2(".", MNT_DETACH) != 0) {
    Fail("detach the host's root");
  }
  if (chdir("/") != 0) {
    Fail("chdir /");
  }
  close(root_);
}

void Child::SetUpStdio() {
  // Never the caller's stdin: a detached sandbox started from a shell would otherwise keep the
  // operator's terminal open, and whatever can read PID 1's fds could read what is typed there.
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0) {
    Fail("open /dev/null");
  }
  int out = plan_.stdout_fd >= 0 ? plan_.stdout_fd : null;
  if (dup2(null, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
      dup2(out, STDERR_FILENO) < 0) {
    Fail("set up PID 1's standard streams");
  }
  close(null);
}

void Child::LimitUserNamespace() {
  // Each file opened from the directory, not by its whole path: a /proc/sys lookup per file less.
  int dir = open("/proc/sys/user", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) {
    Fail("limit the sandbox's user namespace: open /proc/sys/user");
  }
  for (const UserNamespaceLimit& limit : kUserNamespaceLimits) {
    int fd = openat(dir, limit.file, O_WRONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
      continue;  // an older kernel without this counter has nothing to exhaust
    }
    size_t len = strlen(limit.value);
    if (fd < 0 || write(fd, limit.value, len) != static_cast<ssize_t>(len)) {
      Fail("limit the sandbox's user namespace: /proc/sys/user/", limit.file);
    }
    close(fd);
  }
  close(dir);
  const rlimit sigpending{kSigPendingLimit, kSigPendingLimit};
  const rlimit msgqueue{kMessageQueueBytes, kMessageQueueBytes};
  if (setrlimit(RLIMIT_SIGPENDING, &sigpending) != 0 ||
      setrlimit(RLIMIT_MSGQUEUE, &msgqueue) != 0) {
    Fail("set the sandbox's pending-signal and message-queue limits");
  }
}

void Child::CloseFds() {
  // keep_fds includes the control socket, which is close-on-exec: it reports until the exec.
  unsigned next = 0;  // lowest fd not yet handled
  for (int fd : plan_.keep_fds) {
    auto keep = static_cast<unsigned>(fd);
    if (keep > next && close_range(next, keep - 1, 0) != 0) {
      Fail("close inherited file descriptors");
    }
    next = keep + 1;
  }
  if (close_range(next, ~0U, 0) != 0) {
    Fail("close inherited file descriptors");
  }
  for (int fd : plan_.inherit_fds) {
    if (fcntl(fd, F_SETFD, 0) != 0) {
      Fail("keep an inherited file descriptor open across exec");
    }
  }
}

namespace {

// The bounding set and the current sets cut to CAP_SETUID and CAP_SETGID, raised as ambient so
// that they survive the exec of init. Fails with errno set.
bool KeepOnlyUserSwitching() {
  constexpr uint64_t kKeep = (uint64_t{1} << CAP_SETUID) | (uint64_t{1} << CAP_SETGID);
  for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; ++cap) {
    if ((kKeep & (uint64_t{1} << cap)) == 0 && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      return false;
    }
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  data[0].effective = data[0].permitted = data[0].inheritable = static_cast<uint32_t>(kKeep);
  return syscall(SYS_capset, &header, data) == 0 &&
         prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == 0 &&
         prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SETUID, 0, 0) == 0 &&
         prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SETGID, 0, 0) == 0;
}

}  // namespace

void Child::DropPrivileges() {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    Fail("set no_new_privs");
  }
  // Root in a user namespace would regain capabilities at exec; these bits stop that for good.
  if (prctl(PR_SET_SECUREBITS, plan_.init_switches_users ? kSwitchingSecureBits : kSecureBits, 0, 0,
            0) != 0) {
    Fail("lock the securebits");
  }
  if (plan_.init_switches_users) {
    if (!KeepOnlyUserSwitching()) {
      Fail("keep only CAP_SETUID and CAP_SETGID");
    }
  } else {
    if (!backends::EmptyCapabilityBoundingSet()) {
      Fail("drop the capability bounding set");
    }
    if (!backends::ClearCapabilities()) {
      Fail("drop all capabilities");
    }
  }
  sock_fprog program{static_cast<unsigned short>(plan_.seccomp.size()), plan_.seccomp.data()};
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program, 0, 0) != 0) {
    Fail("load the seccomp filter");
  }
}

void Child::ArmParentDeath() {
  // Armed last: a credential change such as the setresuid in EnterNamespaces clears it.
  if (plan_.death_signal != 0 && prctl(PR_SET_PDEATHSIG, plan_.death_signal, 0, 0, 0) != 0) {
    Fail("set the parent-death signal");
  }
}

void Child::Run() {
  // No parent-death signal yet (setresuid would clear it): until it is armed, each wait on the
  // control socket ends with EOF if the parent dies, and we exit.
  ReceiveGo();
  EnterNamespaces();
  BuildRoot();
  PivotRoot();
  SetUpStdio();
  Report(ChildReport::kMounted);
  EnterCgroups();
  LimitUserNamespace();
  CloseFds();
  DropPrivileges();
  ArmParentDeath();
  // This report is also the check that the parent is still there, since getppid() is 0 for a pid
  // namespace's init. A dying process closes its files before it signals its children: if the
  // parent died before the prctl above armed the signal (against whoever adopted us), its end of
  // the socket is closed and the send fails, so we exit; if it dies later, the signal comes.
  Report(ChildReport::kExecuting);
  // From the fd the parent opened: the binary is not mounted, so the sandbox neither sees its
  // host path in mountinfo nor reaches the file. The fd is close-on-exec and goes with the exec.
  syscall(SYS_execveat, plan_.init_fd, "", plan_.argv.data(), plan_.envp.data(), AT_EMPTY_PATH);
  Fail("exec ", plan_.init.c_str());
}

}  // namespace

void RunChild(ChildPlan& plan, int control_fd) { Child(plan, control_fd).Run(); }

}  // namespace mvm::runtime::container
