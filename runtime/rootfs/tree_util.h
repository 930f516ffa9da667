#ifndef MVM_RUNTIME_ROOTFS_TREE_UTIL_H_
#define MVM_RUNTIME_ROOTFS_TREE_UTIL_H_

// File-system helpers shared by the files of mvm_rootfs; not part of its public API.

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "ir/support/error_or.h"
#include "ir/support/os/errno_text.h"

namespace mvm::runtime::rootfs {

using os::ErrnoText;

/// "`path`", the way error messages quote paths.
std::string Quote(const std::filesystem::path& path);

/// Writes `content` to a new file at `path` with exactly `mode` (whatever the umask).
ErrorOr<Ok> WriteTextFile(const std::filesystem::path& path, std::string_view content, mode_t mode);

/// Makes `path` a directory with exactly `mode`, creating missing parents (0755); an existing
/// directory only gets its mode set.
ErrorOr<Ok> MakeDir(const std::filesystem::path& path, mode_t mode);

/// Clears every write bit and every setuid/setgid bit in the tree at `root`, `root` included;
/// symlinks are left alone (their mode means nothing). A published template must not change by
/// accident, and a sandbox never needs a file to raise its privileges.
ErrorOr<Ok> SealTree(const std::filesystem::path& root);

/// Removes the tree at `path` even when SealTree made it read-only, without following symlinks. It
/// refuses (Error) to descend into another file system, so a build that died with something still
/// mounted inside its tree (mmdebstrap mounts /proc and /sys there) can never make it delete host
/// files through that mount. A missing `path` is fine.
ErrorOr<Ok> RemoveTree(const std::filesystem::path& path);

/// An Error when a component of `relative` beneath `root` (the last one included) is a symlink: a
/// tree that came out of the builder is data, and the host must not write or remove through a link
/// in it (`var` -> `/var` would make stripping empty the host's /var/log). Missing components are
/// fine. Call it before touching a path of such a tree; nobody else writes the tree meanwhile.
ErrorOr<Ok> RefuseSymlinkedPath(const std::filesystem::path& root, std::string_view relative);

}  // namespace mvm::runtime::rootfs

#endif  // MVM_RUNTIME_ROOTFS_TREE_UTIL_H_
