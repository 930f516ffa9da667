// Starting virtiofsd confined. virtiofsd does what the guest asks of the shared directory, and a
// guest's root can ask anything, so virtiofsd must hold no power on the host beyond that directory:
// it runs as an unprivileged host uid in a user namespace of its own, sees the directory through an
// idmapped mount (so the guest still sees the files' owners as they are on disk), and a seccomp
// filter of ours, under its own, refuses set-id modes, device and FIFO nodes and extended
// attributes, which no mapping can keep off the host's disk.

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "ir/support/os/errno_text.h"
#include "runtime/agent/framing.h"
#include "runtime/backends/qemu_microvm/child_report.h"
#include "runtime/backends/qemu_microvm/qemu_microvm.h"

namespace mvm::runtime::qemu_microvm {

namespace fs = std::filesystem;

namespace {

enum class Step : int32_t {
  kReceive,
  kGid,
  kGroups,
  kUid,
  kPrivateMounts,
  kScratch,
  kMountPoint,
  kAttach,
  kProc,
  kDescriptors,
  kNoNewPrivs,
  kFilter,
  kParentDeath,
  kExec,
};

const char* StepName(Step step) {
  switch (step) {
    case Step::kReceive:
      return "receive its mount of the shared directory";
    case Step::kGid:
      return "change gid";
    case Step::kGroups:
      return "drop supplementary groups";
    case Step::kUid:
      return "change uid";
    case Step::kPrivateMounts:
      return "make its mount namespace private";
    case Step::kScratch:
      return "mount a tmpfs on its /tmp";
    case Step::kMountPoint:
      return "make the shared directory's mount point";
    case Step::kAttach:
      return "attach the shared directory";
    case Step::kProc:
      return "mount a /proc of its pid namespace";
    case Step::kDescriptors:
      return "place its descriptors";
    case Step::kNoNewPrivs:
      return "set no_new_privs";
    case Step::kFilter:
      return "install its seccomp filter";
    case Step::kParentDeath:
      return "arm the parent-death signal";
    case Step::kExec:
      return "run /usr/lib/qemu/virtiofsd";
  }
  return "start virtiofsd";
}

// Made before the clone: the caller has threads, so the child makes only system calls.
struct ChildPlan {
  char* const* argv;
  const char* const* mount_points;  // to create, parents first; the last is the shared directory
  size_t mount_point_count;
  const sock_filter* filter;
  unsigned short filter_length;
  int control;  // receives the detached, idmapped tree
  int listen_fd;
  int log_fd;
  int null_fd;
  int error_fd;
  int alive_read;
  int alive_write;
};

[[noreturn]] void RunChild(const ChildPlan& p) {
  int error_fd = p.error_fd;
  auto fail = [&](Step step) { ReportChildFailure(error_fd, step); };
  // The parent maps our ids and sends the tree once the mapping exists; EOF means it died.
  int tree = -1;
  char byte;
  if (agent::ReceiveWithFd(p.control, &byte, 1, &tree) != 1 || tree < 0) {
    fail(Step::kReceive);
  }
  // Raw system calls: after a raw clone glibc's set*id wrappers would signal the parent's threads.
  // Root of the new namespace is host uid kVirtiofsdIdBase; the host groups of the parent (root's)
  // go with the supplementary list.
  if (::syscall(SYS_setresgid, 0, 0, 0) != 0) {
    fail(Step::kGid);
  }
  if (::syscall(SYS_setgroups, 0, nullptr) != 0) {
    fail(Step::kGroups);
  }
  if (::syscall(SYS_setresuid, 0, 0, 0) != 0) {
    fail(Step::kUid);
  }
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    fail(Step::kPrivateMounts);
  }
  if (::mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=0755") !=
      0) {
    fail(Step::kScratch);
  }
  for (size_t i = 0; i < p.mount_point_count; ++i) {
    if (::mkdir(p.mount_points[i], 0755) != 0) {
      fail(Step::kMountPoint);
    }
  }
  if (::move_mount(tree, "", AT_FDCWD, p.mount_points[p.mount_point_count - 1],
                   MOVE_MOUNT_F_EMPTY_PATH) != 0) {
    fail(Step::kAttach);
  }
  ::close(tree);
  // virtiofsd opens /proc/self/fd before it chroots; this /proc shows virtiofsd alone.
  if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    fail(Step::kProc);
  }

