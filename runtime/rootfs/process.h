#ifndef MVM_RUNTIME_ROOTFS_PROCESS_H_
#define MVM_RUNTIME_ROOTFS_PROCESS_H_

// Running the host tools a template build needs; not part of mvm_rootfs's public API.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/support/error_or.h"

namespace mvm::runtime::rootfs {

/// How a finished process ended and what it printed.
struct ProcessResult {
  int exit_code = -1;  ///< the exit status, or -1 when a signal killed it
  int signal = 0;      ///< the signal that killed it, or 0
  /// stdout and stderr interleaved as written; only the last kMaxProcessOutput bytes when longer.
  std::string output;

  bool success() const { return exit_code == 0; }
  /// "exit status 3" / "killed by signal 9", for messages.
  std::string Describe() const;
  /// The last `lines` lines of `output`.
  std::string Tail(size_t lines) const;
};

/// Output beyond this is dropped from the front of ProcessResult::output: errors are at the end.
inline constexpr size_t kMaxProcessOutput = 1 << 20;

/// Runs `argv` (argv[0] looked up on PATH) to completion with stdin from /dev/null and stdout and
/// stderr on one pipe, calling `on_line` (when set) with each output line as it arrives. An Error
/// only when the process cannot be started (e.g. the tool is not installed); a failing process is
/// a ProcessResult the caller judges.
ErrorOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                  const std::function<void(std::string_view line)>& on_line);

}  // namespace mvm::runtime::rootfs

#endif  // MVM_RUNTIME_ROOTFS_PROCESS_H_
