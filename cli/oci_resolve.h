#ifndef MVM_CLI_OCI_RESOLVE_H_
#define MVM_CLI_OCI_RESOLVE_H_

#include <filesystem>
#include <string>
#include <string_view>

#include "ir/support/error_or.h"
#include "ir/workload.pb.h"

namespace mvm::cli {

/// For an `oci:` image: pulls it into the image cache of `state_dir` (a cache hit for a pinned
/// image already there) and returns the digest a plan pins it to — the declared one, else what the
/// tag resolved to (the index's digest when the tag names an index). Empty for other kinds. The
/// pull's steps go to the audit log; progress lines to stderr, prefixed `mvmctl <command>:`.
ErrorOr<std::string> PullDeclaredImage(const ir::v1::Image& image,
                                       const std::filesystem::path& state_dir,
                                       std::string_view command);

}  // namespace mvm::cli

#endif  // MVM_CLI_OCI_RESOLVE_H_
