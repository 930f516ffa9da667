#include "runtime/backends/container/seccomp_filter.h"

#include <fcntl.h>
#include <linux/netlink.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <memory>
#include <set>
#include <string>
#include <system_error>

#include "ir/support/check.h"
#include "ir/support/os/errno_text.h"

namespace mvm::runtime::container {

namespace {

// clang-format off
// Packed by hand: clang-format would give each name a line of its own. Grouped by what needs
// them; the comments say why the less obvious ones are safe.
constexpr const char* kAllowed[] = {
    // Files and directories.
    "read", "write", "openat2", "close", "close_range", "stat", "fstat",
    "lstat", "newfstatat", "statx", "statfs", "fstatfs", "lseek", "pread64", "pwrite64", "readv",
    "writev", "preadv", "pwritev", "preadv2", "pwritev2", "access", "faccessat", "faccessat2",
    "truncate", "ftruncate", "fallocate", "fsync", "fdatasync", "sync", "syncfs", "sync_file_range",
    "flock", "fcntl", "dup", "dup2", "dup3", "getdents", "getdents64", "getcwd", "chdir", "fchdir",
    "rename", "renameat", "renameat2", "rmdir", "link", "linkat", "unlink",
    "unlinkat", "symlink", "symlinkat", "readlink", "readlinkat", "chown", "fchown", "lchown", "fchownat", "umask", "utime", "utimes", "utimensat",
    "futimesat", "readahead", "fadvise64", "sendfile", "copy_file_range",
    "splice", "tee", "vmsplice", "setxattr", "lsetxattr", "fsetxattr", "getxattr", "lgetxattr",
    "fgetxattr", "listxattr", "llistxattr", "flistxattr", "removexattr", "lremovexattr",
    "fremovexattr", "inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch",
    "memfd_create", "cachestat",
    // Memory.
    "brk", "mmap", "munmap", "mremap", "mprotect", "msync", "mincore", "madvise", "mlock", "mlock2",
    "munlock", "mlockall", "munlockall", "membarrier", "pkey_mprotect", "pkey_alloc", "pkey_free",
    "get_mempolicy", "set_mempolicy", "mbind", "map_shadow_stack",
    // Processes and threads (clone is conditional, below).
    "fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid", "getpid",
    "getppid", "gettid", "getpgid", "setpgid", "getpgrp", "getsid", "setsid", "set_tid_address",
    "set_robust_list", "get_robust_list", "rseq", "futex", "futex_waitv", "arch_prctl", "prctl",
    "sched_yield", "sched_setparam", "sched_getparam", "sched_setscheduler", "sched_getscheduler",
    "sched_get_priority_max", "sched_get_priority_min", "sched_rr_get_interval",
    "sched_setaffinity", "sched_getaffinity", "sched_setattr", "sched_getattr", "getpriority",
    "setpriority", "getrlimit", "setrlimit", "prlimit64", "getrusage", "times", "uname", "sysinfo",
    "getcpu", "getrandom", "pidfd_open", "pidfd_send_signal",
    // Only ever narrows what the caller may do: stacking filters, Landlock rulesets.
    "seccomp", "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
    // Credentials: the sandbox has no capabilities left, so these can only drop privileges.
    "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups", "setuid",
    "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setfsuid", "setfsgid", "setgroups",
    "capget", "capset",
    // Signals.
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigtimedwait",
    "rt_sigqueueinfo", "rt_tgsigqueueinfo", "rt_sigsuspend", "sigaltstack", "kill", "tkill",
    "tgkill", "pause", "restart_syscall", "signalfd", "signalfd4",
    // Time.
    "nanosleep", "clock_nanosleep", "clock_gettime", "clock_getres", "gettimeofday", "time",
    "alarm", "getitimer", "setitimer", "timer_create", "timer_settime", "timer_gettime",
    "timer_getoverrun", "timer_delete", "timerfd_create", "timerfd_settime", "timerfd_gettime",
    // Waiting and events.
    "poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1", "epoll_ctl",
    "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2", "pipe", "pipe2",
    // Sockets: the network namespace has nothing but lo; socket and socketpair are conditional.
    "connect", "accept", "accept4", "bind", "listen", "shutdown",
    "getsockname", "getpeername", "setsockopt", "getsockopt", "sendto", "recvfrom", "sendmsg",
    "recvmsg", "sendmmsg", "recvmmsg",
    // ioctl: TIOCSTI into a host terminal needs that terminal to be the caller's controlling
    // one, and PID 1 starts a session of its own without one.
    "ioctl",
    // System V and POSIX IPC, private to the sandbox's ipc namespace; Linux AIO.
    "shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop", "semctl", "msgget",
    "msgsnd", "msgrcv", "msgctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive",
    "mq_notify", "mq_getsetattr", "io_setup", "io_destroy", "io_getevents", "io_pgetevents",
    "io_submit", "io_cancel",
};
// clang-format on

// clang-format off
constexpr const char* kDenied[] = {
    // Mounts, old API and new: the sandbox's file system view is fixed at start.
    "mount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig", "fsmount", "fspick",
    "move_mount", "open_tree", "mount_setattr",
    // Namespaces: no nested sandboxes, no joining others.
    "unshare", "setns",
    // Other processes' memory and handles.
    "ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "pidfd_getfd", "kcmp",
    // The kernel itself.
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "bpf",
    "perf_event_open", "iopl", "ioperm", "modify_ldt", "lookup_dcookie", "uselib", "sysfs", "ustat",
    "_sysctl", "nfsservctl", "syslog", "acct", "quotactl", "quotactl_fd", "fanotify_init",
    "fanotify_mark", "userfaultfd", "migrate_pages", "move_pages",
    // The kernel keyring is not namespaced.
    "keyctl", "add_key", "request_key",
    // Bypasses path-based access control.
    "open_by_handle_at", "name_to_handle_at",
    // Host-wide state.
    "swapon", "swapoff", "reboot", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
    "sethostname", "setdomainname", "vhangup",
    // io_uring runs operations outside the syscall path this filter sees.
    "io_uring_setup", "io_uring_enter", "io_uring_register",
};
// clang-format on

// `(argument & mask) == value`; a mask of 0 ends the list.
struct ArgTest {
  unsigned arg = 0;
  uint64_t mask = 0;
  uint64_t value = 0;
};
// One allow rule: the call is allowed when every test of some rule holds.
struct ConditionalRule {
  const char* name;
  ArgTest tests[2];
};

constexpr uint64_t kLow32 = 0xffffffff;
constexpr uint64_t kSetId = S_ISUID | S_ISGID;
// O_TMPFILE without O_DIRECTORY: the bit that makes open create an unnamed file.
constexpr uint64_t kCreates = O_CREAT | (O_TMPFILE & ~O_DIRECTORY);

// Socket families are an allow-list: AF_VSOCK, for one, shares the host's port space and would
// bypass any network policy, and every other family is kernel code no workload here needs.
// Netlink only for routes and socket diagnostics (ip, ss, getifaddrs).
//
// No set-uid or set-gid bit can be set or created: in a read-write volume a file the sandbox's
// root owns is host root's, and a set-uid copy of a shell there would be a root shell for anyone
// on the host. The mode of open and openat is only read when they create a file, so the calls
// that create nothing pass whatever their mode register holds.
constexpr ConditionalRule kConditional[] = {
    {"socket", {{0, kLow32, AF_UNIX}}},
    {"socket", {{0, kLow32, AF_INET}}},
    {"socket", {{0, kLow32, AF_INET6}}},
    {"socket", {{0, kLow32, AF_NETLINK}, {2, kLow32, NETLINK_ROUTE}}},
    {"socket", {{0, kLow32, AF_NETLINK}, {2, kLow32, NETLINK_SOCK_DIAG}}},
    {"socketpair", {{0, kLow32, AF_UNIX}}},
    {"chmod", {{1, kSetId, 0}}},
    {"fchmod", {{1, kSetId, 0}}},
    {"fchmodat", {{2, kSetId, 0}}},
    {"fchmodat2", {{2, kSetId, 0}}},
    {"creat", {{1, kSetId, 0}}},
    {"mkdir", {{1, kSetId, 0}}},
    {"mkdirat", {{2, kSetId, 0}}},
    {"mknod", {{1, kSetId, 0}}},
    {"mknodat", {{2, kSetId, 0}}},
    {"open", {{1, kCreates, 0}}},
    {"open", {{2, kSetId, 0}}},
    {"openat", {{2, kCreates, 0}}},
    {"openat", {{3, kSetId, 0}}},
};

constexpr uint64_t kNamespaceFlags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
                                     CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP;
// personality(2) may only query or set plain Linux, not e.g. READ_IMPLIES_EXEC or
// ADDR_NO_RANDOMIZE.
constexpr uint64_t kPersonalityQuery = 0xffffffff;
constexpr uint64_t kPersonalityLinux = 0;

using os::ErrnoText;

struct CtxDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};

}  // namespace

