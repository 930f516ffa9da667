// Full snapshots of a microVM (`mvmctl snapshot NAME --full`, `mvmctl restore`): the guest's
// memory and device state as qemu saves it, with everything else the VM needs to continue from
// that moment, sealed by the host so that only what this host took, unchanged and still current,
// is ever loaded into a VM again. docs/snapshots.md describes what a snapshot holds, who can read
// it and the rules a restore checks.
#ifndef MVM_RUNTIME_LAUNCHER_FULL_SNAPSHOT_H_
#define MVM_RUNTIME_LAUNCHER_FULL_SNAPSHOT_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/support/error_or.h"
#include "ir/support/os/unique_fd.h"
#include "runtime/audit/audit.h"
#include "runtime/launcher/launcher.h"

namespace mvm::runtime {

/// The schema of a full snapshot's description.
inline constexpr std::string_view kFullSnapshotSchema = "mvm.full-snapshot/v1";
/// The key that seals full snapshots: `<state>/keys/launcher.key`, made on first use.
inline constexpr std::string_view kLauncherKeyName = "launcher";

/// One full snapshot: `<state>/snapshots/<sandbox>/<label>.full/`, a directory (mode 0700) of
/// files (mode 0600): `memory` (qemu's migration stream: guest RAM and device state), `plan.dsse`
/// (the signed plan the VM was admitted with), `extras.img` when the VM had one (its read-only
/// app files and volume copies), `egress-ca.sealed` when it had secrets (its egress CA, sealed
/// with the secret store's key), and `seal.json`: the description below and an Ed25519 signature
/// of it with the launcher key. Encrypted (`encrypted`), `memory` and `extras.img` are sealed
/// streams (runtime/secrets/stream.h) under the secret store's "snapshot" key; the digests are of
/// what is on disk, so a snapshot verifies without the key and opens only with it.
struct FullSnapshotInfo {
  struct File {
    std::string name;
    std::string sha256;  ///< hex
    uint64_t bytes = 0;
    friend bool operator==(const File&, const File&) = default;
  };
  std::string sandbox;
  std::string label;
  std::filesystem::path dir;
  /// The host's snapshot counter when it was sealed: strictly increasing over every full snapshot
  /// of this state directory, so a restore can tell the current seal of a label from an older one.
  uint64_t epoch = 0;
  std::string created_at;
  std::string workload_id;
  std::string payload_digest;  ///< of the plan in plan.dsse
  std::string rootfs;          ///< the root file system digest the VM ran on
  std::string backend;         ///< "qemu-microvm"
  std::string qemu_version;    ///< as qemu's monitor reported it
  std::string acceleration;    ///< "tcg" or "kvm": the state loads only under the same
  uint32_t memory_mb = 0;
  std::vector<File> files;  ///< every file of the directory but seal.json, by name
  std::string key_id;       ///< of the launcher key that sealed it
  uint64_t ram_bytes = 0;   ///< the guest RAM qemu accounted for
  double pause_ms = 0;      ///< how long the VM stood still for it (drain, stop, save, continue)
  std::string audit_id;     ///< of the "snapshot" record (empty when read back)
  bool encrypted = false;   ///< memory and extras image sealed at rest with the store's key
};

/// A full snapshot checked and opened for loading: descriptors of exactly the bytes that were
/// hashed (for an encrypted one, opened into sealed memory files), so that nothing put in the
/// directory after the check is ever loaded.
struct OpenedFullSnapshot {
  FullSnapshotInfo info;
  os::UniqueFd memory;
  os::UniqueFd extras;  ///< not valid when the VM had no extras image
  /// The VM's egress CA when it had secrets, opened with the store's key, and as it was sealed.
  std::optional<egress::SandboxCa> egress_ca;
  std::string egress_ca_sealed;
  /// The signed plan kept with it, read through the descriptor that was checked and hashed again
  /// as read: what is admitted is what the seal names, whatever is renamed into the directory or
  /// written over the file after the check.
  std::string plan;
};

/// Takes a full snapshot of the running microVM `sandbox` under `label` (empty: the UTC time),
/// its memory and extras image sealed at rest with the secret store's key when `encrypt` (the
/// plaintext then passes through memory only). The VM continues afterwards as it was (a paused VM
/// stays paused); clients of its agent lose their connections, as the port is drained first.
/// Refused for other backends and for labels in use. Written beside the sandbox's snapshots as
/// unnamed files first, so that a failure or a kill -9 at any point before the last rename leaves
/// no snapshot; audited as "snapshot" (kind "full").
ErrorOr<FullSnapshotInfo> TakeFullSnapshot(const LauncherOptions& options, std::string_view sandbox,
                                           std::string label, bool encrypt, audit::Log& audit);

/// Checks a full snapshot as a restore does, short of the plan: the seal's signature with this
/// host's launcher key, the description naming this sandbox and label, every file there and
/// nothing else, each file's size and SHA-256, and the epoch rule: a label restores only under the
/// seal this host made last for it (an older copy put back is a replay). It needs no secret store:
/// an encrypted snapshot's digests are of what is on disk. A failure is of kind
/// kVerificationFailed (exit 4); a snapshot that is not there, kNoSuchSnapshot.
ErrorOr<FullSnapshotInfo> VerifyFullSnapshot(const StateDir& state, std::string_view sandbox,
                                             std::string_view label);

/// VerifyFullSnapshot, keeping the files it checked open; an encrypted snapshot is opened with the
/// secret store's key too (refused, exit 4, when it does not open), and so is the egress CA.
ErrorOr<OpenedFullSnapshot> OpenFullSnapshot(const StateDir& state, std::string_view sandbox,
                                             std::string_view label);

/// The full snapshots of `sandbox` (empty: of every sandbox) as their descriptions say, without
/// checking them; unreadable ones are noted in `problems`.
std::vector<FullSnapshotInfo> ListFullSnapshots(const StateDir& state, std::string_view sandbox,
                                                std::vector<std::string>& problems);

/// Deletes a full snapshot and forgets its seal; audited as "snapshot-remove".
ErrorOr<Ok> RemoveFullSnapshot(const StateDir& state, std::string_view sandbox,
                               std::string_view label, audit::Log& audit);

/// How a restore went, for -v and the cold-start harness.
struct RestoreTimings {
  double verify_ms = 0;       ///< the seal and every file's digest
  double agent_ready_ms = 0;  ///< qemu started to the agent's Hello answered
  double refresh_ms = 0;      ///< the new identity (hostname, entropy, clock) applied
};

/// Starts sandbox `new_name` from a full snapshot: VerifyFullSnapshot, then the plan admitted again
/// (signature, expiry, trust, policy and replay: a plan its workload has since replaced by a newer
/// epoch is refused), the same root file system, then qemu started from the saved state. The new
/// VM gets its own identity: its name as hostname, fresh entropy for its kernel's random pool and
/// a reseeded CRNG, the host's time, and its own egress helper when its plan allows egress.
/// A snapshot of a VM with secrets restores with the VM's egress CA (its guest trusts that CA only)
/// and fresh tokens: what a process of the snapshot held stands for nothing in the copy.
/// Detached, like `mvmctl up`. Refusals are audited ("refuse", stage "restore") and of kind
/// kVerificationFailed.
///
/// A snapshot of a sandbox `up` served (its plan declares services or ports) is served again, as a
/// file snapshot's restore is: its ports are bound on the host before the VM starts (`publish`
/// chooses host ports, as `up --publish`; the others get new ephemeral ones) and relayed by a new
/// ports helper, and its services, which the guest's agent runs again with the VM's memory, are
/// recorded (Serve with `resumed`).
ErrorOr<Sandbox> RestoreFullSnapshot(const LauncherOptions& options, std::string_view sandbox,
                                     std::string_view label, const std::string& new_name,
                                     audit::Log& audit, RestoreTimings* timings,
                                     const std::vector<PublishRequest>& publish = {});

/// RestoreFullSnapshot's second half, for a snapshot OpenFullSnapshot has just checked and a plan
/// already admitted (a warm pool's own): starts a sandbox from `snapshot` with `start` (its name,
/// pool, detachment; `start.restore` is set here) and gives it its new identity.
ErrorOr<Sandbox> StartFromFullSnapshot(const LauncherOptions& options,
                                       const OpenedFullSnapshot& snapshot,
                                       const AdmittedPlan& admitted, StartOptions start,
                                       audit::Log& audit, RestoreTimings* timings);

}  // namespace mvm::runtime

#endif  // MVM_RUNTIME_LAUNCHER_FULL_SNAPSHOT_H_
