#ifndef MVM_RUNTIME_ROOTFS_ELF_H_
#define MVM_RUNTIME_ROOTFS_ELF_H_

#include <filesystem>

#include "ir/support/error_or.h"

namespace mvm::runtime::rootfs {

/// Whether the ELF executable at `path` is statically linked, i.e. has no PT_INTERP program header
/// and so runs without a dynamic loader (static-pie counts as static). Reads the headers only;
/// never runs the file. An Error when the file cannot be read or is not an ELF file in this
/// machine's byte order.
ErrorOr<bool> IsStaticElf(const std::filesystem::path& path);

}  // namespace mvm::runtime::rootfs

#endif  // MVM_RUNTIME_ROOTFS_ELF_H_
