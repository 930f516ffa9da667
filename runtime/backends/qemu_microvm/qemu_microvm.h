#ifndef MVM_RUNTIME_BACKENDS_QEMU_MICROVM_QEMU_MICROVM_H_
#define MVM_RUNTIME_BACKENDS_QEMU_MICROVM_QEMU_MICROVM_H_

// The microVM backend: `qemu-system-x86_64 -M microvm`, PVH boot of runtime/guest's vmlinux and
// initramfs (the guest agent is init), the template's ext4 image on virtio-mmio block (read-only),
// an optional per-sandbox extras image, one virtio-fs device per read-write volume, the agent
// protocol over one virtio-serial port, and no NIC unless the plan allows egress: then one
// virtio-net device whose host side is a tap in a network namespace of its own where only mvm's
// egress proxy and resolver answer (OpenVmNetwork; docs/architecture/microvm-egress.md).
//
// Process structure. The launcher forks a supervisor process per VM; the supervisor listens on the
// sandbox's agent socket (the path the container backend uses, so agent::Client does not change),
// starts qemu with the other end of a socketpair as the port's chardev, and multiplexes its clients
// onto the port (runtime/agent/mux.h). qemu runs confined (StartConfinedQemu: a uid of its own, no
// capabilities, its -sandbox filter, its own namespaces) and reaches host files only through the
// descriptors the supervisor gives it; the supervisor keeps the console and qemu's output in
// bounded files (KeepBoundedLog). qemu dies with the supervisor (PR_SET_PDEATHSIG) and, unless
// detached, the supervisor dies with the launcher; the supervisor exits when qemu does. A
// read-write volume is served by a virtiofsd the supervisor starts, confined, before qemu, which
// dies with the supervisor the same way (StartConfinedVirtiofsd).

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ir/support/error_or.h"
#include "runtime/agent/client.h"
#include "runtime/backends/backend.h"
#include "runtime/guest/guest.h"