std::span<const char* const> AllowedSyscalls() { return kAllowed; }
std::span<const char* const> DeniedSyscalls() { return kDenied; }

ErrorOr<std::vector<sock_filter>> BuildSeccompProgram(bool setid_files) {
  if (seccomp_arch_native() != SCMP_ARCH_X86_64) {
    return Error{"the container backend's seccomp filter supports x86_64 hosts only"};
  }
  std::unique_ptr<void, CtxDeleter> ctx(seccomp_init(SCMP_ACT_ERRNO(EPERM)));
  if (!ctx) {
    return Error{"seccomp_init failed (out of memory?)"};
  }
  auto check = [](int rc, std::string_view what) -> ErrorOr<Ok> {
    if (rc < 0) {
      return Error{"building the seccomp filter: " + std::string(what) + ": " + ErrnoText(-rc)};
    }
    return Ok{};
  };
  if (auto r = check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS),
                     "bad-architecture action");
      !r) {
    return r.error();
  }
  // A binary tree of syscall numbers rather than a list: fewer instructions for every call the
  // sandbox makes, and for the kernel's per-syscall cache it computes when the filter is loaded.
  if (auto r = check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2), "optimize level");
      !r) {
    return r.error();
  }
  auto add = [&](uint32_t action, const char* name, unsigned count,
                 const scmp_arg_cmp* args) -> ErrorOr<Ok> {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) {
      return Ok{};  // newer than this libseccomp: the default action covers it
    }
    return check(seccomp_rule_add_array(ctx.get(), action, nr, count, args), name);
  };
  for (const char* name : kAllowed) {
    if (auto r = add(SCMP_ACT_ALLOW, name, 0, nullptr); !r) {
      return r.error();
    }
  }
  // The denied calls get the default action; libseccomp refuses rules that repeat it. What keeps
  // them denied is that nobody adds them to the allow-list.
  std::set<std::string_view> allowed(std::begin(kAllowed), std::end(kAllowed));
  for (const char* name : kDenied) {
    MVM_CHECK(allowed.count(name) == 0);
  }
  // {argument, operator, operand, operand}; SCMP_A0 is a C compound literal.
  const scmp_arg_cmp no_namespaces[] = {{0, SCMP_CMP_MASKED_EQ, kNamespaceFlags, 0}};
  const scmp_arg_cmp query[] = {{0, SCMP_CMP_EQ, kPersonalityQuery, 0}};
  const scmp_arg_cmp linux_only[] = {{0, SCMP_CMP_EQ, kPersonalityLinux, 0}};
  for (auto r : {add(SCMP_ACT_ALLOW, "clone", 1, no_namespaces),
                 add(SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, nullptr),
                 add(SCMP_ACT_ALLOW, "personality", 1, query),
                 add(SCMP_ACT_ALLOW, "personality", 1, linux_only)}) {
    if (!r) {
      return r.error();
    }
  }
  // A call with any rule about set-id modes is allowed outright when they are: one unconditional
  // rule, as libseccomp takes no conditional rule beside it.
  std::vector<std::string_view> unconditional;
  for (const ConditionalRule& rule : kConditional) {
    const bool about_setid = std::any_of(std::begin(rule.tests), std::end(rule.tests),
                                         [](const ArgTest& test) { return test.mask == kSetId; });
    if (setid_files && about_setid &&
        std::find(unconditional.begin(), unconditional.end(), rule.name) == unconditional.end()) {
      unconditional.push_back(rule.name);
      if (auto r = add(SCMP_ACT_ALLOW, rule.name, 0, nullptr); !r) {
        return r.error();
      }
    }
  }
  for (const ConditionalRule& rule : kConditional) {
    if (std::find(unconditional.begin(), unconditional.end(), rule.name) != unconditional.end()) {
      continue;
    }
    scmp_arg_cmp cmp[2];
    unsigned count = 0;
    for (const ArgTest& test : rule.tests) {
      if (test.mask != 0) {
        cmp[count++] = {test.arg, SCMP_CMP_MASKED_EQ, test.mask, test.value};
      }
    }
    if (auto r = add(SCMP_ACT_ALLOW, rule.name, count, cmp); !r) {
      return r.error();
    }
  }

  // libseccomp 2.5 exports only to a file descriptor.
  int fd = memfd_create("mvm-seccomp", MFD_CLOEXEC);
  if (fd < 0) {
    return Error{"building the seccomp filter: memfd_create: " + ErrnoText(errno)};
  }
  std::vector<sock_filter> program;
  int rc = seccomp_export_bpf(ctx.get(), fd);
  off_t size = lseek(fd, 0, SEEK_END);
  if (rc == 0 && size > 0 && size % sizeof(sock_filter) == 0) {
    program.resize(static_cast<size_t>(size) / sizeof(sock_filter));
    if (pread(fd, program.data(), static_cast<size_t>(size), 0) != size) {
      program.clear();
    }
  }
  close(fd);
  if (program.empty()) {
    return Error{"building the seccomp filter: exporting the BPF program failed" +
                 (rc < 0 ? ": " + ErrnoText(-rc) : std::string())};
  }
  return program;
}

}  // namespace mvm::runtime::container
