#ifndef MVM_RUNTIME_OCI_STORE_H_
#define MVM_RUNTIME_OCI_STORE_H_

// The image cache: unpacked images keyed by manifest digest, each published by one rename of a
// complete tree, with the digests that let anyone re-verify it. See docs/images.md.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/support/error_or.h"
#include "runtime/oci/content.h"
#include "runtime/oci/oci.h"

namespace mvm::runtime::oci {

/// One image in the cache.
struct StoredImage {
  std::string manifest_digest;  ///< the key
  std::string index_digest;     ///< the index it was chosen from, when it came through one
  std::string config_digest;
  std::string tree_digest;  ///< rootfs::TreeDigest of `rootfs`, taken right after unpacking
  std::filesystem::path dir;
  std::filesystem::path rootfs;  ///< `dir`/rootfs: read-only, owners as the layers said
  ImageConfig config;
  std::vector<std::string> names;  ///< canonical references that point here ("reg/repo:tag")
  std::string source;              ///< "registry", "oci-layout" or "docker-archive"
  std::string stored_at;           ///< RFC 3339 UTC
  int64_t layer_bytes = 0;         ///< the layers' (compressed) sizes, as the manifest says
  int64_t tree_bytes = 0;          ///< what unpacking wrote
};

/// What a caller hands to Publish: content whose digests were already checked against the
/// manifest (blobs) and against a pinned digest or the source (the manifest itself).
struct ImageParts {
  std::string manifest_body;
  std::string manifest_digest;
  std::string index_digest;
  std::string config_body;
  Manifest manifest;
  ImageConfig config;
  /// The layers' blob files, in manifest order.
  std::vector<std::filesystem::path> layer_files;
  std::string name;  ///< canonical reference to record; may be empty
  std::string source;
};

/// Outcome of Verify: each check that failed, in words; empty when the image is intact.
struct VerifyReport {
  std::vector<std::string> problems;
  bool ok() const { return problems.empty(); }
};

/// An audit hook: the event name (`image-materialize`, …) and its fields. The store knows
/// nothing of the audit log; the CLI and the launcher pass one that appends to it.
using EventFn = std::function<void(std::string_view event,
                                   const std::vector<std::pair<std::string, std::string>>& fields)>;
using ProgressFn = std::function<void(std::string_view line)>;

/// `<state>/images`. Every operation that changes the cache holds an exclusive flock on
/// `<dir>/lock`; reads take none (publishing is one rename, and the name table is replaced
/// atomically).
class ImageStore {
 public:
  explicit ImageStore(std::filesystem::path dir, Limits limits = {})
      : dir_(std::move(dir)), limits_(limits) {}

  const std::filesystem::path& dir() const { return dir_; }
  const Limits& limits() const { return limits_; }
  /// A fresh scratch directory under the cache (same file system, so publishing is a rename).
  ErrorOr<std::filesystem::path> MakeScratch() const;

  /// The image with this manifest digest, or whose index digest this is; nullopt when none.
  ErrorOr<std::optional<StoredImage>> Find(std::string_view digest) const;
  /// The image a canonical reference's tag points at; nullopt when none.
  ErrorOr<std::optional<StoredImage>> FindByName(std::string_view name) const;
  ErrorOr<std::vector<StoredImage>> List() const;

  /// Unpacks `parts` into a new tree, hashes it and publishes it; an image already present only
  /// gains the name. Nothing partial is ever visible under its key.
  ErrorOr<StoredImage> Publish(const ImageParts& parts, const ProgressFn& progress);
  /// Points `name` (a canonical reference) and `index_digest` at `image`, either may be empty;
  /// returns `image` with its names. Takes no lock and writes nothing when both already point
  /// there.
  ErrorOr<StoredImage> Name(StoredImage image, std::string_view name,
                            std::string_view index_digest);

  /// Re-hashes the stored manifest and configuration against their digests, checks the manifest
  /// names that configuration, and re-hashes the tree against the digest taken at publishing.
  ErrorOr<VerifyReport> Verify(const StoredImage& image) const;

  /// What a launch checks before it mounts the tree: Ok when it still hashes to tree_digest, an
  /// Error saying what it hashes to otherwise. The full re-hash reads every file, so after one
  /// succeeds a fingerprint of the tree's metadata is kept (every entry's path, inode, type, mode,
  /// owner, size, mtime and ctime); a tree whose fingerprint is unchanged is not read again. Any
  /// write, chmod, chown, rename or replacement changes an entry's ctime, which no unprivileged
  /// call can set back, so the shortcut misses only what root could do to the launcher itself.
  ErrorOr<Ok> CheckTree(const StoredImage& image) const;

  /// Removes the image (every name of it); a running sandbox keeps its mount of the tree.
  ErrorOr<Ok> Remove(const StoredImage& image);
  /// Removes images without names and leftovers of interrupted pulls; returns what was removed.
  ErrorOr<std::vector<StoredImage>> Prune();

 private:
  std::filesystem::path dir_;
  Limits limits_;
};

/// The key directory name of a manifest digest: "sha256-<hex>".
std::string ImageDirName(std::string_view manifest_digest);

/// Normalises a reference for the name table ("python:3.12" → "docker.io/library/python:3.12");
/// drops the digest, since names are what tags point at.
std::string CanonicalName(const Reference& ref);

}  // namespace mvm::runtime::oci

#endif  // MVM_RUNTIME_OCI_STORE_H_