namespace mvm::runtime::qemu_microvm {

/// Which accelerator a VM runs on and why; shown by `-v` and audited.
struct Acceleration {
  std::string name;    ///< "kvm" or "tcg"
  std::string reason;  ///< one line, e.g. "/dev/kvm opens but a test boot did not finish"
};

/// A host directory shared read-write with the guest over virtio-fs.
struct SharedDir {
  std::filesystem::path source;  ///< the host directory virtiofsd serves (and is chrooted into)
  std::string tag;               ///< the virtio-fs tag the guest mounts, e.g. "mvm-vfs0"
  std::filesystem::path socket;  ///< the vhost-user socket, in the sandbox's state directory
  /// Served through an idmapped mount (host files mapped into virtiofsd's ids). False for a FUSE
  /// mount, which the kernel cannot idmap: its files already have host ids in virtiofsd's range
  /// (kVirtiofsdIdBase is its root).
  bool idmap = true;
  bool read_only = false;  ///< the mount handed to virtiofsd is read-only, locked by the host
};

/// How a VM ended, as its supervisor saw it on the host.
struct VmExit {
  /// The guest sent bytes on the agent port that are not the mux protocol: a guest whose root
  /// replaced the in-guest end. The supervisor then killed qemu.
  bool protocol_broken = false;
  std::string protocol_error;  ///< what was wrong, when protocol_broken
  int qemu_wait_status = 0;    ///< qemu's waitpid status
};

/// What to start.
struct Spec {
  std::string name;  ///< the sandbox name: the guest's hostname
  std::filesystem::path kernel;
  std::filesystem::path initramfs;
  std::filesystem::path root_image;
  std::optional<std::filesystem::path> extras_image;
  std::vector<SharedDir> shared_dirs;
  uint32_t cpus = 1;
  /// The workload's memory limit (the guest's workload cgroup); the VM gets kGuestOverheadMb more
  /// for the guest kernel, the initramfs and the agent.
  uint32_t memory_mb = 512;
  uint32_t pids_max = 1024;
  uint32_t tmp_mb = 64;
  std::filesystem::path agent_socket;  ///< where the supervisor listens
  std::filesystem::path console_log;   ///< the guest's serial console
  std::filesystem::path qemu_log;      ///< qemu's and virtiofsd's output, bounded as the console
  std::string accel = "tcg";
  bool detached = false;
  /// The tap of the VM's link to its egress proxy and resolver (VmNetwork::tap), or -1 for no NIC.
  /// The caller's: it stays open in the caller, and the supervisor hands qemu a copy.
  int tap_fd = -1;
  /// Where the supervisor's pid and start time are written the moment it exists (a detached VM's:
  /// backends::kProcessFile); empty for none.
  std::filesystem::path process_file;
  /// Where the supervisor listens for pause, resume and snapshot requests (control.h); empty for
  /// none (the KVM probe).
  std::filesystem::path control_socket;
  /// Start from this migration stream (a full snapshot's memory and device state) instead of
  /// booting: qemu's `-incoming`. The rest of the spec must describe the VM the stream came from.
  /// Borrowed: it stays open in the caller, and the supervisor hands qemu a copy. -1: boot.
  int incoming_fd = -1;
  /// Called in the supervisor process (a fork of the caller) once qemu, its virtiofsds and the
  /// port have ended, with how; may be empty. The launcher audits it: the supervisor outlives any
  /// `mvmctl` of a detached VM, so only it sees every end.
  std::function<void(const VmExit&)> on_exit;
};

inline constexpr uint32_t kGuestOverheadMb = 96;

/// The host's TSC rate in kHz (measured once per process).
uint64_t HostTscKhz();

/// The guest kernel's command line for `accel`, without the mvm.* parameters.
std::string KernelCommandLine(const std::string& accel);

/// qemu runs as uid and gid QemuId(owner), where `owner` is the pid of the process that starts it
/// and outlives it (the VM's supervisor; the launcher for the KVM probe). Pids are unique among
/// live processes, so no two running VMs share an id, and none can signal, trace or read the
/// memory of another. The ids are in no /etc/passwd and own no file; the container backend's range
/// (container::kHostIdBase) is far below.
inline constexpr uid_t kQemuIdBase = 0x40000000;
inline uid_t QemuId(pid_t owner) { return kQemuIdBase + static_cast<uid_t>(owner); }

/// The VMM, found on PATH.
inline constexpr char kQemu[] = "qemu-system-x86_64";

/// qemu's own seccomp filter (`-sandbox`): besides its default deny list (mount, reboot, swap,
/// kexec, syslog, ...), obsolete system calls, set*uid/set*gid and the like, fork and execve, and
/// scheduler and priority changes are refused.
inline constexpr char kQemuSandbox[] =
    "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny";

/// The descriptors a confined qemu is given instead of paths it could not open, by the numbers
/// qemu sees them at (StartConfinedQemu places them from 3 up).
struct QemuFds {
  int kernel = -1;        ///< read-only; named /proc/self/fd/N (qemu's loader takes a file name)
  int initramfs = -1;     ///< likewise
  int root_image = -1;    ///< read-only; fd set 1 of -add-fd, named /dev/fdset/1
  int extras_image = -1;  ///< read-only; fd set 2; -1 when Spec::extras_image is unset
  int console = -1;   ///< a connected socket; the supervisor keeps what arrives (KeepBoundedLog)
  int agent = -1;     ///< the port's trunk socket
  int tap = -1;       ///< the NIC's tap (Spec::tap_fd); -1: no NIC
  int qmp = -1;       ///< a connected socket: qemu's monitor, in control mode; -1: none
  int incoming = -1;  ///< read-only: the migration stream of Spec::incoming; -1: boot
  std::vector<int> shared_dirs;  ///< per Spec::shared_dirs: a socket connected to its virtiofsd
};

/// The options every qemu of this backend starts with: the microvm machine under `accel` (and
/// `machine_extra`, e.g. ",memory-backend=mem"), `memory_mb` of RAM, no default devices, no user
/// configuration, no display, no reboot, and qemu's own seccomp filter (kQemuSandbox).
std::vector<std::string> QemuBaseArgv(const std::string& accel, const std::string& machine_extra,
                                      const std::string& memory_mb);

/// The qemu command line for `spec` with the descriptors `fds`. Paths in `spec` appear only as
/// the fd sets' `opaque` labels (so `ps` still says which images a qemu has).
std::vector<std::string> QemuArgv(const Spec& spec, const QemuFds& fds);

/// Starts qemu (`argv`, from QemuArgv) confined: uid and gid QemuId(getpid()) with no
/// supplementary groups, every capability set empty (the bounding set too), no_new_privs, new pid,
/// mount, network, IPC, UTS and cgroup namespaces, a /proc of its own, a /dev of null, zero, full,
/// random, urandom (and, when `kvm`, a /dev/kvm owned by its uid), and every mount read-only.
/// `inherit[i]` becomes its fd 3 + i, `log_fd` its stdout and stderr (/dev/null when -1), and
/// nothing else of the caller's is open in it: these descriptors are all it can reach of the host's
/// files. qemu dies with the caller (PR_SET_PDEATHSIG). Returns qemu's pid once it has exec'd, or
/// the step that failed.
ErrorOr<pid_t> StartConfinedQemu(const std::vector<std::string>& argv,
                                 const std::vector<int>& inherit, int log_fd, bool kvm);

/// The bounds of console.log and qemu.log: the first kConsoleHeadBytes and, after a marker naming
/// how much was dropped, at least the last kConsoleTailBytes (at most twice that between
/// compactions).
inline constexpr size_t kConsoleHeadBytes = 256 * 1024;
inline constexpr size_t kConsoleTailBytes = 256 * 1024;
/// The most console.log or qemu.log ever holds.
inline constexpr size_t kConsoleMaxBytes = kConsoleHeadBytes + 2 * kConsoleTailBytes + 96;

/// Copies what arrives on `fd` (a guest's console; qemu's and virtiofsd's output) into `log`
/// (created, or truncated) until EOF, within the bounds above: a guest that makes it write without
/// end leaves at most kConsoleMaxBytes. The marker says "N bytes of `what` dropped here". When the
/// tail is cut, `log` is rewritten beside itself and renamed, so a reader sees a whole file, old or
/// new.
void KeepBoundedLog(int fd, const std::filesystem::path& log, std::string_view what);

/// Debian's virtiofsd (package qemu-system-common, which qemu-system-x86 depends on).
inline constexpr char kVirtiofsd[] = "/usr/lib/qemu/virtiofsd";

/// virtiofsd's user namespace maps its ids 0..kVirtiofsdIdRange-1 to host ids from
/// kVirtiofsdIdBase, and it sees the shared directory through a mount idmapped the same way: a file
/// owned by host root is its root's, and a file its root makes is host root's, as the guest
/// expects, but virtiofsd holds no capability over anything else of the host. The range owns no
/// host file; it lies between the container backend's (container::kHostIdBase) and qemu's
/// (kQemuIdBase). Files whose owner is outside 0..kVirtiofsdIdRange-1 show as the overflow id.
inline constexpr uid_t kVirtiofsdIdBase = 0x30000000;
inline constexpr uint32_t kVirtiofsdIdRange = 65536;

/// Where virtiofsd sees the shared directory in its mount namespace: kVirtiofsdMountBase followed
/// by the host path, e.g. /tmp/mvm-virtiofs/srv/data, so that `ps` says what it serves.
inline constexpr char kVirtiofsdMountBase[] = "/tmp/mvm-virtiofs";
std::string VirtiofsdMountPoint(const std::filesystem::path& source);

/// The virtiofsd command line serving `dir` on the listening socket `listen_fd`.
std::vector<std::string> VirtiofsdArgv(const SharedDir& dir, int listen_fd);

/// Starts virtiofsd (VirtiofsdArgv) serving `dir` on `listen_fd` (bound and listening, so qemu's
/// connect waits in the backlog until virtiofsd accepts), confined: new user (root is host uid
/// kVirtiofsdIdBase, no supplementary groups), pid, mount, network (empty), IPC, UTS and cgroup
/// namespaces; in its mount namespace a scratch tmpfs on /tmp and `dir.source` attached below it
/// through an idmapped, nosuid, nodev mount of that directory alone (not the mounts below it); a
/// seccomp filter of ours that refuses set-uid and set-gid modes, mknod (device, FIFO and socket
/// nodes) and setxattr; no_new_privs. virtiofsd then chroots into the directory and drops to its
/// few capabilities, which are its namespace's. `log_fd` is its stdout and stderr (/dev/null when
/// -1). It dies with the caller (PR_SET_PDEATHSIG). Returns its pid once it has exec'd, or the
/// step that failed. Needs root (it maps ids and makes an idmapped mount).
ErrorOr<pid_t> StartConfinedVirtiofsd(const SharedDir& dir, int listen_fd, int log_fd);

/// The link of a VM whose plan allows egress: a /30 between the host side (the gateway, where
/// the resolver answers on port 53 and every TCP connection the guest opens is redirected to the
/// proxy on kEgressProxyPort) and the guest's eth0. 198.19.255.252/30 is the top of the
/// benchmarking range whose bottom, 198.18.0.0/15, holds the resolver's sandbox-side addresses
/// (runtime/egress/resolver.h), which hands out addresses from 198.18.0.2 up and so never reaches
/// it; the egress proxy refuses every address of that range upstream.
inline constexpr char kEgressHostAddress[] = "198.19.255.253";
inline constexpr char kEgressGuestAddress[] = "198.19.255.254";
inline constexpr int kEgressPrefix = 30;
inline constexpr int kEgressProxyPort = 15001;
/// The tap's name in its namespace.
inline constexpr char kEgressTap[] = "mvm-tap";

/// The guest's `mvm.net=` parameter (runtime/agent/init.cc): its address, prefix and gateway.
std::string GuestNetParameter();

/// A VM's way out, made before its qemu starts.
struct VmNetwork {
  /// The tap's queue, for qemu's `-netdev tap,fd=`; the device (and its addresses) lasts as long
  /// as some copy of this descriptor is open.
  os::UniqueFd tap;
  /// The proxy's and the resolver's sockets, in the tap's namespace, for the egress helper.
  backends::EgressEndpoints endpoints;
};

/// Makes a network namespace of its own (from a thread of this process, which ends there, so the
/// caller's namespace is untouched) holding one tap with kEgressHostAddress, no route beyond its
/// link, no forwarding, and nftables rules the guest cannot reach: every TCP connection arriving
/// on the tap is redirected to the proxy's listener, UDP to kEgressHostAddress port 53 reaches
/// the resolver's socket, and every other packet (other UDP, ICMP, IPv6, TCP to anywhere but the
/// proxy) is dropped. Needs root (CAP_NET_ADMIN, CAP_NET_BIND_SERVICE) and nf_tables with NAT.
ErrorOr<VmNetwork> OpenVmNetwork();

/// A started VM. A plain value: whoever holds it owns `supervisor_pidfd`.
struct Vm {
  pid_t supervisor_pid = -1;  ///< the launcher's child; reap it to learn the VM ended
  int supervisor_pidfd = -1;
  pid_t qemu_pid = -1;  ///< the sandbox's process as records and `ps` name it
};

/// Forks the supervisor and qemu; returns once qemu has been exec'd (not booted: the agent socket
/// answers when the guest is ready). An Error when qemu is not installed or cannot start.
ErrorOr<Vm> Start(const Spec& spec);

/// The last `lines` lines of the console log and of qemu's own log, for boot-failure messages.
std::string FailureTail(const Spec& spec, size_t lines);

/// The boot time the guest's init reports on the console ("agent listening at boot+N ms"), or
/// nullopt when it has not yet.
std::optional<double> GuestReadyBootMs(const std::filesystem::path& console_log);

/// Picks the accelerator: KVM only when `/dev/kvm` opens and `probe_boot` (a real test boot under
/// KVM, run at most once per `cache_file`) succeeded; else TCG. `MVM_QEMU_ACCEL=tcg|kvm` forces
/// one. The probe's result is cached in `cache_file`, keyed by the host kernel release.
Acceleration ChooseAcceleration(const std::filesystem::path& cache_file,
                                const std::function<bool()>& probe_boot);

/// Per-phase wall-clock timings of a boot, in ms since the boot began (so a harness can read them).
struct BootTimings {
  double process_spawned_ms = 0;  ///< qemu exec'd
  /// The guest kernel started: the agent-ready time less the guest's CLOCK_BOOTTIME when its agent
  /// began listening (what the guest's init prints on the console).
  double kernel_entered_ms = 0;
  double agent_ready_ms = 0;  ///< the guest agent answered Hello through the port
  int attempts = 0;           ///< 2 when the watchdog killed a stuck first boot
};

/// A booted VM and a connection to its agent.
struct Booted {
  Vm vm;
  agent::Client agent;
};

/// Starts the VM and waits for its agent. A boot that has not reached the agent within `timeout`
/// is killed and tried once more; a VM that ends during boot is not retried (it would fail the
/// same way). Every failure's Error carries the console's (and qemu's) last lines. `note` (may be
/// empty) hears about a retry.
ErrorOr<Booted> Boot(const Spec& spec, std::chrono::milliseconds timeout, BootTimings* timings,
                     const std::function<void(std::string_view)>& note);

/// A real test boot: `kernel` and `initramfs` under `accel`, with the init told to report and power
/// off at once; true when that report reached the console within `timeout`. `scratch` holds the
/// console log.
bool ProbeBoot(const std::filesystem::path& kernel, const std::filesystem::path& initramfs,
               const std::string& accel, const std::filesystem::path& scratch,
               std::chrono::milliseconds timeout);

/// True when `qemu-system-x86_64` is on PATH.
bool QemuAvailable();

/// This backend, for the registry (runtime/backends/registry.cc).
const backends::Backend& TheBackend();

}  // namespace mvm::runtime::qemu_microvm

#endif  // MVM_RUNTIME_BACKENDS_QEMU_MICROVM_QEMU_MICROVM_H_
