#ifndef MVM_BACKEND_EMIT_PLAN_ROOTFS_DIGEST_H_
#define MVM_BACKEND_EMIT_PLAN_ROOTFS_DIGEST_H_

#include <string>
#include <string_view>

#include "backend-emit/plan/keys.h"
#include "ir/support/error_or.h"

namespace mvm::plan {

/// The plan file for `payload` with its rootfs artifact's digest set to `digest` (what `mvmctl
/// build` records once the rootfs is built), signed by `key`, or unsigned when `key` is null: the
/// old signature covers the old payload, so it cannot be kept. The payload is re-read strictly
/// (ParsePlanPayload) so that only a plan that was valid is re-signed; its validity window and
/// epoch are kept, its key id becomes `key`'s (empty when unsigned).
ErrorOr<std::string> WithRootfsDigest(std::string_view payload, std::string_view digest,
                                      const SecretKey* key);

}  // namespace mvm::plan

#endif  // MVM_BACKEND_EMIT_PLAN_ROOTFS_DIGEST_H_
