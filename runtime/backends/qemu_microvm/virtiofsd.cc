// Starting virtiofsd confined. virtiofsd does what the guest asks of the shared directory, and a
// guest's root can ask anything, so virtiofsd must hold no power on the host beyond that directory:
// it runs as an unprivileged host uid in a user namespace of its own, sees the directory through an
// idmapped mount (so the guest still sees the files' owners as they are on disk), and a seccomp
// filter of ours, under its own, refuses set-id modes, device and FIFO nodes and extended
// attributes, which no mapping can keep off the host's disk.

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "ir/support/os/errno_text.h"
#include "ir/support/os/unique_fd.h"
#include "runtime/agent/framing.h"
#include "runtime/backends/helper.h"
#include "runtime/backends/qemu_microvm/qemu_microvm.h"

namespace mvm::runtime::qemu_microvm {

namespace fs = std::filesystem;

namespace {

// The steps of the child before its exec, by the numbers it reports them with.
enum Step : int {
  kReceive,
  kGid,
  kGroups,
  kUid,
  kPrivateMounts,
  kScratch,
  kMountPoint,
  kAttach,
  kProc,
  kNoNewPrivs,
  kFilter,
};

const std::vector<std::string>& StepNames() {
  static const std::vector<std::string> kNames = {"receive its mount of the shared directory",
                                                  "change gid",
                                                  "drop supplementary groups",
                                                  "change uid",
                                                  "make its mount namespace private",
                                                  "mount a tmpfs on its /tmp",
                                                  "make the shared directory's mount point",
                                                  "attach the shared directory",
                                                  "mount a /proc of its pid namespace",
                                                  "set no_new_privs",
                                                  "install its seccomp filter"};
  return kNames;
}

// In the child, before its descriptors are placed: root of its user namespace, with the shared
// directory (received on `control`) attached at the end of `mount_points`.
void MountItsWorld(const backends::HelperChild& child, int control,
                   const std::vector<const char*>& mount_points) {
  // The parent maps our ids and sends the tree once the mapping exists; EOF means it died.
  int tree = -1;
  char byte;
  if (agent::ReceiveWithFd(control, &byte, 1, &tree) != 1 || tree < 0) {
    child.Fail(kReceive);
  }
  // Raw system calls: after a raw clone glibc's set*id wrappers would signal the parent's threads.
  // Root of the new namespace is host uid kVirtiofsdIdBase; the host groups of the parent (root's)
  // go with the supplementary list.
  if (::syscall(SYS_setresgid, 0, 0, 0) != 0) {
    child.Fail(kGid);
  }
  if (::syscall(SYS_setgroups, 0, nullptr) != 0) {
    child.Fail(kGroups);
  }
  if (::syscall(SYS_setresuid, 0, 0, 0) != 0) {
    child.Fail(kUid);
  }
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    child.Fail(kPrivateMounts);
  }
  if (::mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=0755") !=
      0) {
    child.Fail(kScratch);
  }
  for (const char* point : mount_points) {
    if (::mkdir(point, 0755) != 0) {
      child.Fail(kMountPoint);
    }
  }
  if (::move_mount(tree, "", AT_FDCWD, mount_points.back(), MOVE_MOUNT_F_EMPTY_PATH) != 0) {
    child.Fail(kAttach);
  }
  ::close(tree);
  // virtiofsd opens /proc/self/fd before it chroots; this /proc shows virtiofsd alone.
  if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    child.Fail(kProc);
  }
}

// In the child, once its descriptors are placed.
void InstallFilter(const backends::HelperChild& child, const std::vector<sock_filter>& filter) {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    child.Fail(kNoNewPrivs);
  }
  sock_fprog program{static_cast<unsigned short>(filter.size()),
                     const_cast<sock_filter*>(filter.data())};
  if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program, 0, 0) != 0) {
    child.Fail(kFilter);
  }
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

// In the starter: maps the child's ids, and sends it an idmapped mount of the shared directory.
ErrorOr<Ok> HandOverSharedDir(pid_t pid, const SharedDir& dir, int control) {
  const std::string map =
      "0 " + std::to_string(kVirtiofsdIdBase) + " " + std::to_string(kVirtiofsdIdRange) + "\n";
  for (const char* file : {"uid_map", "gid_map"}) {
    if (auto w = WriteProcFile(pid, file, map); !w) {
      return Error{"cannot map virtiofsd's user ids: " + w.error().message};
    }
  }
  std::string userns_path = "/proc/" + std::to_string(pid) + "/ns/user";
  os::UniqueFd userns(::open(userns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!userns.valid()) {
    return Error{"cannot open " + userns_path + ": " + ErrnoText(errno)};
  }
  // Only the directory's own mount, not what is mounted below it: the guest is given one file
  // system, and a mount below could be anything of the host's.
  os::UniqueFd tree(static_cast<int>(
      ::open_tree(AT_FDCWD, dir.source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)));
  if (!tree.valid()) {
    return Error{"cannot bind `" + dir.source.string() + "`: " + ErrnoText(errno)};
  }
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  if (dir.idmap) {
    attr.attr_set |= MOUNT_ATTR_IDMAP;
    attr.userns_fd = static_cast<uint64_t>(userns.get());
  }
  if (dir.read_only) {
    // Set here, in the host's user namespace, it is locked: virtiofsd cannot remount it writable.
    attr.attr_set |= MOUNT_ATTR_RDONLY;
  }
  if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) {
    if (!dir.idmap) {
      return Error{"cannot set the attributes of `" + dir.source.string() +
                   "`'s mount for virtiofsd: " + ErrnoText(errno)};
    }
    return Error{"cannot create an idmapped mount of `" + dir.source.string() +
                 "`: " + ErrnoText(errno) +
                 "; virtiofsd serves a read-write volume only through one, so put it on a file "
                 "system that supports idmapped mounts (ext4, xfs, btrfs, or tmpfs on Linux 6.3 "
                 "and later)"};
  }
  if (agent::SendWithFd(control, "t", tree.get()) != 1) {
    return Error{"cannot hand virtiofsd its mount: " + ErrnoText(errno)};
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
  int control_pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, control_pair) != 0) {
    return Error{"cannot start virtiofsd: socketpair: " + ErrnoText(errno)};
  }
  os::UniqueFd control(control_pair[0]);
  os::UniqueFd child_control(control_pair[1]);

  backends::HelperSpec spec;
  spec.role = "confined virtiofsd";
  spec.program = kVirtiofsd;
  spec.argv = VirtiofsdArgv(dir, 3);
  spec.fds = {listen_fd};
  spec.output = log_fd;
  // Its own user namespace (mapped by `prepare`), pid namespace (nothing else to signal), mount
  // namespace (the shared directory and a scratch /tmp), an empty network namespace, IPC, UTS and
  // cgroup.
  spec.namespaces = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC |
                    CLONE_NEWUTS | CLONE_NEWCGROUP;
  spec.setup = [control = child_control.get(), &point_names](const backends::HelperChild& child) {
    MountItsWorld(child, control, point_names);
  };
  spec.confine = [&filter](const backends::HelperChild& child) { InstallFilter(child, *filter); };
  spec.steps = StepNames();
  spec.missing_hint = "install the Debian package qemu-system-common";
  spec.prepare = [&](pid_t pid) -> ErrorOr<Ok> {
    // The child's end goes, so that the child sees EOF should this process die before sending.
    child_control.Reset();
    return HandOverSharedDir(pid, dir, control.get());
  };
  auto helper = backends::StartHelper(spec);
  if (!helper) {
    return helper.error();
  }
  return helper->process.pid();
}

}  // namespace mvm::runtime::qemu_microvm
