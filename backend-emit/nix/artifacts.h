#ifndef MVM_BACKEND_EMIT_NIX_ARTIFACTS_H_
#define MVM_BACKEND_EMIT_NIX_ARTIFACTS_H_

#include <filesystem>
#include <string>
#include <string_view>

#include "ir/support/error_or.h"

namespace mvm::nix {

/// What `mvmctl build` built for one artifact, so the launcher can find the tree by the digest the
/// plan records. Stored as `<state-dir>/artifacts/<hex>.json` (canonical JSON), where `<hex>` is
/// the digest without its `sha256:`.
struct BuiltArtifact {
  std::string nar_hash;    ///< "sha256:<hex>": the digest recorded in the plan
  std::string store_path;  ///< the Nix store path, "/nix/store/<hash>-<name>"
  std::string store;       ///< the `--store` it was built in (an absolute directory)
  std::string flake_ref;
  std::string attr;
  std::string built_at;  ///< RFC 3339 UTC
  /// Where the tree is on this host: `store` + `store_path` (a local store at a directory keeps
  /// `/nix/store/x` at `<store>/nix/store/x`).
  std::filesystem::path tree;
};

/// Writes `artifact`'s record under `state_dir` (creating `artifacts/`), replacing an older record
/// of the same digest. Returns the record's path.
ErrorOr<std::filesystem::path> RecordBuiltArtifact(const std::filesystem::path& state_dir,
                                                   const BuiltArtifact& artifact);

/// Reads the record of `digest` ("sha256:<hex>") under `state_dir`. An Error when the digest is
/// malformed, nothing was built with it, or the record is damaged.
ErrorOr<BuiltArtifact> ReadBuiltArtifact(const std::filesystem::path& state_dir,
                                         std::string_view digest);

/// The directory holding the tree built with NAR hash `digest`, for the launcher: the record must
/// exist and name that digest, and the tree must still hash to it (NarHash), so a plan's signed
/// digest really pins the files the sandbox gets. Hashing reads the whole tree (a few milliseconds
/// for the busybox template). An Error says which of these failed and how to rebuild.
ErrorOr<std::filesystem::path> FindBuiltArtifact(const std::filesystem::path& state_dir,
                                                 std::string_view digest);

}  // namespace mvm::nix

#endif  // MVM_BACKEND_EMIT_NIX_ARTIFACTS_H_
