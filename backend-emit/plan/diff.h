#ifndef MVM_BACKEND_EMIT_PLAN_DIFF_H_
#define MVM_BACKEND_EMIT_PLAN_DIFF_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ir/plan.pb.h"

namespace mvm::plan {

enum class ChangeKind : uint8_t { kAdded, kRemoved, kChanged };

/// One difference in what a plan runs or lets its sandbox do.
struct CapabilityChange {
  /// What changed: "workload", "image", "package", "entrypoint", "service", "env", "file",
  /// "egress", "dns", "secret", "secret-host", "mount", "port", "cpu", "memory_mb", "disk_mb",
  /// "timeout_seconds", "isolation", "profile", "expires_at". Values are spelt by review_text.h:
  /// commands as shell words, env values hidden for names that look like credentials.
  std::string area;
  ChangeKind kind;
  std::string old_value;  ///< empty for kAdded
  std::string new_value;  ///< empty for kRemoved
  /// True when the new plan may do something the old one may not: an added egress rule, DNS turned
  /// on, an added secret or secret host (or a different secret behind a name), an added mount or a
  /// mount made writable or pointed elsewhere, an added port, more CPU, memory, disk or time, a
  /// larger tmpfs, container isolation, or the dev profile.
  /// A changed command, environment, file, image (a debian image's suite or package-set pin
  /// included) or an added package is never a widening: it runs something else with the same
  /// rights (`changed()` catches it).
  bool widens = false;
};

/// The differences between two plans, in a fixed order (by area as listed above, then by value),
/// so output is stable.
struct PlanDiff {
  std::vector<CapabilityChange> changes;

  /// Some change lets the new plan do what the old one may not.
  bool widened() const;
  /// Some change other than the expiry: the new plan runs something else, or with other rights or
  /// bounds.
  bool changed() const;
};

/// Compares what `old_plan` and `new_plan` run (image, entrypoint and service commands,
/// environment, shipped files) and allow. Labels, epochs, signing keys and `not_before` are not
/// compared; the expiry is reported but is not a change and never widens, since every re-signed
/// plan expires later than the one it replaces.
PlanDiff DiffPlans(const v1::ExecutionPlan& old_plan, const v1::ExecutionPlan& new_plan);

/// One line per change (`+ egress https api.example.com  [widens]`) and a closing verdict line.
std::string RenderDiffHuman(const PlanDiff& diff);

/// `{"changed":bool,"changes":[{"area","change":"added|removed|changed","old"?,"new"?,"widens"}],
/// "widened":bool}` as canonical JSON with a trailing newline.
std::string RenderDiffJson(const PlanDiff& diff);

}  // namespace mvm::plan

#endif  // MVM_BACKEND_EMIT_PLAN_DIFF_H_
