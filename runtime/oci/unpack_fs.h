#ifndef MVM_RUNTIME_OCI_UNPACK_FS_H_
#define MVM_RUNTIME_OCI_UNPACK_FS_H_

// The file-system steps of unpack.cc that need no layer: member names, fd-relative listing and
// removal. Not part of mvm_oci's API.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ir/support/error_or.h"

namespace mvm::runtime::oci::unpack_internal {

/// openat2 (no glibc wrapper in Debian 12), retrying EINTR and the EAGAIN RESOLVE_IN_ROOT returns
/// when a concurrent rename made it unsure. O_CLOEXEC is added. -1 with errno set on failure.
int OpenAt2(int dirfd, const std::string& path, uint64_t flags, uint64_t resolve);

/// A member name or link target as error messages show it: escaped for a terminal, in backticks,
/// at most 200 bytes.
std::string Shown(std::string_view name);

/// `name` split into its components, `./` and empty components dropped; the rule it breaks (the
/// error) when it is absolute, has a `..` component, is longer than PATH_MAX or deeper than
/// kMaxUnpackDepth.
ErrorOr<std::vector<std::string>, std::string> SplitMember(std::string_view name);

/// The first `n` of `parts` joined with `/`; "." when `n` is 0.
std::string Join(const std::vector<std::string>& parts, size_t n);

/// `key`/`name`, or `name` when `key` is the root ("").
std::string Child(const std::string& key, std::string_view name);

/// The names in the directory open at `fd` (not `.` and `..`); `fd` may be an O_PATH descriptor.
ErrorOr<std::vector<std::string>> ListDir(int fd);

/// Removes `name` in `dirfd` and, for a directory, everything below it, following no symlink. A
/// missing `name` is fine. The recursion is as deep as the tree, which an unpack bounds
/// (kMaxUnpackDepth).
ErrorOr<Ok> RemoveAt(int dirfd, const std::string& name);

/// The path of what `fd` is open on, from /proc/self/fd; empty when it cannot be read or is longer
/// than PATH_MAX.
std::string ProcPath(int fd);

}  // namespace mvm::runtime::oci::unpack_internal

#endif  // MVM_RUNTIME_OCI_UNPACK_FS_H_
