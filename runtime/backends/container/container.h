#ifndef MVM_RUNTIME_BACKENDS_CONTAINER_CONTAINER_H_
#define MVM_RUNTIME_BACKENDS_CONTAINER_CONTAINER_H_

// The container backend: Linux namespaces, an overlay over a shared read-only rootfs, pivot_root,
// a seccomp allow-list, dropped capabilities and cgroup limits around one PID 1.
//
// Why raw system calls rather than bubblewrap or crun: start cost is a few milliseconds only when
// nothing is spawned besides PID 1 and no OCI bundle is written and parsed, and the ordering the
// security argument rests on (cgroup membership before exec, id maps written by the privileged
// parent, idmapped mounts created on the host side, PR_SET_PDEATHSIG armed after the last
// credential change, seccomp last) is only ours to guarantee when every step is ours. Each step
// reports its own failure text, so an error names exactly what the kernel refused.

#include <linux/filter.h>
#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/support/error_or.h"
#include "runtime/backends/backend.h"

namespace mvm::runtime::container {

/// Sandbox uid/gid 0..kIdRange-1 are host ids kHostIdBase..kHostIdBase+kIdRange-1. Every sandbox
/// uses the same range: sandboxes never share a pid, network or ipc namespace and see no host
/// object writable by that range besides what is mounted into them, so a per-sandbox offset would
/// buy little and would make files in shared volumes change owner from run to run.
inline constexpr uid_t kHostIdBase = 100000;
inline constexpr uint32_t kIdRange = 65536;

/// One mount inside the sandbox, applied after the built-in ones and in order.
struct Mount {
  enum class Kind { kBind, kTmpfs };
  Kind kind = Kind::kBind;
  /// kBind: host file or directory. Bound through an idmapped mount, so files owned by host root
  /// appear owned by the sandbox's root (and what it writes lands on the host as root's).
  std::filesystem::path source;
  /// Absolute path inside the sandbox; created (directories, or an empty file for a file source)
  /// when the rootfs lacks it. No "." or ".." components.
  std::string target;
  bool read_only = true;  ///< kBind only; tmpfs mounts are writable
  uint32_t size_mb = 64;  ///< kTmpfs
  /// kBind, read-only only: Start copies the source into the sandbox's private staging tmpfs and
  /// binds the copy, so the sandbox sees the contents as they were at Start and nothing of where
  /// they live on the host (a bind shows its host path in /proc/self/mountinfo). For small trees:
  /// the copy costs memory and time at every Start.
  bool stage = false;
  /// kBind, not staged: bound through an idmapped mount (above). False for a source whose files
  /// already show the sandbox's ids as owners (a FUSE mount with a forced owner), which the kernel
  /// cannot idmap.
  bool idmap = true;
};

/// cgroup limits of the whole sandbox. All must be at least 1.
struct Limits {
  uint32_t cpu = 1;          ///< CPUs worth of quota (cfs_quota = cpu * period)
  uint32_t memory_mb = 512;  ///< hard limit, no swap
  uint32_t pids_max = 512;
};

/// What to start.
struct Spec {
  /// [a-z0-9][a-z0-9-]{0,62}: the hostname and the cgroup leaf "mvm-<name>". Unique among the
  /// sandboxes that exist at the same time on the host.
  std::string name;
  /// Prepared root directory; shared and cached, so it is never written to: the sandbox sees it
  /// through an overlay whose upper layer is private memory, mounted read-only.
  std::filesystem::path rootfs;
  /// Host path of a static binary exec'd as PID 1 from a file descriptor: it is not mounted, so
  /// nothing in the sandbox names or reaches the host file.
  std::filesystem::path init;
  /// argv[1..]; argv[0] is the file name of `init` ("busybox", "mvm-agent"). The environment is
  /// PATH only.
  std::vector<std::string> init_args;
  /// PID 1's stdout and stderr (a host file or pipe the caller owns; Start does not close it); -1
  /// gives it /dev/null. Its stdin is always /dev/null: never the caller's terminal.
  int stdout_fd = -1;
  std::vector<Mount> mounts;
  Limits limits;
  uint32_t tmp_size_mb = 64;  ///< tmpfs at /tmp
  bool network = false;  ///< true is refused with an Error: this backend has no egress support yet
  /// PR_SET_PDEATHSIG for PID 1, relative to the thread calling Start (so that thread must outlive
  /// the sandbox); 0 = none (detached).
  int parent_death_signal = SIGKILL;
  /// Host fds passed to PID 1 at the same numbers; every other fd except 0, 1 and 2 is closed.
  std::vector<int> inherit_fds;
  /// PID 1 keeps CAP_SETUID and CAP_SETGID (and no other capability), as ambient capabilities, so
  /// that the guest agent can run a command as an image's User: it drops both for every command
  /// (runtime/agent/exec.cc), and becoming a non-zero uid clears them in any case. Within the
  /// sandbox's user namespace they reach only its own 65536 mapped ids. False: PID 1 has none.
  bool init_switches_users = false;
  /// Lifts the seccomp filter's set-id rule (BuildSeccompProgram): only for the builder sandbox's
  /// Debian builds.
  bool setid_files = false;
};

/// How PID 1 ended: exit_code for a normal exit, signal (and exit_code 0) when killed.
struct ExitStatus {
  int exit_code = 0;
  int signal = 0;
};

/// A started sandbox. A plain value: whoever holds it owns `pidfd` and closes it.
struct Sandbox {
  pid_t pid = -1;  ///< host pid of PID 1
  int pidfd = -1;  ///< pidfd of PID 1 (owned by the holder)
  std::string name;
  std::vector<std::filesystem::path> cgroup_dirs;  ///< one per controller (v1) or one (v2)
  /// Filled by the Wait that reaped PID 1, so later Waits return the same status.
  std::optional<ExitStatus> exit_status;
};

/// Per-phase wall-clock cost of Start in microseconds, for the launcher's -v and the benchmark.
struct Timings {
  uint32_t clone_us = 0;  ///< clone3 (new namespaces) and writing the id maps
  /// From opening the host mounts to the child's new root being in place (the child's clock).
  uint32_t mounts_us = 0;
  /// Creating the cgroups and their limits, plus moving PID 1 in; the move runs while the child
  /// mounts, so this overlaps mounts_us.
  uint32_t cgroups_us = 0;
  /// From the new root being in place to init's exec: waiting for the cgroup move if it is not
  /// done yet, closing fds, dropping privileges, seccomp, execve.
  uint32_t exec_us = 0;
};

/// Starts the sandbox; returns once PID 1 has exec'd `init`. What PID 1 gets: its own user
/// (root = host kHostIdBase), mount, pid, network (lo only, up), ipc, uts (hostname = name) and
/// cgroup namespaces; "/" the rootfs through a read-only overlay; a new /proc whose host-wide
/// files (kMaskedProcFiles) are replaced by neutral ones; a /dev of null, zero, full, random,
/// urandom, tty, pts, shm and the fd/std* links; /tmp; then `mounts`; no /sys (host hardware and
/// kernel details nothing in a sandbox needs); all nosuid (and nodev, except the device nodes).
/// Its user namespace's own limits (kUserNamespaceLimits) and rlimits cap what it can take of
/// the per-user kernel counters that are charged to the namespace's creator, host root. Before
/// the exec: stdin /dev/null, fds closed but 0, 1, 2 and `inherit_fds`, a session of its own,
/// no_new_privs, locked securebits, every capability set empty, the seccomp filter
/// (seccomp_filter.h), then the parent-death signal.
///
/// An Error names the failing step and the kernel's reason; a step in the child arrives through a
/// close-on-exec error channel, e.g. "pivot_root into /var/lib/...: Invalid argument". Must run as
/// root. Forks with clone3 and starts no thread; on failure nothing is left behind (process,
/// cgroups). Another thread of the caller must not fork meanwhile: its child would hold Start's end
/// of the control socket, and PID 1 relies on that end closing to notice the caller's death before
/// the signal is armed.
ErrorOr<Sandbox> Start(const Spec& spec, Timings* timings = nullptr);

/// Waits for PID 1 to exit and reaps it, or for `timeout` to pass (then an Error "still running";
/// nothing is reaped). No timeout waits as long as it takes.
ErrorOr<ExitStatus> Wait(Sandbox& sandbox, std::optional<std::chrono::milliseconds> timeout);

/// Sends `signal` to PID 1 through its pidfd. Killing PID 1 kills the whole pid namespace. A PID 1
/// that has already exited is not an error.
ErrorOr<Ok> Kill(const Sandbox& sandbox, int signal);

/// Kills whatever is left in the sandbox's cgroups and removes them. Idempotent; works by name from
/// any process (`mvmctl gc`, the parent-death watchdog).
ErrorOr<Ok> RemoveCgroups(std::string_view name);

/// The number of OOM kills in the sandbox's memory cgroup so far (v1: memory.oom_control, v2:
/// memory.events, "oom_kill"). An Error once the cgroup is gone.
ErrorOr<uint64_t> OomKills(std::string_view name);

/// Freezes (`frozen`) or thaws every process of sandbox `name` through its freezer cgroup (v1
/// freezer, v2 cgroup.freeze), waiting until the kernel reports it done (cgroups.h,
/// SetCgroupFrozen). Works by name from any process.
ErrorOr<Ok> SetFrozen(std::string_view name, bool frozen);

/// What this host supports, for `mvmctl run -v` and the docs.
struct HostSupport {
  std::string cgroup_mode;  ///< "v2", "v1", "hybrid" (v1 controllers beside a v2 mount), or ""
  bool user_namespaces = false;
  bool seccomp = false;
  bool idmapped_mounts = false;  ///< on the filesystem of "/"
};

/// Probes the host by trying each feature in a short-lived child process.
HostSupport Probe();

/// An Error unless `name` matches [a-z0-9][a-z0-9-]{0,62}.
ErrorOr<Ok> CheckName(std::string_view name);

/// This backend, for the registry (runtime/backends/registry.cc).
const backends::Backend& TheBackend();

/// The seccomp filter every sandbox gets: BuildSeccompProgram's output (seccomp_filter.h) as mvm's
/// build compiled it (tools/seccomp_gen.cc), since compiling it cost about 1.5 ms of every launch
/// and it is the same for every sandbox. Empty on a host the filter does not support.
const std::vector<sock_filter>& EmbeddedSeccompProgram();

}  // namespace mvm::runtime::container

#endif  // MVM_RUNTIME_BACKENDS_CONTAINER_CONTAINER_H_
