#include "backend-emit/plan/payload.h"

#include <google/protobuf/util/json_util.h>

#include "backend-emit/plan/lower.h"
#include "backend-emit/plan/time.h"
#include "ir/digest.h"
#include "ir/json.h"
#include "ir/module.h"
#include "ir/support/check.h"

namespace mvm::plan {
namespace {

namespace pb = google::protobuf;

}  // namespace

std::string PlanToCanonicalJson(const v1::ExecutionPlan& plan) {
  // The same JSON form as the IR, so the workload embedded in a plan reads as in its IR file.
  return ir::MessageToCanonicalJson(plan);
}

std::string PayloadDigest(std::string_view payload) { return "sha256:" + ir::Sha256Hex(payload); }

ErrorOr<v1::ExecutionPlan> ParsePlanPayload(std::string_view payload) {
  v1::ExecutionPlan plan;
  pb::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  if (auto status = pb::util::JsonStringToMessage(std::string(payload), &plan, options);
      !status.ok()) {
    return Error{"the payload is not an ExecutionPlan: " + std::string(status.message())};
  }
  // The proto parser is lenient (camelCase names, numbers in strings, duplicate members); demanding
  // the canonical bytes back leaves exactly one accepted spelling of each plan.
  if (PlanToCanonicalJson(plan) != payload) {
    return Error{
        "the payload is not in canonical form (RFC 8785 JSON of the plan with empty fields "
        "omitted)"};
  }
  if (plan.schema() != kPlanSchema) {
    return Error{"the payload's schema is \"" + plan.schema() + "\", expected \"" +
                 std::string(kPlanSchema) + "\""};
  }
  // Replay state names a file after the id, so it must be nothing a path could be made of.
  if (!ir::IsWorkloadId(plan.workload().id())) {
    return Error{"the payload's workload id \"" + plan.workload().id() + "\" is not a valid id"};
  }
  v1::ExecutionPlan without_locs = plan;
  if (ir::ClearSourceLocs(without_locs)) {
    return Error{"the payload's workload carries source locations, which a plan never holds"};
  }
  ir::Module single;
  *single.proto.add_workloads() = plan.workload();
  single.locs.emplace_back();
  if (std::string digest = ir::ModuleDigest(single); digest != plan.ir_digest()) {
    return Error{"the payload's ir_digest \"" + plan.ir_digest() +
                 "\" does not match its workload (" + digest + ")"};
  }
  std::optional<int64_t> not_before = ParseCanonicalTimestamp(plan.not_before());
  std::optional<int64_t> expires_at = ParseCanonicalTimestamp(plan.expires_at());
  if (!not_before || !expires_at) {
    return Error{
        "the payload's not_before/expires_at are not RFC 3339 UTC timestamps of the form "
        "2025-01-02T03:04:05Z"};
  }
  if (*expires_at <= *not_before) {
    return Error{"the payload expires (" + plan.expires_at() + ") before it becomes valid (" +
                 plan.not_before() + ")"};
  }
  if (plan.profile() != "dev" && plan.profile() != "production") {
    return Error{"the payload's profile \"" + plan.profile() + "\" is not `dev` or `production`"};
  }
  if (plan.network().default_() != "deny") {
    return Error{"the payload's network default is \"" + plan.network().default_() +
                 "\"; plans are deny-by-default"};
  }
  const std::string& isolation = plan.lifecycle().isolation();
  if (isolation != "microvm" && isolation != "container") {
    return Error{"the payload's isolation \"" + isolation + "\" is not `microvm` or `container`"};
  }
  // Everything but the workload and the signing parameters is derived from the workload; deriving
  // it again catches a signer that let the two drift apart (a lifecycle granting more than the
  // workload declares, a secret the workload never named). Built artifact digests are the one
  // thing added later (`mvmctl build`), so they are carried over.
  PlanOptions signing;
  signing.compiler_version = plan.compiler_version();
  signing.profile = plan.profile();
  signing.key_id = plan.key_id();
  signing.not_before = *not_before;
  signing.expires_at = *expires_at;
  signing.epoch = plan.epoch();
  auto derived = LowerToPlan(plan.workload(), signing);
  if (derived && derived->artifacts_size() == plan.artifacts_size()) {
    for (int i = 0; i < plan.artifacts_size(); ++i) {
      v1::Artifact& a = *derived->mutable_artifacts(i);
      if (a.kind() != "oci") {
        a.set_digest(plan.artifacts(i).digest());
      }
    }
  }
  if (!derived || PlanToCanonicalJson(*derived) != payload) {
    return Error{
        "the payload's artifacts, network, secrets, mounts or lifecycle do not follow from "
        "its workload"};
  }
  return plan;
}

}  // namespace mvm::plan
