#ifndef MVM_XTASK_TASKS_H_
#define MVM_XTASK_TASKS_H_

#include <string>
#include <vector>

namespace mvm::xtask {

/// `xtask fmt [--check] [--root DIR]`: runs clang-format (16, for InsertBraces) over mvm's C++ sources.
/// With --check nothing is rewritten; unformatted files are listed and the exit status is 1.
int RunFmt(const std::vector<std::string>& args);

}  // namespace mvm::xtask

#endif  // MVM_XTASK_TASKS_H_
