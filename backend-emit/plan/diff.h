#ifndef MVM_BACKEND_EMIT_PLAN_DIFF_H_
#define MVM_BACKEND_EMIT_PLAN_DIFF_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ir/plan.pb.h"

namespace mvm::plan {

enum class ChangeKind : uint8_t { kAdded, kRemoved, kChanged };

/// One difference in what a plan lets its sandbox do.
struct CapabilityChange {
  /// What changed: "workload", "image", "egress", "dns", "secret", "secret-host", "mount", "port",
  /// "cpu", "memory_mb", "disk_mb", "timeout_seconds", "isolation", "profile", "expires_at".
  std::string area;
  ChangeKind kind;
  std::string old_value;  ///< empty for kAdded
  std::string new_value;  ///< empty for kRemoved
  /// True when the new plan may do something the old one may not: an added egress rule, DNS turned
  /// on, an added secret or secret host (or a different secret behind a name), an added mount or a
  /// mount made writable or pointed elsewhere, an added port, more CPU, memory, disk or time, a
  /// larger tmpfs, container isolation, or the dev profile.
  bool widens = false;
};

/// The capability differences between two plans, in a fixed order (by area as listed above, then
/// by value), so output is stable.
struct PlanDiff {
  std::vector<CapabilityChange> changes;

  bool widened() const;
};

/// Compares what `old_plan` and `new_plan` allow. Entrypoints, environment, labels and epochs are
/// not capabilities and are not compared; the expiry is reported but never counts as widening,
/// since every re-signed plan expires later than the one it replaces.
PlanDiff DiffPlans(const v1::ExecutionPlan& old_plan, const v1::ExecutionPlan& new_plan);

/// One line per change (`+ egress https api.example.com  [widens]`) and a closing verdict line.
std::string RenderDiffHuman(const PlanDiff& diff);

/// `{"changes":[{"area","change":"added|removed|changed","old"?,"new"?,"widens"}],"widened":bool}`
/// as canonical JSON with a trailing newline.
std::string RenderDiffJson(const PlanDiff& diff);

}  // namespace mvm::plan

#endif  // MVM_BACKEND_EMIT_PLAN_DIFF_H_
