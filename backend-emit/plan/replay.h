#ifndef MVM_BACKEND_EMIT_PLAN_REPLAY_H_
#define MVM_BACKEND_EMIT_PLAN_REPLAY_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "backend-emit/plan/verify.h"
#include "ir/support/error_or.h"

namespace mvm::plan {

/// What replay state remembers about one workload id: the last admitted plan.
struct ReplayRecord {
  uint32_t epoch = 0;
  std::string payload_digest;  ///< "sha256:<hex>" of the admitted payload

  friend bool operator==(const ReplayRecord&, const ReplayRecord&) = default;
};

/// How an admission went.
enum class Admission : uint8_t {
  kFirst,  ///< no plan was admitted for this workload before; recorded
  kNewer,  ///< a higher epoch than the last; recorded
  kSame,   ///< the very plan admitted last (same epoch and payload digest): running it again, or
           ///< from a warm pool, is allowed; nothing changes on disk
};

/// Replay protection for the launcher: one file per workload id under a state directory,
/// `<dir>/<id>.json` holding `{"epoch":N,"payload_digest":"sha256:…"}`. A plan is admitted when
/// its epoch is higher than the last admitted one for its workload, or when it is that same plan
/// again; a lower epoch, or the same epoch with a different payload, is refused as replayed.
/// Writes are atomic (temporary file, fsync, rename, fsync of the directory) and admissions of one
/// workload are serialised across processes with an flock on `<dir>/<id>.lock`. `mvmctl plan
/// verify` never uses this: verification records nothing.
class ReplayState {
 public:
  /// State lives in `dir`, created (mode 0700) on the first admission.
  explicit ReplayState(std::filesystem::path dir) : dir_(std::move(dir)) {}

  /// Admits `plan` (already verified) or refuses it with RefusalReason::kReplayed. Environment
  /// failures (unwritable directory, a corrupt state file) are Errors: a launcher must then refuse
  /// to run rather than forget what it admitted.
  ErrorOr<OrRefusal<Admission>> Admit(const VerifiedPlan& plan);

  /// The same, from the parts; `workload_id` must be a valid workload id.
  ErrorOr<OrRefusal<Admission>> Admit(std::string_view workload_id, uint32_t epoch,
                                      std::string_view payload_digest);

  /// The last admitted plan of `workload_id`, if any.
  ErrorOr<std::optional<ReplayRecord>> Last(std::string_view workload_id) const;

 private:
  std::filesystem::path dir_;
};

}  // namespace mvm::plan

#endif  // MVM_BACKEND_EMIT_PLAN_REPLAY_H_
