#ifndef MVM_CLI_OUTPUT_FILES_H_
#define MVM_CLI_OUTPUT_FILES_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "ir/support/error_or.h"
#include "ir/support/os/atomic_file.h"

namespace mvm::cli {

/// Output files (IR, plans, build requests) are written by the one durability rule of
/// ir/support/os/atomic_file.h.
using os::WriteFileAtomically;

/// Reads a whole input file (plans; keys have their own loaders). Files above `max_bytes` are an
/// Error rather than a memory exhaustion: plans are a few KiB.
ErrorOr<std::string> ReadWholeFile(const std::filesystem::path& path,
                                   uintmax_t max_bytes = uintmax_t{16} << 20);

}  // namespace mvm::cli

#endif  // MVM_CLI_OUTPUT_FILES_H_
