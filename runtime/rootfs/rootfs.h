#ifndef MVM_RUNTIME_ROOTFS_ROOTFS_H_
#define MVM_RUNTIME_ROOTFS_ROOTFS_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/support/error_or.h"

namespace mvm::runtime::rootfs {

/// Progress lines for long builds ("building template python-3.11 with mmdebstrap (a minute or
/// more, once)"). May be empty; called on the caller's thread, never after MaterializeTemplate
/// returns.
using ProgressFn = std::function<void(std::string_view line)>;

/// What a Debian tree is made of: `mmdebstrap --variant=minbase` of `suite` with `include`.
struct DebootstrapRequest {
  std::string suite;
  std::vector<std::string> include;  ///< packages besides minbase, checked Debian names
  /// `deb URL SUITE COMPONENT` lines; empty: mmdebstrap's own (the suite, -updates, -security).
  std::vector<std::string> sources;
};

/// Makes the Debian tree of a request in `root` (an empty directory of this host) and returns once
/// it is there. mvm has one: the builder sandbox (runtime::DebootstrapInBuilder), which runs
/// mmdebstrap away from the host and hands back the tree as data; the tree is untrusted, and the
/// callers below check it (package set, required files) on their own copy.
using DebootstrapFn =
    std::function<ErrorOr<Ok>(const DebootstrapRequest& request, const std::filesystem::path& root,
                              const ProgressFn& progress)>;

/// A template root filesystem that is ready to mount.
struct Materialized {
  /// The root directory, complete and immutable: nothing writes to it after publishing, and every
  /// entry in it has its write bits cleared. Lives as long as the cache directory does.
  std::filesystem::path dir;
  /// "sha256:<64 hex>" of the tree (TreeDigest); `dir`'s name carries the same hex.
  std::string digest;
  /// True when the tree was already in the cache (built earlier, or by a concurrent caller).
  bool cache_hit = false;
  /// Wall-clock milliseconds this call spent building; 0 on a cache hit.
  uint32_t build_ms = 0;
};

/// Builds (once) or finds the template's rootfs under `cache_dir` (e.g. <state-dir>/rootfs).
///
/// Layout: `<cache_dir>/<name>/sha256-<hex>/` is a published tree and `<cache_dir>/<name>/current`
/// a symlink naming it. A hit only checks that `current` names a `sha256-<hex>` directory that
/// exists; it does not re-hash the tree, which would cost seconds for python-3.11 on every run.
/// That is sound because trees are only ever published by one rename of a complete, read-only
/// build, so what a hit can miss is tampering by someone who can write the cache (root, given the
/// modes), not a half-finished build.
///
/// Safe against concurrent callers in any number of processes and threads: builds are serialised by
/// an flock on `<cache_dir>/<name>/lock`, happen in a `.build-*` directory beside the published
/// ones and are renamed into place atomically; a crash mid-build leaves only a `.build-*`
/// directory, which the next build removes. Trees of earlier digests are left in place, since a
/// running sandbox may still have one mounted.
///
/// Each template has a recipe revision (bumped when its builder changes what it makes), recorded
/// in the tree as `.mvm/recipe` and so part of its digest. A published tree of another revision
/// (or of none: built before revisions were recorded) is not a hit: it is built again under the
/// lock and `current` is moved to the new tree in one rename, while callers already holding the
/// old tree keep it.
///
/// An unknown name is an Error listing the known ones; so are build failures (a missing host tool,
/// no network to the Debian mirror), with a hint. `debootstrap` makes Debian-based templates
/// (python-3.11); without one, building such a template is an Error (a cache hit needs none).
ErrorOr<Materialized> MaterializeTemplate(std::string_view name,
                                          const std::filesystem::path& cache_dir,
                                          const ProgressFn& progress,
                                          const DebootstrapFn& debootstrap = {});

/// The digest of a directory tree: "sha256:<64 hex>" over a deterministic serialisation of every
/// entry, `dir` itself included, sorted by relative path (relative path, type, permission bits,
/// SHA-256 of a regular file's content, a symlink's target; NOT mtimes, owners or inode numbers, so
/// copying or touching a tree keeps its digest). Symlinks are recorded, never followed. Refuses
/// (Error) device nodes, sockets and fifos rather than guessing how to hash them.
ErrorOr<std::string> TreeDigest(const std::filesystem::path& dir);

/// Moves the published tree of template `name` from `from_cache` into `to_cache` (the same file
/// system) when `to_cache` has none of this mvm's recipe revision, e.g. a test that built
/// python-3.11 afresh handing it to a shared cache. Under `to_cache`'s lock, so concurrent users
/// of `to_cache` see either its old tree or the new one. True when it moved; false when
/// `to_cache` already had a current tree.
ErrorOr<bool> HandOverTemplate(std::string_view name, const std::filesystem::path& from_cache,
                               const std::filesystem::path& to_cache);

/// One built-in template and its state in a cache directory.
struct TemplateStatus {
  std::string name;
  std::string description;
  /// The recipe revision this mvm builds, and the one the published tree was built by (empty when
  /// none is recorded: a tree from before revisions); they differ for a stale tree, which the next
  /// use builds again.
  std::string wanted_revision;
  std::string revision;
  bool stale() const { return built && revision != wanted_revision; }
  bool built = false;
  std::string digest;         ///< "sha256:<64 hex>" when built, else empty
  std::filesystem::path dir;  ///< the published tree when built, else empty
};

/// Every built-in template (ir::BuiltinTemplates order) and whether it is built in `cache_dir`, by
/// the same cheap check as a cache hit. Builds nothing and creates nothing.
std::vector<TemplateStatus> ListTemplates(const std::filesystem::path& cache_dir);

}  // namespace mvm::runtime::rootfs

#endif  // MVM_RUNTIME_ROOTFS_ROOTFS_H_
