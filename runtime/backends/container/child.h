#ifndef MVM_RUNTIME_BACKENDS_CONTAINER_CHILD_H_
#define MVM_RUNTIME_BACKENDS_CONTAINER_CHILD_H_

// The sandbox's side of Start: everything PID 1 does between clone3 and the exec of init. The
// parent prepares a ChildPlan of plain data first, because the child may not allocate: the caller
// can have threads, and one of them may have held the malloc lock at the moment of the clone.

#include <linux/filter.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "ir/support/error_or.h"
#include "runtime/backends/container/container.h"

namespace mvm::runtime::container {

/// One step of the child's file-system setup, applied in order below the new root.
struct ChildMount {
  enum class Kind {
    kAttach,  ///< move_mount a detached mount the parent prepared (fd_index) onto target
    kFresh,   ///< fsopen/fsconfig/fsmount a new file system (fs_type, options, attrs) onto target
  };
  Kind kind = Kind::kAttach;
  std::string target;         ///< relative to the new root: "proc", "dev/pts", "app/hello.py"
  bool target_is_dir = true;  ///< what to create when target is missing
  size_t fd_index = 0;        ///< kAttach
  std::string fs_type;        ///< kFresh
  /// kFresh: fsconfig keys and string values, e.g. {"size", "64m"}.
  std::vector<std::pair<std::string, std::string>> options;
  uint64_t attrs = 0;  ///< kFresh: MOUNT_ATTR_* of the new mount
  std::string what;    ///< the step for error messages: "mount proc at /proc"
};

/// A mount the parent opens on the host (open_tree) and passes to the child.
struct HostSource {
  std::filesystem::path path;
  uint64_t attrs = 0;  ///< MOUNT_ATTR_* set on the detached mount
  bool idmap = false;  ///< map host ids through the sandbox's user namespace
  /// Set: the source is this entry of the sandbox's staging tmpfs (staged_files), not `path`.
  std::string staged;
  /// Set: the source is the sandbox's /dev, which the parent makes (kDevNodes), not `path`.
  bool dev = false;
};

/// The sandbox's /dev, which the parent makes in a tmpfs of the host's user namespace (a device
/// node opens only on such a file system, not on one the sandbox's namespace mounted) and the
/// child attaches read-only, in one mount: copies of these host nodes (same device numbers and
/// modes), the links of kDevLinks, and kDevMountPoints for devpts and the /dev/shm tmpfs.
inline constexpr const char* kDevNodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
struct DevLink {
  const char* name;    ///< below /dev
  const char* target;  ///< what it points at
};
inline constexpr DevLink kDevLinks[] = {{"ptmx", "pts/ptmx"},
                                        {"fd", "/proc/self/fd"},
                                        {"stdin", "/proc/self/fd/0"},
                                        {"stdout", "/proc/self/fd/1"},
                                        {"stderr", "/proc/self/fd/2"}};
inline constexpr const char* kDevMountPoints[] = {"pts", "shm"};

/// An entry of the sandbox's private staging tmpfs, which the parent fills before the clone and
/// from which it binds: a copy of a host file or tree (`copy_from`), or `contents`.
struct StagedFile {
  std::string name;  ///< a plain file name in the staging tmpfs, e.g. "s3"
  std::filesystem::path copy_from;
  std::string contents;
};

/// Host-wide /proc files a sandbox reads in place of the host's: the kernel command line and
/// boot id fingerprint the host, interrupts name its hardware, loadavg and meminfo describe the
/// whole machine. Each is replaced by a neutral or sandbox-sized text (BuildChildPlan).
inline constexpr const char* kMaskedProcFiles[] = {
    "/proc/cmdline",    "/proc/version",    "/proc/loadavg",
    "/proc/meminfo",    "/proc/interrupts", "/proc/sys/kernel/random/boot_id",
    "/proc/timer_list", "/proc/keys",       "/proc/sched_debug"};

/// Limits of the sandbox's own user namespace (`/proc/sys/user/*` inside it). A sandbox's
/// inotify instances and watches count, up the namespace tree, against the user that created its
/// namespace (host root): without these, one sandbox could take all of root's 128 instances.
/// Namespace counts are 0 because nothing in a sandbox may create namespaces (the seccomp filter
/// says so too). Written after the child's last unshare.
struct UserNamespaceLimit {
  const char* file;  ///< below /proc/sys/user/
  const char* value;
};
inline constexpr UserNamespaceLimit kUserNamespaceLimits[] = {
    {"max_inotify_instances", "16"}, {"max_inotify_watches", "8192"}, {"max_fanotify_groups", "0"},
    {"max_fanotify_marks", "0"},     {"max_user_namespaces", "0"},    {"max_mnt_namespaces", "0"},
    {"max_pid_namespaces", "0"},     {"max_net_namespaces", "0"},     {"max_ipc_namespaces", "0"},
    {"max_uts_namespaces", "0"},     {"max_cgroup_namespaces", "0"},  {"max_time_namespaces", "0"}};
/// Pending signals and POSIX message queue bytes are rlimits charged the same way; the hard limit
/// is set too, and nothing in the sandbox can raise it again.
inline constexpr uint64_t kSigPendingLimit = 4096;
inline constexpr uint64_t kMessageQueueBytes = 256u << 10;

/// At most this many host mounts per sandbox: what one SCM_RIGHTS message carries (SCM_MAX_FD).
inline constexpr size_t kMaxSources = 253;

/// Everything the child needs, in memory it inherits through the clone.
struct ChildPlan {
  std::string hostname;
  std::string rootfs;  ///< host path, for error messages
  std::string init;    ///< host path, for error messages
  int init_fd = -1;    ///< opened by the parent: exec'd with execveat, never mounted
  int stdout_fd = -1;  ///< Spec::stdout_fd (-1: /dev/null)
  /// SandboxCgroups::OpenJoinFiles, written by the child; closed with the other unlisted fds.
  std::vector<int> cgroup_fds;
  /// Filled into the staging tmpfs by the parent; the child never reads it.
  std::vector<StagedFile> staged_files;
  std::string overlay_options;  ///< lowerdir/upperdir/workdir in the staging tmpfs
  std::vector<ChildMount> mounts;
  /// sources[0] is the rootfs; ChildMount::fd_index points into this list.
  std::vector<HostSource> sources;
  std::vector<int> keep_fds;     ///< sorted: 0, 1, 2, inherit_fds and the control socket
  std::vector<int> inherit_fds;  ///< kept open across the exec
  int death_signal = 0;
  bool init_switches_users = false;  ///< Spec::init_switches_users
  std::vector<std::string> argv_storage;
  std::vector<std::string> envp_storage;
  std::vector<char*> argv;  ///< into argv_storage, null-terminated
  std::vector<char*> envp;
  std::vector<sock_filter> seccomp;
  /// Filled by the parent's side with the numbers the received fds get; sized sources.size().
  std::vector<int> received_fds;
};

/// Where the child mounts its staging tmpfs (in its own mount namespace, so the host's /tmp is not
/// touched). As bubblewrap does: a directory that exists and is searchable on every host.
inline constexpr const char* kStagingDir = "/tmp";

/// Builds the plan for `spec` (already validated) with the compiled seccomp program.
ChildPlan BuildChildPlan(const Spec& spec, std::vector<sock_filter> seccomp);

/// What the child tells the parent over the control socket.
struct ChildReport {
  enum Kind : uint32_t {
    kMounted = 1,    ///< the new root is in place
    kExecuting = 2,  ///< hardened; execve comes next
    kFailed = 3,     ///< `step` failed with `error` (an errno value); the child exits
  };
  uint32_t kind = 0;
  int32_t error = 0;
  int64_t at_ns = 0;  ///< CLOCK_MONOTONIC when sent: the child's own timing, for Timings
  char step[1000] = {};
};

/// Runs in the child right after clone3: waits for the parent's go (with the detached mounts), sets
/// up the sandbox and execs init. Never returns; reports a failure on `control_fd` and exits.
[[noreturn]] void RunChild(ChildPlan& plan, int control_fd);

}  // namespace mvm::runtime::container

#endif  // MVM_RUNTIME_BACKENDS_CONTAINER_CHILD_H_
