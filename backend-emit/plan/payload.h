#ifndef MVM_BACKEND_EMIT_PLAN_PAYLOAD_H_
#define MVM_BACKEND_EMIT_PLAN_PAYLOAD_H_

#include <string>
#include <string_view>

#include "ir/plan.pb.h"
#include "ir/support/error_or.h"

namespace mvm::plan {

/// The payload bytes of `plan`: its proto JSON form (proto field names, unset fields, empty lists
/// and empty maps omitted) in RFC 8785 canonical form, no trailing newline. The embedded workload
/// reads exactly as in its IR file without locations, so `ir_digest` can be recomputed from it.
std::string PlanToCanonicalJson(const v1::ExecutionPlan& plan);

/// "sha256:" + hex SHA-256 of the payload bytes; what replay state records per workload.
std::string PayloadDigest(std::string_view payload);

/// Reads a payload strictly: it must be the JSON of an ExecutionPlan (no unknown fields) whose
/// canonical form is exactly `payload`, with schema "mvm.plan/v1", a valid workload id, no
/// SourceLoc, an `ir_digest` that matches the embedded workload, timestamps in the canonical
/// RFC 3339 form with `not_before` before `expires_at`, and known profile and isolation values.
/// The Error says which rule failed. Pure; does not look at signatures or the clock.
ErrorOr<v1::ExecutionPlan> ParsePlanPayload(std::string_view payload);

}  // namespace mvm::plan

#endif  // MVM_BACKEND_EMIT_PLAN_PAYLOAD_H_
