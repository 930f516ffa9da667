// Warm pools (`mvmctl pool`): a pool process keeps N sandboxes of one plan booted to agent-ready,
// and a later `run` or `up` of an interchangeable plan claims one instead of booting, which for a
// microVM under emulation saves the whole boot.
//
// A pooled sandbox is an ordinary sandbox (record, state directory, watchdog) owned by the pool
// process and marked with the pool's name. A claim is a request on the pool's socket: the claimer
// holds the lock of the name it wants and has armed its own watchdog for that name; the request
// carries the claimer's plan file and the start options that enter the pool key, and passes the
// lock's fd along. The pool trusts none of it: it checks the plan as Admit does (signature by a
// trusted key, validity window, dev key, backend policy), that its key equals the pool's, that it
// is the last plan admitted for its workload (replay state, read only), and that the fd is the
// lock of that name held by no one else. Then it renames the sandbox's state directory to the
// name (the atomic hand-over point), rewrites the record with the claimer as owner, writes the
// `claim` audit record, disarms its own watchdog and refills; a refused claim is audited as a
// `refuse` record of stage `claim` and changes nothing. The backend keeps knowing the sandbox by
// the name it booted under (SandboxRecord::instance).
//
// Interchangeable means the same pool key (PoolKey): the same plan apart from its validity window,
// epoch and signature, on the same backend, with the same guest agent file, the same app files
// (by content) and the same volume sources.
#ifndef MVM_RUNTIME_LAUNCHER_POOL_H_
#define MVM_RUNTIME_LAUNCHER_POOL_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/support/error_or.h"
#include "runtime/launcher/launcher.h"

namespace mvm::runtime {

/// `<state>/pools/<name>.json`, written by the pool process while it runs.
struct PoolRecord {
  std::string name;
  std::string key;
  std::string workload_id;
  std::string payload_digest;  ///< of the plan the pool admitted
  std::string backend;
  uint32_t size = 0;
  /// The pool process (a detached pool's daemon helper): pid and start time, so a reused pid is
  /// never taken for it.
  pid_t pid = 0;
  uint64_t pid_start_time = 0;
  std::string created_at;
};

/// True while the record's pool process is the very process it recorded.
bool IsPoolRunning(const PoolRecord& pool);

/// Every pool with a record, sorted by name; unreadable records are noted in `problems`.
std::vector<PoolRecord> ListPools(const StateDir& state, std::vector<std::string>& problems);

/// The claim key of starting `plan` with `start` on `options.backend` ("sha256:<hex>").
ErrorOr<std::string> PoolKey(const LauncherOptions& options, const AdmittedPlan& plan,
                             const StartOptions& start);

/// What a running pool reports about itself.
struct PoolStatus {
  uint32_t size = 0;
  uint32_t ready = 0;
  uint32_t booting = 0;
  uint64_t claimed = 0;
  uint64_t failed = 0;  ///< starts that failed
  std::string last_error;
  std::vector<std::string> sandboxes;  ///< the ready ones, oldest first
};
ErrorOr<PoolStatus> QueryPool(const StateDir& state, std::string_view name);

struct PoolOptions {
  std::string name;
  uint32_t size = 1;
  /// qemu-microvm: boot one sandbox, keep a full snapshot of it (full_snapshot.h) for as long as
  /// the pool runs, and fill the pool by restoring that snapshot instead of booting.
  bool from_snapshot = false;
  /// Called once the pool's record and socket exist (before its first sandbox is ready).
  std::function<void(const PoolRecord&)> on_listening;
  int out_fd = 2;  ///< where the pool's event lines go
};

/// Blocks SIGINT, SIGTERM and SIGHUP, which stop a pool, in the calling thread: call it before any
/// thread exists, so that only RunPool's signalfd sees them.
void BlockPoolStopSignals();

/// Runs a pool of `plan` (admitted by the caller; `plan_bytes` is re-verified before every start,
/// so the pool drains and ends when the plan expires) until SIGINT, SIGTERM or SIGHUP (which the
/// caller must have blocked in every thread: BlockPoolStopSignals), or `StopPool`. Unclaimed
/// sandboxes are destroyed on the way out; claimed ones belong to their claimers. A failing start
/// is retried with back-off.
ErrorOr<Ok> RunPool(const LauncherOptions& options, const AdmittedPlan& plan,
                    std::string_view plan_bytes, const StartOptions& start, const PoolOptions& pool,
                    audit::Log& audit);

/// Where a pool started by StartPoolDaemon logs: `<state>/pools/<name>.log`.
std::filesystem::path PoolLogPath(const StateDir& state, std::string_view name);

/// RunPool in the background: a supervised helper (runtime/backends/helper.h) exec'd from this
/// executable (so its main must call RunHelperIfAsked first), in a session of its own, outliving
/// the caller, logging to PoolLogPath with note lines tagged `log_tag`. Returns once the pool
/// listens, with its record, which names the helper (pid and start time) for `pool ls` and
/// `pool stop`; or the Error that ended it before (of kind runtime-failed). `pool.on_listening`
/// and `pool.out_fd` are not used: the daemon's output is the log.
ErrorOr<PoolRecord> StartPoolDaemon(const LauncherOptions& options, const AdmittedPlan& plan,
                                    const StartOptions& start, const PoolOptions& pool,
                                    std::string_view log_tag);

/// Asks pool `name` to stop and waits until its process is gone or `timeout` passed.
ErrorOr<Ok> StopPool(const StateDir& state, std::string_view name,
                     std::chrono::milliseconds timeout);

/// Start's first step: a ready sandbox named `name` from a running pool with the same key, or
/// nullopt when there is none (the caller boots one). An Error only when a sandbox called `name`
/// is already running or a claimed sandbox was lost during the hand-over.
ErrorOr<std::optional<Sandbox>> ClaimFromPool(const LauncherOptions& options,
                                              const AdmittedPlan& plan, const StartOptions& start,
                                              const std::string& name, PhaseTimings* timings);

}  // namespace mvm::runtime

#endif  // MVM_RUNTIME_LAUNCHER_POOL_H_
