#ifndef MVM_RUNTIME_LAUNCHER_INTERNAL_H_
#define MVM_RUNTIME_LAUNCHER_INTERNAL_H_

// Shared by the launcher's own files (launcher.cc, pool.cc), not part of its interface.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "ir/support/error_or.h"
#include "ir/support/os/unique_fd.h"
#include "runtime/agent/client.h"
#include "runtime/egress/settings.h"
#include "runtime/launcher/launcher.h"
#include "runtime/volumes/volume.h"
#include "runtime/volumes/volume_audit.h"

namespace mvm::runtime {

namespace internal {

// Every launcher file works with paths and with the monotonic clock (timeouts, timings), and
// brings this namespace in, so the aliases are declared once here.
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

/// Where a function-form workload's Python SDK is mounted in the sandbox.
inline constexpr std::string_view kSdkMount = "/.mvm/sdk/python";
/// `<sandbox dir>/<this>`: the checked copies of the plan's project files, staged at /app.
inline constexpr std::string_view kProjectFilesDir = "app";

/// True when the sandbox gets mvm's Python SDK at kSdkMount (and PYTHONPATH names it): an
/// entrypoint runs a function of its declaring file (`python3 -m mvm.run`), or host files are
/// staged besides the plan's.
bool UsesPythonSdk(const plan::v1::ExecutionPlan& p, const StartOptions& start);
inline constexpr uint32_t kPidsMax = 1024;

/// The root filesystem a sandbox starts from: a tree and its digest, and for an `oci:` image what
/// its configuration says every command gets.
struct ResolvedRootfs {
  fs::path dir;
  std::string digest;
  std::optional<SandboxRecord::Image> image;
};

/// An `oci:` image's tree from the image cache (<state>/images), pulled first when it is not
/// there, and re-hashed against the digest taken when it was unpacked. Audits image-cache-hit or
/// the pull's events, and image-verify when the tree no longer matches (then an Error).
ErrorOr<ResolvedRootfs> ResolveOciRootfs(const LauncherOptions& options,
                                         const plan::v1::Artifact& artifact, audit::Log& audit);

/// Why a plan may not run here: the stage and reason of its `refuse` audit record, and the message.
struct PlanRefusal {
  std::string stage;
  std::string reason;
  std::string message;
};

/// Admit's first step: the signature under a trusted key, the validity window by the system clock,
/// and the dev key's limit to dev-profile plans. Records nothing.
std::variant<plan::VerifiedPlan, PlanRefusal> VerifyForLauncher(const LauncherOptions& options,
                                                                std::string_view plan_bytes);

/// Admit's second step: what this backend cannot enforce. Records nothing.
std::optional<PlanRefusal> CheckPolicy(const LauncherOptions& options,
                                       const plan::v1::ExecutionPlan& plan);

/// Admit's third step, after the replay-independent checks: whether each secret the plan names may
/// be released to it (it exists, its hosts are https rules of the plan, and a production-profile
/// plan holds a grant for its workload and signer), filling `released`. Records nothing.
std::optional<PlanRefusal> CheckSecrets(const LauncherOptions& options,
                                        const plan::VerifiedPlan& verified,
                                        std::vector<SecretRelease>& released);

/// One `secret-release` audit record per secret of `admitted` (names, never values), for sandbox
/// `sandbox`, started or claimed from warm pool `pool` (empty: none).
void AuditSecretReleases(audit::Log& audit, const std::string& sandbox,
                         const AdmittedPlan& admitted, const std::string& pool);

double MillisSince(std::chrono::steady_clock::time_point start);

/// Times a start's steps into PhaseTimings::start_steps (none without timings): each Mark books
/// the time since the previous Mark (or Skip, or the construction) to its step.
class StepClock {
 public:
  explicit StepClock(PhaseTimings* timings);
  /// Books the time since the last mark to `step`, added to what it had.
  void Mark(std::string_view step);
  /// Mark, less `phases_ms` of that time which phases account for: for a call that holds phases
  /// beside a step (the backend's start: namespaces and agent ready, and its agent socket).
  void MarkPart(std::string_view step, double phases_ms);
  /// Starts over without booking: the time since the last mark belongs to a phase.
  void Skip();

