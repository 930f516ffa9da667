// Snapshots of a running sandbox's writable state (`mvmctl snapshot`): what a workload wrote to
// its memory-backed file systems, captured through the guest agent into a tar file on the host,
// digested and audited, so a later run can start from it or an investigator can read it.
#ifndef MVM_RUNTIME_LAUNCHER_SNAPSHOT_H_
#define MVM_RUNTIME_LAUNCHER_SNAPSHOT_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ir/support/error_or.h"
#include "runtime/audit/audit.h"
#include "runtime/launcher/launcher.h"
#include "runtime/launcher/snapshot_guest.h"
#include "runtime/launcher/state.h"

namespace mvm::runtime {

/// How deep below the sandbox's root a snapshot descends: a directory at a deeper level fails the
/// snapshot. An agent that lists a directory as its own child would otherwise be followed until
/// its paths reach agent::kMaxPathBytes, writing a member for every level.
inline constexpr size_t kMaxSnapshotDepth = 256;
/// How many entries (files, directories, symlinks, others) one snapshot may hold.
inline constexpr uint64_t kMaxSnapshotEntries = 1000000;
/// How large a snapshot's tar may grow, headers included.
inline constexpr uint64_t kMaxSnapshotBytes = uint64_t{8} << 30;
/// How long taking a snapshot may last, from reading the mount table to the last byte, however
/// the agent spaces its answers.
inline constexpr std::chrono::seconds kMaxSnapshotTime{900};

/// Bounds on one snapshot, against an agent that answers without end (a microVM guest's root can
/// answer in its place) as much as against trees too large to copy. Past any of them the snapshot
/// fails: nothing is published, the `.partial` file is removed, the failure is audited and the
/// workload continued.
struct SnapshotLimits {
  size_t depth = kMaxSnapshotDepth;
  uint64_t entries = kMaxSnapshotEntries;
  uint64_t bytes = kMaxSnapshotBytes;
  std::chrono::milliseconds time = kMaxSnapshotTime;
};

/// What to capture besides the defaults.
struct SnapshotRequest {
  /// The snapshot's name within its sandbox; empty: the UTC time, e.g. "20261129T170102Z".
  std::string label;
  /// Absolute paths inside the sandbox to capture as well as the writable memory file systems.
  std::vector<std::string> extra_paths;
  SnapshotLimits limits;  ///< the defaults everywhere but in tests
};

/// One snapshot on disk: `<state>/snapshots/<sandbox>/<label>.tar`, described by the `.json`
/// beside it. The tar's first member, `mvm-snapshot.json`, says what it holds; the captured
/// sandbox paths follow under `fs/` (`/tmp/a` is `fs/tmp/a`).
struct SnapshotInfo {
  std::string sandbox;
  std::string label;
  std::filesystem::path file;
  std::string sha256;  ///< hex, of the whole tar file
  uint64_t bytes = 0;  ///< size of the tar file
  uint64_t files = 0, directories = 0, symlinks = 0;
  std::vector<std::string> paths;    ///< the sandbox paths captured
  std::vector<std::string> skipped;  ///< entries that are not files, directories or symlinks
  /// Directories some of whose entries were left out: their paths are longer than the agent can
  /// name (agent::kMaxPathBytes), which a workload can build in /tmp one `cd` at a time.
  std::vector<std::string> too_deep;
  /// Symlinks left out because their targets climb out of the sandbox's tree (or hold control
  /// bytes): a tar extractor would create a link leading outside the directory it extracts into.
  std::vector<std::string> unsafe_links;
  /// Directories some of whose entries were left out because their names hold control bytes.
  std::vector<std::string> bad_names;
  std::string workload_id, payload_digest, root_fs, backend, created_at;
  std::string audit_id;  ///< of the "snapshot" record (empty when read back from disk)
  /// What the snapshot holds: "files" (this file-state tar); a restore refuses kinds it does not
  /// know rather than misread them.
  std::string kind = "files";
  /// The hex SHA-256 of `<label>.plan`, the signed plan (DSSE envelope) the sandbox was admitted
  /// with, kept beside the tar so that a restore can admit it again (restore.h). Empty for a
  /// snapshot of a sandbox whose plan was not kept (started by an older mvm): not restorable.
  std::string plan_sha256;
  /// How the sandbox was started besides its plan, for a restore to start the same: a
  /// function-form workload's files (sandbox path, host path) and the root of relative volume
  /// sources.
  std::vector<std::pair<std::string, std::string>> app_files;
  std::string project_root;
  /// Where the plan's project files were read from (plan::ToJson of a BlobSource).
  nlohmann::json blobs;
  /// The payload digest of the kept plan: `payload_digest` (the record's), except for a sandbox
  /// claimed from a warm pool, which runs the pool's plan and was admitted with the claimer's.
  std::string plan_payload_digest;
  /// The sandbox ran services or published ports (`mvmctl up`): a restore starts the services
  /// again and publishes the ports anew, as `up` does.
  bool served = false;

