#ifndef MVM_RUNTIME_OCI_USER_H_
#define MVM_RUNTIME_OCI_USER_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>

#include "ir/support/error_or.h"

namespace mvm::runtime::oci {

struct ImageUser {
  uint32_t uid = 0;
  uint32_t gid = 0;
};

/// The ids an image configuration's `User` names, looked up in the image's own /etc/passwd and
/// /etc/group (read beneath `rootfs`, its symlinks resolved inside it): `user`, `uid`,
/// `user:group`, `uid:gid` and the mixed forms, as container engines read them. A numeric uid that
/// passwd does not list gets gid 0. nullopt for an empty `User` (root). An Error for a name the
/// image does not know, or an id of 65536 or more (a sandbox maps 65536 ids).
ErrorOr<std::optional<ImageUser>> ResolveImageUser(const std::filesystem::path& rootfs,
                                                   std::string_view user);

}  // namespace mvm::runtime::oci

#endif  // MVM_RUNTIME_OCI_USER_H_
