#ifndef MVM_RUNTIME_BACKENDS_BACKEND_H_
#define MVM_RUNTIME_BACKENDS_BACKEND_H_

// What the launcher needs of a sandbox backend, and nothing of how the backend does it. A backend
// starts one sandbox whose PID 1 (or guest init) is the mvm agent, hands back a connected agent
// channel and the host process that owns the sandbox, and says what it can enforce, so that
// admission refuses what a backend cannot hold instead of running it weaker.
//
// Backends are listed in one place (registry.cc); adding one means adding its directory under
// runtime/backends/, a class implementing Backend, and one line there. docs/architecture/runtime.md
// draws how the launcher uses them.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ir/support/error_or.h"
#include "ir/support/os/unique_fd.h"
#include "runtime/agent/client.h"

namespace mvm::runtime::backends {

/// What a backend can enforce. Admission (runtime/launcher/admit.cc) refuses a plan that needs
/// more, naming the backend and the reason.
struct Capabilities {
  /// Holds isolation="microvm": a hardware-virtualised boundary around the workload.
  bool microvm_isolation = false;
  /// Empty when read-write local volumes can be served here; otherwise why not and what to do,
  /// as the rest of the sentence "workload `w` mounts `s` at `t` read-write, …".
  std::string read_write_volumes_refusal;
  /// Enforces a plan's egress allow-list: answers StartRequest::egress with Started::egress, a
  /// network whose only way out is mvm's resolver and proxy.
  bool egress = false;
  /// The out-of-memory kill count is measured on the host (a cgroup the host reads); otherwise the
  /// guest reports it, and the audit log says so.
  bool host_measures_oom = true;
  /// Takes full snapshots (memory and device state) and starts sandboxes from them
  /// (StartRequest::incoming).
  bool full_snapshots = false;
  /// Mounts FUSE-served volumes (the views runtime/volumes/volume.h's Mount makes of
  /// `Volume.encrypted` and `Volume.object`), which cannot be idmapped: the host uid (and gid) that
  /// is root inside the sandbox, which owns such a volume's root directory; its other files keep
  /// the host ids of the sandbox users who made them (SandboxMount::owned_by_sandbox). Unset where
  /// the backend cannot mount them; admission refuses those plans.
  std::optional<uint32_t> fuse_volume_owner;
  /// The sandbox's mounts are this kernel's, in a mount namespace reached through the PID that
  /// Start returns (`/proc/PID/root`): a host helper can watch what the workload does on its
  /// `local` binds and `memory` tmpfs (runtime/volumes/mount_watch.h). Unset: read-write `local`
  /// volumes are served by virtiofsd from the host directory, `memory` ones are in the guest's
  /// memory, and read-only `local` ones are copies.
  bool host_kernel_mounts = false;
  /// The sandbox ends when its agent (PID 1) exits, taking every process in it along: a run's
  /// last exec may ask the agent to exit when nothing else runs (agent::ExecRequest::
  /// end_when_idle), and the launcher then ends PID 1 without asking it to shut down.
  bool ends_with_agent = false;
};

/// Something the sandbox sees besides its root filesystem. A volume arrives here as the volume
/// contract mounted it (runtime/volumes/volume.h, MountedView): a backend never asks its kind.
struct SandboxMount {
  enum class Kind {
    kStagedFile,  ///< a host file or directory, read-only, as it was at the start
    kVolume,      ///< a host directory, live; read-only or read-write
    kMemory,      ///< a tmpfs of size_mb
  };
  Kind kind = Kind::kStagedFile;
  std::filesystem::path source;  ///< kStagedFile, kVolume: an existing host path
  std::string target;            ///< absolute path in the sandbox
  bool read_only = true;         ///< kVolume
  uint32_t size_mb = 64;         ///< kMemory
  /// kVolume: a FUSE mount whose files already have the host ids the sandbox's user namespace maps
  /// (Capabilities::fuse_volume_owner), bound as it is, without an idmapping.
  bool owned_by_sandbox = false;
  /// kVolume, read-only: host changes show in the sandbox (a microVM shares it over virtio-fs
  /// through a read-only mount instead of copying it at the start).
  bool live = false;
};

/// Whether the agent of a sandbox whose mounts are made in its guest (Capabilities::
/// host_kernel_mounts false: the microVM) counts the workload's operations on `mount`
/// (runtime/agent/volume_ops.h): its memory and local volumes. The FUSE views of encrypted and
/// object volumes (owned_by_sandbox) are the sandbox's alone and watched on the host.
inline bool GuestWatches(const SandboxMount& mount) {
  return mount.kind == SandboxMount::Kind::kMemory ||
         (mount.kind == SandboxMount::Kind::kVolume && !mount.owned_by_sandbox);
}

/// A full snapshot to start from instead of a fresh boot (runtime/launcher/full_snapshot.h).
/// Descriptors rather than paths, so that what the VMM loads is what the caller checked: a file
/// swapped in under the same name after the check is never opened. Borrowed: they stay open until
/// Start returns.
struct IncomingSnapshot {
  int memory_fd = -1;  ///< the VMM's saved memory and device state, read from offset 0
  /// The read-only extras image the sandbox had when it was taken (its guest may hold pages of it
  /// in its page cache), read from offset 0; -1 for none.
  int extras_fd = -1;
  std::string acceleration;  ///< the accelerator it ran on: its state loads only under the same
};

/// `<sandbox_dir>/process.pid`: "<pid> <start time>\n" of the host process that owns a sandbox
/// whose owner does not die with its launcher (a detached start), written by the backend as soon
/// as that process exists. The launcher's watchdog ends it from there when the launcher dies
/// before the sandbox is recorded.
inline constexpr char kProcessFile[] = "process.pid";

/// One sandbox to start. Paths are the launcher's: the state directory layout is its business.
struct StartRequest {
  std::string name;                    ///< the sandbox name (hostname, instance name)
  std::filesystem::path sandbox_dir;   ///< owner-only, exists: logs and the backend's own files
  std::filesystem::path agent_socket;  ///< where the host reaches the agent
  std::filesystem::path guest_cache;   ///< for backends that build boot files, shared by sandboxes
  std::filesystem::path agent_binary;  ///< the static mvm agent
  std::filesystem::path rootfs_dir;    ///< the root filesystem tree (read-only, shared)
  std::string rootfs_digest;           ///< its TreeDigest
  uint32_t cpus = 1;
  uint32_t memory_mb = 512;
  uint32_t pids_max = 1024;
  std::vector<SandboxMount> mounts;
  /// The sandbox dies with the calling process by the kernel's hand (PR_SET_PDEATHSIG); false for
  /// detached sandboxes and for a warm pool's, which are handed to other processes.
  bool dies_with_caller = true;
  /// Fill Started::description (some backends probe the host for it).
  bool describe = false;
  /// The plan allows egress: give the sandbox a network whose only way out is the sockets of
  /// Started::egress (and a resolv.conf that names its resolver). Only for a backend whose
  /// capabilities().egress is true.
  bool egress = false;
  /// Start from this snapshot instead of booting; only for a backend whose
  /// capabilities().full_snapshots is true. `mounts` must be the snapshotted sandbox's.
  std::optional<IncomingSnapshot> incoming;
  /// Progress lines for the user's terminal (long steps: building boot files).
  std::function<void(std::string_view)> note;
  /// LauncherOptions::progress and ::terminal_note, or empty.
  std::function<void(std::string_view)> progress;
  std::function<void(std::string_view)> terminal_note;
  /// Called, in whichever host process watches the sandbox, when it ends by itself rather than by
  /// the launcher's hand, with the fields of a `vm-exit` audit record. Backends whose sandbox has
  /// no watcher of its own never call it.
  std::function<void(const nlohmann::json& fields)> on_exit;
  /// Let the sandbox create set-id files (the container backend's seccomp filter refuses it
  /// otherwise): only for the builder sandbox's Debian builds, whose dpkg installs set-id programs.
  bool setid_files = false;
  /// The caller's first agent request follows at once (`run`'s exec): the backend may return
  /// Started::agent with Hello sent and its answer read with that request's
  /// (agent::Client::HelloAnswer::kWithFirstRequest), so that the agent's start overlaps the
  /// launcher's own work. A broken agent is then that request's Error rather than Start's.
  bool first_request_follows = false;
};

/// The host process that owns a sandbox: killing it ends the sandbox, and it is reaped (or, when
/// another process's child, watched) to learn that the sandbox ended. Owns `pidfd`.
class OwnedProcess {
 public:
  OwnedProcess() = default;
  /// `adopted`: not this process's child (a sandbox claimed from a warm pool), so Wait watches the
  /// pidfd instead of reaping.
  OwnedProcess(pid_t pid, int pidfd, bool adopted) : pid_(pid), pidfd_(pidfd), adopted_(adopted) {}
  OwnedProcess(OwnedProcess&& other) noexcept;
  OwnedProcess& operator=(OwnedProcess&& other) noexcept;
  ~OwnedProcess();

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_; }
  /// Gives up the pidfd (the caller owns it now).
  int Release();
  /// Sends `signal` through the pidfd, so a reused pid is never signalled.
  ErrorOr<Ok> Kill(int signal) const;
  /// Waits until the process has ended, reaping it when it is our child; an Error when it is still
  /// running after `timeout`.
  ErrorOr<Ok> Wait(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  int pidfd_ = -1;
  bool adopted_ = false;
  bool ended_ = false;
};

/// How long the backend's steps of a start took, in ms; zero where a backend has no such step.
struct StartTimings {
  double prepare_ms = 0;  ///< boot files, images, the accelerator choice (before any process)
  double spawn_ms = 0;    ///< to the sandbox's first process exec'd (PID 1, or the VMM)
  /// To the agent answering Hello: from PID 1's exec (container), from the start of the boot
  /// (microVMs: the readiness boundary of docs/perf/coldstart.md). With
  /// StartRequest::first_request_follows, a container's ends once Hello is sent.
  double agent_ready_ms = 0;
  double kernel_entered_ms = 0;  ///< microVMs: the guest kernel started
  int boot_attempts = 0;         ///< microVMs: 2 when a stuck first boot was retried
  std::string acceleration;      ///< microVMs: "kvm" or "tcg"
};

/// Where a sandbox's way out ends on the host side: sockets in the sandbox's network, made by the
/// backend, which the launcher hands to the sandbox's egress helper (runtime/egress/egress.h).
struct EgressEndpoints {
  /// A listening TCP socket: every TCP connection the sandbox opens to anything but its own
  /// loopback arrives here, with its original destination (SO_ORIGINAL_DST), and so do clients
  /// that use `proxy_url` as their HTTP proxy.
  os::UniqueFd proxy;
  /// A bound UDP socket at `resolver_address` port 53.
  os::UniqueFd dns;
  std::string resolver_address;  ///< what the sandbox's resolv.conf names
  std::string proxy_url;         ///< what HTTP_PROXY and HTTPS_PROXY say in the sandbox
};

/// A running sandbox as any process can name it from its record (runtime/launcher/state.h), for
/// the requests that come after its start (Pause, Resume): not the process that started it, which
/// may be gone (a detached sandbox).
struct SandboxRef {
  /// The name the backend knows it by (SandboxRecord::InstanceName): the container's cgroup leaf,
  /// the microVM's hostname.
  std::string instance;
  /// `<state>/sandboxes/<name>`, owner-only: the backend's own files (a microVM's control socket).
  std::filesystem::path sandbox_dir;
};

/// A started sandbox, as a backend hands it to the launcher.
struct Started {
  OwnedProcess process;
  /// The pid the sandbox's record names (`ps`, `stop` from another process): PID 1, or the VMM.
  pid_t record_pid = -1;
  agent::Client agent;
  StartTimings timings;
  /// Extra fields of the `launch` audit record (the accelerator, the guest kernel).
  nlohmann::json facts = nlohmann::json::object();
  /// Lines `-v` shows: which backend, how confined, with what (StartRequest::describe).
  std::vector<std::string> description;
  /// Set when StartRequest::egress asked for it.
  std::optional<EgressEndpoints> egress;
};

class Backend {
 public:
  virtual ~Backend() = default;
  /// The name `--backend` takes and records carry.
  virtual std::string_view name() const = 0;
  /// One line for `--backend` help: what isolates the workload.
  virtual std::string_view summary() const = 0;
  /// What this backend can enforce on this host, for this process.
  virtual Capabilities capabilities() const = 0;
  /// Starts the sandbox and connects to its agent. On failure nothing of the sandbox is left
  /// running; files in `sandbox_dir` are the caller's to remove.
  virtual ErrorOr<Started> Start(const StartRequest& request) const = 0;
  /// How many times the kernel killed a process of sandbox `instance` for its memory limit; read
  /// through `agent` when the guest keeps the count (capabilities().host_measures_oom false).
  virtual ErrorOr<uint64_t> OomKills(std::string_view instance, agent::Client& agent) const = 0;
  /// Stops every process of the sandbox where it is, the agent's included, without telling them,
  /// and returns once all of them are stopped. An Error when they are not within a bounded wait
  /// (a process stuck in the kernel); the sandbox then runs on as before. Pausing a paused sandbox
  /// is fine. Its processes keep their memory, files and connections; the clocks go on.
  virtual ErrorOr<Ok> Pause(const SandboxRef& sandbox) const = 0;
  /// Lets the processes of a paused sandbox run on from where they stopped, and returns once they
  /// do (bounded wait, as Pause). Resuming a running sandbox is fine.
  virtual ErrorOr<Ok> Resume(const SandboxRef& sandbox) const = 0;
  /// Removes what the backend keeps on the host for sandbox `instance` beyond its processes and
  /// state directory (cgroups); safe to call when there is nothing, and from any process.
  virtual void Cleanup(std::string_view instance) const = 0;
};

/// Every backend of this build, in the order `--backend` help lists them; the first is the default.
std::span<const Backend* const> All();
/// The backend named `name`, or an Error naming the ones there are.
ErrorOr<const Backend*> Find(std::string_view name);
/// "container|qemu-microvm": the names, for usage lines.
std::string NameList();
/// One line per backend, "<indent>name: summary\n", for `--backend` help.
std::string HelpList(size_t indent);

}  // namespace mvm::runtime::backends

#endif  // MVM_RUNTIME_BACKENDS_BACKEND_H_
