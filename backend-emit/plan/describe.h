#ifndef MVM_BACKEND_EMIT_PLAN_DESCRIBE_H_
#define MVM_BACKEND_EMIT_PLAN_DESCRIBE_H_

#include <string>

#include "backend-emit/plan/verify.h"

namespace mvm::plan {

/// A human summary of a plan for `mvmctl plan inspect`: workload, image, entrypoint and service
/// commands, environment, shipped files, resources, egress, secrets (names and hosts, never values;
/// a plan has none), mounts, ports, validity window, epoch and the signing key, spelt as
/// review_text.h says (env values of credential-like names hidden). Says plainly that the signature
/// was not checked. Ends with a newline.
std::string DescribePlanHuman(const DecodedPlan& decoded);

/// The same as canonical JSON with a trailing newline: `{"payload_digest", "plan": <the payload
/// object>, "signatures": [{"keyid"}], "signature_checked": false}`. The payload is printed as
/// signed, every env value included: it is what the plan file holds for anyone who reads it.
std::string DescribePlanJson(const DecodedPlan& decoded);

}  // namespace mvm::plan

#endif  // MVM_BACKEND_EMIT_PLAN_DESCRIBE_H_
