#ifndef MVM_CLI_OUTPUT_FILES_H_
#define MVM_CLI_OUTPUT_FILES_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "ir/support/error_or.h"

namespace mvm::cli {

/// Writes `bytes` to `path` through a temporary file and a rename, so readers never see half a
/// file.
ErrorOr<Ok> WriteFileAtomically(const std::filesystem::path& path, std::string_view bytes);

/// Reads a whole input file (plans; keys have their own loaders). Files above `max_bytes` are an
/// Error rather than a memory exhaustion: plans are a few KiB.
ErrorOr<std::string> ReadWholeFile(const std::filesystem::path& path,
                                   uintmax_t max_bytes = uintmax_t{16} << 20);

}  // namespace mvm::cli

#endif  // MVM_CLI_OUTPUT_FILES_H_