  const int high = 16;
  int listen = ::fcntl(p.listen_fd, F_DUPFD, high);
  int log = ::fcntl(p.log_fd, F_DUPFD, high);
  int null = ::fcntl(p.null_fd, F_DUPFD, high);
  int error = ::fcntl(error_fd, F_DUPFD_CLOEXEC, high);
  int alive = ::fcntl(p.alive_read, F_DUPFD_CLOEXEC, high);
  if (listen < 0 || log < 0 || null < 0 || error < 0 || alive < 0) {
    fail(Step::kDescriptors);
  }
  error_fd = error;
  if (::dup2(null, 0) < 0 || ::dup2(log, 1) < 0 || ::dup2(log, 2) < 0 || ::dup2(listen, 3) < 0 ||
      ::dup3(error, 4, O_CLOEXEC) < 0 || ::dup3(alive, 5, O_CLOEXEC) < 0) {
    fail(Step::kDescriptors);
  }
  error_fd = 4;
  ::close_range(6, ~0U, 0);

  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    fail(Step::kNoNewPrivs);
  }
  sock_fprog program{p.filter_length, const_cast<sock_filter*>(p.filter)};
  if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program, 0, 0) != 0) {
    fail(Step::kFilter);
  }
  // The uid change cleared any parent-death signal, so it is armed only now; a parent that died
  // before shows as the liveness pipe's hang-up (getppid says 0 in a new pid namespace).
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) {
    fail(Step::kParentDeath);
  }
  pollfd parent = {5, POLLIN, 0};
  if (::poll(&parent, 1, 0) != 0) {
    ::_exit(1);
  }
  ::execv(p.argv[0], p.argv);
  fail(Step::kExec);
  ::_exit(127);
}

struct CtxDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};

// `(argument & mask) == mask` for one bit.
scmp_arg_cmp HasBit(unsigned arg, uint64_t bit) { return {arg, SCMP_CMP_MASKED_EQ, bit, bit}; }

// Everything is allowed but what would leave a host-side object more powerful than a plain file:
// virtiofsd's own filter, applied after this one, keeps it to the calls it needs. virtiofsd makes
// the calls as itself (uid kVirtiofsdIdBase in its namespace) on files owned on disk by whoever
// the guest's caller is, so a set-uid file made here would be a set-uid file of that owner, host
// root included. A FIFO or socket node is a host object a host process could be tricked into
// opening; an extended attribute could be a file capability.
ErrorOr<std::vector<sock_filter>> BuildVirtiofsdFilter() {
  if (seccomp_arch_native() != SCMP_ARCH_X86_64) {
    return Error{"virtiofsd's seccomp filter supports x86_64 hosts only"};
  }
  std::unique_ptr<void, CtxDeleter> ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) {
    return Error{"seccomp_init failed (out of memory?)"};
  }
  seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  const uint32_t deny = SCMP_ACT_ERRNO(EPERM);
  struct ModeArg {
    const char* name;
    unsigned arg;
  };
  constexpr ModeArg kModeArgs[] = {{"chmod", 1},     {"fchmod", 1}, {"fchmodat", 2},
                                   {"fchmodat2", 2}, {"creat", 1},  {"mkdir", 1},
                                   {"mkdirat", 2},   {"open", 2},   {"openat", 3}};
  for (const ModeArg& m : kModeArgs) {
    int nr = seccomp_syscall_resolve_name(m.name);
    if (nr == __NR_SCMP_ERROR) {
      continue;  // newer than this libseccomp, and then newer than this virtiofsd too
    }
    for (uint64_t bit : {uint64_t{S_ISUID}, uint64_t{S_ISGID}}) {
      scmp_arg_cmp cmp = HasBit(m.arg, bit);
      if (int rc = seccomp_rule_add_array(ctx.get(), deny, nr, 1, &cmp); rc < 0) {
        return Error{std::string("building virtiofsd's seccomp filter: ") + m.name + ": " +
                     std::strerror(-rc)};
      }
    }
  }
  for (const char* name :
       {"mknod", "mknodat", "setxattr", "lsetxattr", "fsetxattr", "setxattrat"}) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) {
      continue;
    }
    if (int rc = seccomp_rule_add(ctx.get(), deny, nr, 0); rc < 0) {
      return Error{std::string("building virtiofsd's seccomp filter: ") + name + ": " +
                   std::strerror(-rc)};
    }
  }
  int fd = ::memfd_create("mvm-virtiofsd-seccomp", MFD_CLOEXEC);
  if (fd < 0) {
    return Error{std::string("building virtiofsd's seccomp filter: memfd_create: ") +
                 std::strerror(errno)};
  }
  std::vector<sock_filter> program;
  int rc = seccomp_export_bpf(ctx.get(), fd);
  off_t size = ::lseek(fd, 0, SEEK_END);
  if (rc == 0 && size > 0 && size % sizeof(sock_filter) == 0) {
    program.resize(static_cast<size_t>(size) / sizeof(sock_filter));
    if (::pread(fd, program.data(), static_cast<size_t>(size), 0) != size) {
      program.clear();
    }
  }
  ::close(fd);
  if (program.empty()) {
    return Error{"building virtiofsd's seccomp filter: exporting the BPF program failed"};
  }
  return program;
}

