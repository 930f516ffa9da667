// Restoring a snapshot into a new sandbox (`mvmctl restore`): the snapshot is checked against its
// description, its plan is admitted again as any plan is, a sandbox is started from it and the
// captured state is put back in.
#ifndef MVM_RUNTIME_LAUNCHER_RESTORE_H_
#define MVM_RUNTIME_LAUNCHER_RESTORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "ir/support/error_or.h"
#include "runtime/audit/audit.h"
#include "runtime/launcher/launcher.h"
#include "runtime/launcher/snapshot.h"

namespace mvm::runtime {

/// Which snapshot to restore, and as what.
struct RestoreRequest {
  std::string sandbox;  ///< the sandbox the snapshot was taken of (it need not exist any more)
  std::string label;
  std::string name;  ///< the new sandbox's name (`--as`)
  /// The backend to start it on; empty: the snapshot's own.
  std::string backend;
  /// Take a ready sandbox from a warm pool of the same plan when there is one (as `up` does).
  bool use_pool = true;
  /// Host ports chosen for a served snapshot's guest ports (`--publish`); the rest are ephemeral.
  std::vector<PublishRequest> publish;
};

/// A restored sandbox, detached and running, and what was put into it.
struct Restored {
  Sandbox sandbox;
  SnapshotInfo snapshot;
  uint64_t files = 0, directories = 0, symlinks = 0;
  /// Captured paths that are not in a writable memory file system of the new sandbox (a `--path`
  /// of the read-only root, say): left out, never written elsewhere.
  std::vector<std::string> skipped;
  std::string audit_id;  ///< of the "restore" record
};

/// Restores snapshot `request.label` of `request.sandbox` into a new detached sandbox
/// `request.name`:
/// 1. the tar and the plan kept with it are re-hashed against the description (VerifySnapshot); a
///    mismatch is refused with kind verification-failed;
/// 2. by the description's kind: "files" (the only one so far) restores file state; another kind
///    is refused, never guessed at;
/// 3. the plan is admitted again (Admit: signature under a key trusted now, validity window, replay
///    state, what the backend can enforce), and its payload digest must be the one the snapshot
///    recorded for it (SnapshotInfo::plan_payload_digest);
/// 4. the sandbox is started from it, detached, as `up --detach` would with the original's files
///    and project root;
/// 5. the tar is read once more, hashed as it is read, and each member is checked again as capture
///    checked it (a path CheckSnapshotPath accepts below `fs/`; a file, directory or symlink, no
///    hard link; a symlink target SafeLinkTarget keeps as it is; no set-uid or set-gid bit) and
///    written through the new sandbox's agent, only below its writable memory file systems. A
///    member that fails a check, or a digest that no longer matches at the end, removes the new
///    sandbox and is refused as verification-failed.
/// A snapshot of a sandbox `up` served (SnapshotInfo::served) is served again as `up` serves: its
/// ports bound on the host before the sandbox starts (a chosen port in use starts nothing), then,
/// once the files are back, the ports helper and every service of the plan started, recorded and
/// audited (`port-publish`, `service-start`).
/// Every outcome is audited as "restore" (the new name, the snapshot, its digest, counts, or the
/// reason it was refused).
ErrorOr<Restored> RestoreSnapshot(const LauncherOptions& options, const RestoreRequest& request,
                                  audit::Log& audit);

}  // namespace mvm::runtime

#endif  // MVM_RUNTIME_LAUNCHER_RESTORE_H_
