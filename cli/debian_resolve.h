#ifndef MVM_CLI_DEBIAN_RESOLVE_H_
#define MVM_CLI_DEBIAN_RESOLVE_H_

#include <filesystem>
#include <string>
#include <string_view>

#include "cli/runtime_session.h"
#include "ir/support/error_or.h"
#include "ir/workload.pb.h"

namespace mvm::cli {

/// For an `Image.debian` image: resolves its package set, builds the image (in the builder sandbox
/// of `session`) into the session's rootfs cache unless that set is there already, and returns the
/// set's digest, which the plan's rootfs artifact records. With `pinned` (a plan built before),
/// makes sure exactly that set is in the cache instead (MaterializeDebianImage). Empty for other
/// kinds. Progress lines go to stderr, prefixed `mvmctl <command>:`.
ErrorOr<std::string> BuildDeclaredDebianImage(const ir::v1::Image& image, RuntimeSession& session,
                                              std::string_view command,
                                              std::string_view pinned = "");

}  // namespace mvm::cli

#endif  // MVM_CLI_DEBIAN_RESOLVE_H_
