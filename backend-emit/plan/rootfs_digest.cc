#include "backend-emit/plan/rootfs_digest.h"

#include "backend-emit/plan/envelope.h"
#include "backend-emit/plan/payload.h"

namespace mvm::plan {

ErrorOr<std::string> WithRootfsDigest(std::string_view payload, std::string_view digest,
                                      const SecretKey* key) {
  auto plan = ParsePlanPayload(payload);
  if (!plan) {
    return plan.error();
  }
  for (v1::Artifact& a : *plan->mutable_artifacts()) {
    if (a.role() == "rootfs") {
      a.set_digest(std::string(digest));
    }
  }
  plan->set_key_id(key != nullptr ? key->KeyId() : "");
  return SerializeEnvelope(MakeEnvelope(PlanToCanonicalJson(*plan), key));
}

}  // namespace mvm::plan
