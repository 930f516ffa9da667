#ifndef MVM_BACKEND_EMIT_NIX_ARTIFACTS_H_
#define MVM_BACKEND_EMIT_NIX_ARTIFACTS_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

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

/// True for "/nix/store/<32 nix-base32 characters>-<name>", the only form of store path a builder
/// may name: no `..`, no further `/`, a name of Nix's allowed characters not starting with `.`.
bool IsStorePath(std::string_view store_path);

/// A tree copied out of an untrusted builder into this host's artifact store.
struct ImportedTree {
  std::filesystem::path tree;  ///< `<state-dir>/artifacts/trees/<hex>`, read-only (0555/0444)
  std::string nar_hash;        ///< "sha256:<hex>", computed here over the copy
  /// Other store paths (`/nix/store/<hash>-<name>`) the copy's files and symlinks name, found by
  /// this host's scan, sorted, without duplicates: a rootfs should have none, as the sandbox gets
  /// this one tree and they would dangle there.
  std::vector<std::string> references;
};

/// Imports the store path `store_path` of a builder sandbox whose `/nix` is the host directory
/// `builder_nix_dir` into `<state_dir>/artifacts/trees/<hex>`. Everything below `builder_nix_dir`
/// was written by the builder and is treated as hostile data: the path is opened beneath it with
/// no symlink followed and no mount crossed, and the copy keeps symlinks as symlinks (never
/// followed), regular files as their bytes and executable bit, and refuses anything else
/// (devices, FIFOs, sockets) and trees deeper or larger than a rootfs can be. The NAR hash is
/// computed over the host's own copy, never taken from the builder. When `pinned` is not empty and
/// the hash differs from it, the copy is removed and the Error says both digests. An existing tree
/// of the same digest is kept when it still hashes to it, else replaced.
ErrorOr<ImportedTree> ImportBuiltTree(const std::filesystem::path& state_dir,
                                      const std::filesystem::path& builder_nix_dir,
                                      std::string_view store_path, std::string_view pinned);

/// Copies the directory `relative` beneath `builder_nix_dir` (a builder's /nix, hostile data) to
/// the new directory `to`, opened and copied as ImportBuiltTree does, but refusing symlinks too:
/// the copy is for tools on this host that would follow them. Files and directories come out
/// read-only. On an Error, `to` is removed.
ErrorOr<Ok> CopyOutOfBuilder(const std::filesystem::path& builder_nix_dir,
                             std::string_view relative, const std::filesystem::path& to);

/// Copies the directory `relative` beneath `builder_nix_dir` (a builder's /nix, hostile data) into
/// `to`, an existing empty directory, as a root filesystem: opened and copied as ImportBuiltTree
/// does (nothing followed, no mount crossed, symlinks kept as links and never resolved, anything
/// but files, directories and symlinks refused), but every file and directory keeps its permission
/// bits less setuid and setgid (a rootfs's `/tmp` is 1777 and `/root` 0700) and its owner, as the
/// builder saw it: the builder runs in a user namespace that maps its ids 0..range-1 to this host's
/// `ids.base`.., so a file its root made is host uid `ids.base` here and becomes uid 0 in the copy.
/// Left as it was, the tree would belong to whatever host user has that id, and to the root of
/// every container sandbox, whose ids are mapped the same way; an owner outside the range is
/// refused. A symlink whose target lies under `made_at` (the directory the builder made the tree
/// at, as it saw it) gets a target relative to the tree's root instead: fakechroot's links name
/// their tree. On an Error, what was copied stays for the caller to remove.
struct BuilderIds {
  uint32_t base = 0;
  uint32_t range = 0;
};
ErrorOr<Ok> CopyRootfsOutOfBuilder(const std::filesystem::path& builder_nix_dir,
                                   std::string_view relative, const std::filesystem::path& to,
                                   std::string_view made_at, BuilderIds ids);

}  // namespace mvm::nix

#endif  // MVM_BACKEND_EMIT_NIX_ARTIFACTS_H_
