#ifndef MVM_BACKEND_EMIT_NIX_NAR_H_
#define MVM_BACKEND_EMIT_NIX_NAR_H_

#include <filesystem>
#include <string>

#include "ir/support/error_or.h"

namespace mvm::nix {

/// The NAR hash of the file tree at `path`, as "sha256:<64 lowercase hex>": SHA-256 over Nix's
/// archive serialisation (regular files with their executable bit, symlinks with their target,
/// directories with entries in byte order; owners, other mode bits and times left out). Equal to
/// the `narHash` Nix records for a store path, so a tree can be checked against a digest without
/// Nix. Streams file contents; an Error names the first unreadable entry or one that is neither
/// file, directory nor symlink.
ErrorOr<std::string> NarHash(const std::filesystem::path& path);

/// Converts Nix's SRI form of a SHA-256 hash ("sha256-<base64>", what `nix path-info --json` prints
/// as `narHash`) to mvm's digest form "sha256:<64 lowercase hex>". An Error for anything else.
ErrorOr<std::string> SriToDigest(std::string_view sri);

/// True when `digest` is "sha256:" followed by 64 lowercase hex digits.
bool IsSha256Digest(std::string_view digest);

}  // namespace mvm::nix

#endif  // MVM_BACKEND_EMIT_NIX_NAR_H_