 private:
  PhaseTimings* timings_;
  std::chrono::steady_clock::time_point last_;
};

/// Six random hex digits, for default sandbox names.
std::string RandomSuffix();

/// `<workload id>-<RandomSuffix()>`, the id shortened so that the name stays a valid sandbox name.
std::string DefaultSandboxName(std::string_view workload_id);

/// Signals the process a record names, if it is still that process.
bool SignalRecord(const SandboxRecord& record, int signal);

/// Waits until the record's process is gone; false if it is still there after `limit`.
bool WaitGone(const SandboxRecord& record, std::chrono::milliseconds limit);

/// In a sandbox's state directory: the signed plan it was admitted with (for one claimed from a
/// warm pool, the claimer's), and how it was started besides ({"app_files":[[sandbox path, host
/// path]...],"project_root","payload_digest"}), which a snapshot takes along so that `mvmctl
/// restore` can admit the plan again and start the same (restore.h).
inline constexpr std::string_view kPlanFile = "plan.dsse";
inline constexpr std::string_view kStartFile = "start.json";

/// Writes kPlanFile and kStartFile of sandbox `name` (owner-only). A failure is noted, not fatal:
/// the sandbox runs, only its snapshots cannot be restored.
void KeepStartMaterial(const LauncherOptions& options, const std::string& name,
                       const AdmittedPlan& admitted, const StartOptions& start);

/// Resumes the sandbox if its record says it is paused, before it is stopped or killed: a cgroup v1
/// freezer holds even SIGKILL until its tasks are thawed, and a stopped agent answers no shutdown.
void ThawIfPaused(const StateDir& state, const SandboxRecord& record);

/// Removes what may be left of a sandbox after its processes are gone: what any backend keeps for
/// `instance` (Backend::Cleanup) and the state directory of `name`.
void RemoveTraces(const StateDir& state, std::string_view name, std::string_view instance);

/// RemoveTraces under the sandbox's lock, then removes the lock file too; for callers that do not
/// hold the lock already.
void RemoveSandbox(const StateDir& state, std::string_view name, std::string_view instance);

/// Locks `name` for a new sandbox: refused while a sandbox of that name runs; what a dead one left
/// (a record, or a directory whose record is unreadable) is removed first.
ErrorOr<SandboxLock> LockNameForNewSandbox(const StateDir& state, const std::string& name);

/// Starts the parent-death watchdog of sandbox `name` (see launcher.cc); returns the write end of
/// its pipe and its pid. With `unconfirmed`, returns before the child has placed its descriptors
/// and hands back its report pipe for backends::ConfirmHelper; without, waits for that.
ErrorOr<std::pair<int, pid_t>> StartWatchdog(const StateDir& state, const std::string& name,
                                             os::UniqueFd* unconfirmed = nullptr);

/// The helper side of StartPoolDaemon (pool_daemon.cc), run by RunHelperIfAsked: its
/// configuration comes on fd 3, its answer goes to fd 4.
int RunPoolDaemon();

/// Whether the plan lets the sandbox reach anything: an allow rule or `dns`.
bool AllowsEgress(const plan::v1::ExecutionPlan& p);

/// "https api.example.com, http mirror.example.org, dns", or "none".
std::string DescribeNetwork(const plan::v1::Network& network);

/// What a sandbox's egress helper needs for its secrets: their names, tokens and hosts (it reads
/// the values from the store itself, so they never pass through the launcher), and the sandbox's
/// CA to terminate TLS to their hosts with.
struct EgressSecrets {
  std::vector<egress::SecretSetting> secrets;
  egress::SandboxCa ca;
};

/// `<sandbox>/egress-ca.sealed`: a microVM's egress CA, sealed (secrets/stream.h) with the host
/// secret store's "egressca" key. A full snapshot of the VM carries it, as the restored guest
/// trusts that CA and no other, and its certificate cannot be replaced in a running guest.
inline constexpr char kSealedEgressCaFile[] = "egress-ca.sealed";

/// `ca` sealed with the store's key, as kSealedEgressCaFile holds it.
ErrorOr<std::string> SealEgressCa(const StateDir& state, const egress::SandboxCa& ca);
/// The CA that SealEgressCa sealed; an Error when it does not open with this host's store.
ErrorOr<egress::SandboxCa> OpenEgressCa(const StateDir& state, std::string_view sealed);

}  // namespace internal

/// A pooled sandbox's way out and secrets, kept by the pool process so that a claim can end the
/// egress helper that served the sandbox while it waited and start one with the claimer's fresh
/// tokens on the same sockets (a token per claim, never one a previous holder could have seen).
struct PooledEgress {
  backends::EgressEndpoints endpoints;  ///< duplicates of the sockets the first helper took
  plan::v1::Network network;
  internal::EgressSecrets secrets;  ///< the CA stays: its certificate is in the sandbox already
};

namespace internal {

/// `endpoints` with their sockets duplicated (close-on-exec), or the errno of the failed dup.
ErrorOr<backends::EgressEndpoints> DuplicateEndpoints(const backends::EgressEndpoints& endpoints);

/// Starts sandbox `name`'s egress helper (egress_helper.cc) on the sockets of `endpoints`, which
/// it takes, with the verified plan's `network` and `secrets`. With secrets, returns once the
/// helper has read their values (or with its Error when it could not). `fixed_hosts` become
/// egress::Settings::fixed_hosts.
ErrorOr<backends::HelperRecord> StartEgressHelper(
    const LauncherOptions& options, const std::string& name, const plan::v1::Network& network,
    const EgressSecrets& secrets, backends::EgressEndpoints& endpoints,
    const std::map<std::string, std::vector<std::string>>& fixed_hosts, bool dies_with_caller);

/// Before a stop: one `service-stop` audit record per service the sandbox runs, with what its
/// agent reports (phase, restarts, last exit); nothing for a sandbox without services.
void AuditServicesAtStop(const SandboxRecord& record, agent::Client& agent, audit::Log& audit);

/// The ports helper (services.cc): relays connections on descriptors 3, 4, … to the guest ports
/// `guest` names in the same order, each through an agent Tunnel of sandbox `name`.
int RunPortsHelper(const StateDir& state, const std::string& name, const std::vector<int>& guest);

/// A fresh CA for sandbox `name` (egress::MakeSandboxCa), made by `mvm-egress`
/// (`options.egress_binary`), so that the launcher does not load OpenSSL.
ErrorOr<egress::SandboxCa> MakeSandboxCa(const LauncherOptions& options, const std::string& name);

/// What moves OpenSSL's default trust store (SSL_CTX_set_default_verify_paths), which the egress
/// helper's fixed environment takes along from the launcher's.
inline constexpr const char* kEgressTrustVariables[] = {"SSL_CERT_FILE", "SSL_CERT_DIR"};

/// A declared volume as the volume contract mounted it for a sandbox (start.cc).
struct AttachedVolume {
  std::string label;   ///< "kind:source" (a memory volume's target), as audit records name it
  std::string target;  ///< where the sandbox sees it
  volumes::MountedView view;
};

/// Starts sandbox `name`'s volume-audit helper (volume_watch.cc) when `volumes` hold ones it can
/// watch on a backend with `caps` (runtime/volumes/mount_watch.h), `sandbox_pid` being the pid
/// Start returned; returns once it watches them; nothing when there are none.
ErrorOr<std::optional<backends::HelperRecord>> StartVolumeWatch(
    const StateDir& state, const std::string& name, const std::vector<AttachedVolume>& volumes,
    const backends::Capabilities& caps, pid_t sandbox_pid, bool dies_with_caller);

/// A volume a guest's agent counts: its label in the audit records, its path in the guest.
struct GuestVolume {
  std::string label, target;
};

/// Records one answer of a guest's agent about `volumes` into `audit` (whose records say who
/// reported them), as sandbox `sandbox`'s: the first answer the attach of each volume (how the
/// guest watches it) and nothing else, a later one the counts. The answer is the guest's word, so
/// only the targets in `volumes` and the five operations of a mounted volume count, and its text
/// goes in as at most 200 printable ASCII bytes.
void RecordGuestAnswer(volumes::VolumeAudit& audit, const std::string& sandbox,
                       const std::vector<GuestVolume>& volumes,
                       const std::vector<agent::GuestVolumeOps>& answer, bool first);

/// The helper side of StartVolumeWatch: `volumes` holds, per volume, its label, how its reads and
/// writes are watched (volumes::WatchAccessName), the root its path resolves in (or "-") and the
/// path.
int RunVolumeWatchHelper(const StateDir& state, const std::string& name,
                         const std::vector<std::string>& volumes);

/// The volume-audit helper of a sandbox whose mounts are made in its guest (the microVM), ended
/// (TerminateHelpers) while the guest's agent still answers, so that it collects the agent's last
/// counts; called by a stop before it shuts the agent down. Nothing where the host kernel mounts
/// the volumes (the container), which are watched on the host to the end.
void EndGuestVolumeAudit(const SandboxRecord& record);

/// Sends SIGTERM to `record`'s helpers of `roles` and waits (at most a second each) until they have
/// ended, so that they write what their audit aggregation holds.
void TerminateHelpers(const SandboxRecord& record, std::initializer_list<std::string_view> roles);

/// Ends a sandbox's recorded helpers but its watchdog: the egress and volume-audit helpers first
/// with SIGTERM (so they write their audit counts; at most a second), then every one with SIGKILL.
void EndHelpers(const SandboxRecord& record);

/// Tells the watchdog its job is done; it exits at once, and is reaped by a later disarm in this
/// process, or by whoever inherits it when this process exits first (it is not waited for).
void DisarmWatchdog(int& fd, pid_t& pid);

/// The record of a sandbox this process just started as `name`, `pid` being its PID 1 (or qemu).
SandboxRecord NewRecord(const LauncherOptions& options, const AdmittedPlan& admitted,
                        const StartOptions& start, const std::string& name, pid_t pid,
                        const std::string& rootfs_digest);

/// The sandbox's state directory with its run directory (the agent's socket), owner-only.
ErrorOr<Ok> MakeSandboxDirs(const StateDir& state, const std::string& name);

}  // namespace internal

/// What the launcher's files do with a Sandbox's insides.
struct SandboxAccess {
  /// Start's second half (start.cc), called with the sandbox's lock held and its root filesystem
  /// resolved: starts it on `backend`, records and audits it.
  static ErrorOr<Sandbox> StartOn(const backends::Backend& backend, const LauncherOptions& options,
                                  const AdmittedPlan& admitted, const StartOptions& start,
                                  audit::Log& audit, PhaseTimings* timings, const std::string& name,
                                  const internal::ResolvedRootfs& rootfs);

  /// A running sandbox this process did not start (claimed from a pool): `pidfd` refers to the
  /// record's process; `watchdog` is the claimer's own (fd -1 when detached).
  static Sandbox Adopt(SandboxRecord record, int pidfd, agent::Client agent,
                       std::pair<int, pid_t> watchdog);

  /// What a pool keeps of a sandbox it hands over: the pidfd of its own child (PID 1 or the VM's
  /// supervisor), to reap it when it ends. Drops the agent connection and disarms the watchdog.
  static int HandOver(Sandbox& sandbox);

  static SandboxRecord& Record(Sandbox& sandbox) { return sandbox.record_; }
  /// A claim of pooled sandbox `sandbox` as `name`: its egress helper restarted with fresh tokens
  /// (PooledEgress), `record`'s helpers and tokens updated; a no-op for a sandbox without secrets.
  static ErrorOr<Ok> RetokenForClaim(Sandbox& sandbox, const LauncherOptions& options,
                                     const std::string& name, SandboxRecord& record);
  static int Pidfd(const Sandbox& sandbox) { return sandbox.process_.pidfd(); }
};

}  // namespace mvm::runtime

#endif  // MVM_RUNTIME_LAUNCHER_INTERNAL_H_