using os::ErrnoText;

ErrorOr<Ok> WriteProcFile(pid_t pid, const char* file, const std::string& text) {
  std::string path = "/proc/" + std::to_string(pid) + "/" + file;
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return Error{"open " + path + ": " + ErrnoText(errno)};
  }
  ssize_t n = ::write(fd, text.data(), text.size());
  int saved = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size())) {
    return Error{"write " + path + ": " + ErrnoText(saved)};
  }
  return Ok{};
}

}  // namespace

std::string VirtiofsdMountPoint(const fs::path& source) {
  return std::string(kVirtiofsdMountBase) + source.lexically_normal().string();
}

std::vector<std::string> VirtiofsdArgv(const SharedDir& dir, int listen_fd) {
  return {kVirtiofsd, "--fd=" + std::to_string(listen_fd), "-o",
          "source=" + VirtiofsdMountPoint(dir.source),
          // Not the default `namespace`: that forks a second, serving process, which we neither
          // started nor can name, so its end would rest on virtiofsd's own parent-death handling;
          // StartConfinedVirtiofsd makes the namespaces that mode would, and more.
          "-o", "sandbox=chroot",
          // Guest writes reach the host file at once; host changes show in the guest within the
          // 1 s metadata timeout.
          "-o", "cache=auto",
          // Device nodes the guest's root made would be live devices on the host.
          "-o", "modcaps=-mknod", "-o", "log_level=warn"};
}

