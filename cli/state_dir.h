#ifndef MVM_CLI_STATE_DIR_H_
#define MVM_CLI_STATE_DIR_H_

#include <filesystem>

#include "cli/args.h"

namespace mvm::cli {

/// Where mvm keeps its state when `--state-dir` is not given (runtime::ResolveStateDir).
std::filesystem::path DefaultStateDir();

/// The `--state-dir` of `args` (made absolute) when given, else DefaultStateDir(). Commands that
/// take the flag list it as `{"state-dir", true}` in their FlagSpecs.
std::filesystem::path StateDirFrom(const Args& args);

}  // namespace mvm::cli

#endif  // MVM_CLI_STATE_DIR_H_
