#ifndef MVM_IR_SUPPORT_OS_FILES_H_
#define MVM_IR_SUPPORT_OS_FILES_H_

// Whole-file reads and copies with the care host files need: no symlink followed at the last
// component, a bound on what is read into memory, and copies that leave the source's offset alone.

#include <cstdint>
#include <filesystem>
#include <string>

#include "ir/support/error_or.h"

namespace mvm::os {

/// The bytes of the regular file `path`, whose last component is not followed if it is a symlink;
/// an Error when it is unreadable, not a regular file, or larger than `limit` bytes.
ErrorOr<std::string> ReadFileBounded(const std::filesystem::path& path, int64_t limit);

/// Copies everything `from` holds, from its offset 0 (its own offset is not moved: another holder
/// of the descriptor may read it next), to `to` at `to`'s offset; within the kernel where the two
/// file systems allow it. Returns the bytes copied.
ErrorOr<uint64_t> CopyAll(int from, int to);

}  // namespace mvm::os

#endif  // MVM_IR_SUPPORT_OS_FILES_H_
