#ifndef MVM_RUNTIME_ROOTFS_TEMPLATES_H_
#define MVM_RUNTIME_ROOTFS_TEMPLATES_H_

// The builders behind MaterializeTemplate; not part of mvm_rootfs's public API.

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "ir/support/error_or.h"
#include "runtime/rootfs/rootfs.h"

namespace mvm::runtime::rootfs {

/// Builds a template's tree into `root`, an existing empty directory. The caller seals, hashes and
/// publishes it, and removes it on an Error.
using BuildFn = ErrorOr<Ok> (*)(const std::filesystem::path& root, const ProgressFn& progress,
                                const DebootstrapFn& debootstrap);

/// Any builder of a tree, for MaterializeInto.
using TreeBuilder =
    std::function<ErrorOr<Ok>(const std::filesystem::path& root, const ProgressFn& progress)>;

/// MaterializeTemplate's cache logic for any tree: `dir` holds `current`, the `sha256-<hex>` trees
/// and the lock, as MaterializeTemplate documents; `name` names the tree in progress lines
/// ("template python-3.11"). `revision` is the recipe's revision, written to `.mvm/recipe` in the
/// tree before it is sealed; a published tree of another revision is a miss. `build` runs only on
/// a miss, under the lock.
ErrorOr<Materialized> MaterializeInto(std::string_view name, const std::filesystem::path& dir,
                                      std::string_view revision, const TreeBuilder& build,
                                      const ProgressFn& progress);

/// The recipe revision a published tree records in `.mvm/recipe`; empty for a tree from before
/// revisions were recorded (or an unreadable marker), which matches no revision.
std::string RevisionOf(const std::filesystem::path& tree);

/// Moves `tree` (a published `sha256-<hex>` tree of `revision`, on the same file system) into
/// `dir` and points `current` at it, under `dir`'s lock, unless `dir` already has a tree of
/// `revision`. True when it moved; an Error when `tree` is of another revision.
ErrorOr<bool> AdoptTree(std::string_view name, const std::filesystem::path& tree,
                        const std::filesystem::path& dir, std::string_view revision);

/// The recipe revision of the built-in template `name`: bumped whenever its builder changes what
/// it makes, so trees cached by an older recipe are rebuilt rather than used forever.
std::string_view TemplateRevision(std::string_view name);

/// The builder of the built-in template `name` (an ir::BuiltinTemplates name), or nullptr.
BuildFn FindBuilder(std::string_view name);

/// `busybox`: the host's static /bin/busybox (Debian busybox-static) with a symlink per applet.
ErrorOr<Ok> BuildBusybox(const std::filesystem::path& root, const ProgressFn& progress,
                         const DebootstrapFn& debootstrap);

/// `python-3.11`: Debian bookworm minbase plus python3 (3.11 and its standard library), made by
/// `debootstrap` (an Error without one), then checked, stripped and given the sandbox skeleton
/// here.
ErrorOr<Ok> BuildPython311(const std::filesystem::path& root, const ProgressFn& progress,
                           const DebootstrapFn& debootstrap);

/// Removes from a tree mmdebstrap made what a sandbox never needs and what only makes two builds
/// of the same packages differ (apt lists and archives, logs, manuals, translations, device nodes,
/// documentation but each copyright file, the build host's resolv.conf); dpkg's database stays.
ErrorOr<Ok> StripDebianTree(const std::filesystem::path& root);

/// What every template has whatever its contents: the directories the sandbox backends mount on
/// (/proc /dev /sys /tmp /run /run/mvm /.mvm/sdk/python /app /root /home), /etc/hostname and an
/// /etc/hosts that knows only localhost. Existing directories keep their contents; the two files
/// are replaced.
ErrorOr<Ok> AddSandboxSkeleton(const std::filesystem::path& root);

}  // namespace mvm::runtime::rootfs

#endif  // MVM_RUNTIME_ROOTFS_TEMPLATES_H_