  /// `<label>.plan` beside the tar.
  std::filesystem::path PlanFile() const {
    std::filesystem::path plan = file;
    return plan.replace_extension(".plan");
  }
};

/// Validates a snapshot label: 1–64 characters of [A-Za-z0-9._-], not starting with '.'.
ErrorOr<Ok> CheckSnapshotLabel(std::string_view label);

/// The label a snapshot gets when none is given: the UTC time, e.g. "20261129T170102Z".
std::string DefaultSnapshotLabel();

/// The directories that hold the snapshots of `sandbox` (empty: of every sandbox), file and full
/// ones alike: `<state>/snapshots/<sandbox>`.
std::vector<std::filesystem::path> SnapshotDirs(const StateDir& state, std::string_view sandbox);

/// Captures the sandbox's writable state: every writable tmpfs the sandbox has mounted (/tmp,
/// /dev/shm, declared memory volumes; found in the sandbox's /proc/self/mountinfo, read through
/// the agent) and `request.extra_paths`. The root file system is read-only and host-backed volumes
/// live on the host, so neither is copied. The workload's processes are stopped (SIGSTOP) while
/// the files are read, so the snapshot is consistent, and continued afterwards, also on failure.
/// The tar is deterministic (sorted, mtime 0, owner 0): the same state gives the same digest.
/// Everything the agent reports is checked first (snapshot_guest.h: CheckSnapshotPath for the
/// mount points, CheckListing for each directory), so the tar holds no member a careless extractor
/// could be led outside its directory by, and no set-uid or set-gid file; `request.limits` bound
/// depth, entries, bytes and time. Written with mode 0600 and published atomically; an existing
/// label is refused; on any failure the `.partial` file is removed. Audited as "snapshot" with the
/// digest, size and paths, or with the reason it failed.
ErrorOr<SnapshotInfo> TakeSnapshot(const StateDir& state, Attached& sandbox,
                                   const SnapshotRequest& request, audit::Log& audit);

/// The snapshots of `sandbox` (empty: of every sandbox), sorted by sandbox and label; unreadable
/// descriptions are skipped with a note in `problems`.
std::vector<SnapshotInfo> ListSnapshots(const StateDir& state, std::string_view sandbox,
                                        std::vector<std::string>& problems);

/// Re-hashes a snapshot's tar, and its plan when it has one, and compares them with its
/// description; an Error names the mismatch.
ErrorOr<SnapshotInfo> VerifySnapshot(const StateDir& state, std::string_view sandbox,
                                     std::string_view label);

/// The hex SHA-256 and size of file `path` (not followed when a symlink).
ErrorOr<std::pair<std::string, uint64_t>> HashFile(const std::filesystem::path& path);

/// Deletes a snapshot (tar, plan and description); audited as "snapshot-remove".
ErrorOr<Ok> RemoveSnapshot(const StateDir& state, std::string_view sandbox, std::string_view label,
                           audit::Log& audit);

}  // namespace mvm::runtime

#endif  // MVM_RUNTIME_LAUNCHER_SNAPSHOT_H_
