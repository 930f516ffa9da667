#ifndef MVM_RUNTIME_ROOTFS_DEBIAN_IMAGE_H_
#define MVM_RUNTIME_ROOTFS_DEBIAN_IMAGE_H_

// `Image.debian(packages=[...])` root filesystems: Debian minbase plus the declared packages,
// resolved to an exact package set first, pinned by that set's digest, built by mmdebstrap in the
// builder sandbox and cached by the pin. See docs/packages.md.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "ir/support/error_or.h"
#include "runtime/rootfs/rootfs.h"

namespace mvm::runtime::rootfs {

/// The recipe revision of Debian images (see TemplateRevision): 2 is mmdebstrap in the builder
/// with the tree owned by the builder's own ids.
inline constexpr std::string_view kDebianImageRevision = "2";

/// What a declaration asks for: the IR image's `ref` (the suite) and `packages`.
struct DebianImageSpec {
  std::string suite;
  std::vector<std::string> packages;
};

/// One package of a resolved set, as apt will download it.
struct DebianPackage {
  std::string name;
  std::string version;  ///< with its epoch (`1:2.38.1-5`)
  std::string arch;     ///< `amd64` or `all`
  std::string sha256;   ///< 64 lowercase hex of the .deb, from the signed archive index

  friend bool operator==(const DebianPackage&, const DebianPackage&) = default;
};

/// A resolved package set: every package minbase and the declared packages install, sorted by name.
struct DebianPin {
  std::vector<DebianPackage> packages;
  /// "sha256:<64 hex>" of PinText(packages): the cache key and what a plan records.
  std::string digest;
};

/// The archive a Debian tree is built from, the same for resolving and for mmdebstrap so both see
/// one set of indexes: the suite, its point-release updates and its security updates, all on
/// deb.debian.org (the builder may fetch only from hosts the host's apt sources name).
std::vector<std::string> DebianSourceLines(std::string_view suite);

/// Checks `spec` as the validate pass does (suite allow-list, package name syntax, count,
/// duplicates): a plan is signed, but its names are about to become mmdebstrap arguments.
ErrorOr<Ok> CheckDebianImageSpec(const DebianImageSpec& spec);

/// One line per package, `name version arch sha256\n`, sorted by name then arch: the bytes the pin
/// digest is taken over, and the `packages.lock` file kept beside a cached image.
std::string PinText(const std::vector<DebianPackage>& packages);

/// The set `packages` (in any order) sorted, with its digest.
DebianPin MakePin(std::vector<DebianPackage> packages);

/// Parses `apt-get install --print-uris` output (`'URL' name_version_arch.deb size SHA256:hex`
/// per line; `%3a` in a file name is the epoch's colon). An Error names the first line it cannot
/// read, or says that a line lacks a SHA256 hash.
ErrorOr<std::vector<DebianPackage>> ParsePrintUris(std::string_view output);

/// Parses a dpkg status file into the installed packages (hash left empty), sorted as PinText
/// sorts.
ErrorOr<std::vector<DebianPackage>> ParseDpkgStatus(std::string_view status);

/// Resolves `spec` against the Debian archive with apt in a private state directory under
/// `cache_dir` (its lists are kept, so later resolutions only revalidate them): minbase (Essential
/// and Priority:required packages of the suite, no Recommends, as `mmdebstrap --variant=minbase`
/// selects them) plus the declared packages and their dependencies. Reads the host's apt
/// configuration (proxy, keyrings); needs the mirror. An unknown package is an Error naming it.
ErrorOr<DebianPin> ResolveDebianImage(const DebianImageSpec& spec,
                                      const std::filesystem::path& cache_dir,
                                      const ProgressFn& progress);

/// A Debian image that is ready to mount, with the pin it was built from.
struct DebianImage {
  Materialized tree;  ///< `digest` is the tree's (TreeDigest), as for templates
  DebianPin pin;      ///< `packages` empty on a cache hit that did not resolve
};

/// Finds or builds the image of `spec` under `cache_dir/debian/sha256-<pin hex>/`.
///
/// `pinned` empty (a declaration being made into a plan): resolves first, then uses the cache or
/// builds. `pinned` set (a plan's recorded digest): a cache hit needs no network; on a miss it
/// resolves, refuses when the archive now resolves to another set (the plan must be built again),
/// and builds. A build has `debootstrap` run mmdebstrap (minbase, no Recommends, the declared
/// packages; in the builder sandbox), then on this host's copy checks that the installed packages
/// are exactly the pinned set (name, version, architecture) and strips it as the python-3.11
/// template is stripped; apt in the builder checks every .deb against the archive's signed SHA256.
/// Without `debootstrap`, a build is an Error (a cache hit needs none).
ErrorOr<DebianImage> MaterializeDebianImage(const DebianImageSpec& spec, std::string_view pinned,
                                            const std::filesystem::path& cache_dir,
                                            const ProgressFn& progress,
                                            const DebootstrapFn& debootstrap = {});

/// The bytes of the regular files below `root`, counted without following links.
uint64_t TreeBytes(const std::filesystem::path& root);

/// A Debian image in a cache directory (`cache_dir/debian/sha256-<pin hex>/`).
struct CachedDebianImage {
  std::string pin;            ///< "sha256:<64 hex>": the package set's digest, as plans record it
  std::filesystem::path dir;  ///< the pin's directory: its trees, `current`, `packages.lock`
  /// The tree `current` names ("sha256:<64 hex>", what a sandbox's record holds); empty when no
  /// build finished.
  std::string current;
  /// The recipe revision `current`'s tree records (empty: none); a tree of another revision than
  /// kDebianImageRevision is stale and built again on its next use.
  std::string revision;
  /// Every finished tree under the pin (older builds of the same pin stay while one may be
  /// mounted).
  std::vector<std::string> trees;
  uint64_t bytes = 0;   ///< of the regular files of every tree, counted without following links
  size_t packages = 0;  ///< lines of `packages.lock`: every package installed, not only declared
};

/// The Debian images of `cache_dir`, sorted by pin. Reads only; a directory that is not a pin's is
/// skipped, and so is one that cannot be read (its listing names nothing to remove).
std::vector<CachedDebianImage> ListDebianImages(const std::filesystem::path& cache_dir);

/// Removes `image`'s directory, sealed trees and all, under the pin's build lock: an image being
/// built is not removed (Error that says so), and a build waiting on the lock finds it gone and
/// builds it again.
ErrorOr<Ok> RemoveDebianImage(const CachedDebianImage& image);

}  // namespace mvm::runtime::rootfs

#endif  // MVM_RUNTIME_ROOTFS_DEBIAN_IMAGE_H_
