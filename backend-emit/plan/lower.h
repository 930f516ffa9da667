#ifndef MVM_BACKEND_EMIT_PLAN_LOWER_H_
#define MVM_BACKEND_EMIT_PLAN_LOWER_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "ir/plan.pb.h"
#include "ir/support/error_or.h"
#include "ir/workload.pb.h"

namespace mvm::plan {

/// The `schema` of every ExecutionPlan this code writes and accepts.
inline constexpr std::string_view kPlanSchema = "mvm.plan/v1";

/// What the plan says beyond the workload itself.
struct PlanOptions {
  std::string compiler_version;  ///< e.g. "0.1.0"
  std::string profile;           ///< "dev" | "production": the profile the IR was checked under
  std::string key_id;            ///< id of the signing key; empty for an unsigned plan
  int64_t not_before = 0;        ///< Unix seconds
  int64_t expires_at = 0;        ///< Unix seconds, after not_before
  uint32_t epoch = 0;            ///< monotonic per workload id
};

/// Lowers one checked workload (after the pass pipeline reported no errors) to its ExecutionPlan:
/// the workload without SourceLocs and its IR digest, the root filesystem artifact, egress and
/// secret grants, mounts and lifecycle with the defaults of ir/options.def applied, and the
/// validity window. An Error when the options cannot make a valid plan (a window that ends before
/// it starts, or a time an RFC 3339 timestamp cannot hold).
ErrorOr<v1::ExecutionPlan> LowerToPlan(const ir::v1::Workload& checked, const PlanOptions& options);

}  // namespace mvm::plan

#endif  // MVM_BACKEND_EMIT_PLAN_LOWER_H_