ErrorOr<pid_t> StartConfinedVirtiofsd(const SharedDir& dir, int listen_fd, int log_fd) {
  auto filter = BuildVirtiofsdFilter();
  if (!filter) {
    return filter.error();
  }
  std::vector<std::string> args = VirtiofsdArgv(dir, 3);
  std::vector<char*> argv;
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  // /tmp/mvm-virtiofs, then one directory per component of the source: `ps` still says which
  // directory a virtiofsd serves.
  std::vector<std::string> points;
  fs::path at = kVirtiofsdMountBase;
  points.push_back(at.string());
  for (const fs::path& part : dir.source.lexically_normal().relative_path()) {
    if (part.empty()) {
      continue;
    }
    at /= part;
    points.push_back(at.string());
  }
  std::vector<const char*> point_names;
  for (const std::string& p : points) {
    point_names.push_back(p.c_str());
  }

  int error[2] = {-1, -1};
  int alive[2] = {-1, -1};
  int control[2] = {-1, -1};
  int null = -1;
  auto close_all = [&] {
    for (int fd : {error[0], error[1], alive[0], alive[1], control[0], control[1], null}) {
      if (fd >= 0) {
        ::close(fd);
      }
    }
  };
  if (::pipe2(error, O_CLOEXEC) != 0 || ::pipe2(alive, O_CLOEXEC) != 0 ||
      ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, control) != 0) {
    int saved = errno;
    close_all();
    return Error{"cannot start virtiofsd: pipe: " + ErrnoText(saved)};
  }
  null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0) {
    int saved = errno;
    close_all();
    return Error{"cannot start virtiofsd: open /dev/null: " + ErrnoText(saved)};
  }
  const ChildPlan plan{argv.data(),
                       point_names.data(),
                       point_names.size(),
                       filter->data(),
                       static_cast<unsigned short>(filter->size()),
                       control[1],
                       listen_fd,
                       log_fd >= 0 ? log_fd : null,
                       null,
                       error[1],
                       alive[0],
                       alive[1]};
  // Its own user namespace (mapped below), pid namespace (nothing else to signal), mount namespace
  // (the shared directory and a scratch /tmp), an empty network namespace, IPC, UTS and cgroup.
  long pid = ::syscall(SYS_clone,
                       CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC |
                           CLONE_NEWUTS | CLONE_NEWCGROUP | SIGCHLD,
                       nullptr, nullptr, nullptr, nullptr);
  if (pid == 0) {
    ::close(plan.alive_write);
    RunChild(plan);
  }
  if (pid < 0) {
    int saved = errno;
    close_all();
    return Error{"cannot clone virtiofsd into new namespaces: " + ErrnoText(saved) +
                 (saved == ENOSPC ? " (user.max_user_namespaces reached?)" : "")};
  }
  ::close(error[1]);
  error[1] = -1;
  ::close(control[1]);
  control[1] = -1;
  auto abandon = [&](const std::string& message) -> Error {
    close_all();  // the child sees EOF on its control socket and ends
    ::kill(static_cast<pid_t>(pid), SIGKILL);
    while (::waitpid(static_cast<pid_t>(pid), nullptr, 0) < 0 && errno == EINTR) {
    }
    return Error{message};
  };

  const std::string map =
      "0 " + std::to_string(kVirtiofsdIdBase) + " " + std::to_string(kVirtiofsdIdRange) + "\n";
  for (const char* file : {"uid_map", "gid_map"}) {
    if (auto w = WriteProcFile(static_cast<pid_t>(pid), file, map); !w) {
      return abandon("cannot map virtiofsd's user ids: " + w.error().message);
    }
  }
  std::string userns_path = "/proc/" + std::to_string(pid) + "/ns/user";
  int userns = ::open(userns_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (userns < 0) {
    return abandon("cannot open " + userns_path + ": " + ErrnoText(errno));
  }
  // Only the directory's own mount, not what is mounted below it: the guest is given one file
  // system, and a mount below could be anything of the host's.
  int tree = static_cast<int>(
      ::open_tree(AT_FDCWD, dir.source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
  if (tree < 0) {
    int saved = errno;
    ::close(userns);
    return abandon("cannot bind `" + dir.source.string() + "`: " + ErrnoText(saved));
  }
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  attr.userns_fd = static_cast<uint64_t>(userns);
  int set = ::mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof attr);
  int saved = errno;
  ::close(userns);
  if (set != 0) {
    ::close(tree);
    return abandon("cannot create an idmapped mount of `" + dir.source.string() +
                   "`: " + ErrnoText(saved) +
                   "; virtiofsd serves a read-write volume only through one, so put it on a file "
                   "system that supports idmapped mounts (ext4, xfs, btrfs, or tmpfs on Linux 6.3 "
                   "and later)");
  }
  bool sent = agent::SendWithFd(control[0], "t", tree) == 1;
  saved = errno;
  ::close(tree);
  if (!sent) {
    return abandon("cannot hand virtiofsd its mount: " + ErrnoText(saved));
  }
  if (auto failure = AwaitChildExec<Step>(error[0])) {
    return abandon(std::string("virtiofsd could not ") + StepName(failure->step) + ": " +
                   ErrnoText(failure->error) +
                   (failure->step == Step::kExec && failure->error == ENOENT
                        ? " (install the Debian package qemu-system-common)"
                        : ""));
  }
  close_all();
  return static_cast<pid_t>(pid);
}

}  // namespace mvm::runtime::qemu_microvm
