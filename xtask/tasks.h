#ifndef MVM_XTASK_TASKS_H_
#define MVM_XTASK_TASKS_H_

#include <string>
#include <vector>

namespace mvm::xtask {

/// `xtask fmt [--check] [--root DIR]`: runs clang-format (16, for InsertBraces) over mvm's C++ sources.
/// With --check nothing is rewritten; unformatted files are listed and the exit status is 1.
int RunFmt(const std::vector<std::string>& args);

/// `xtask gen-docs [--check] [--root DIR]`: writes docs/reference/{diagnostics,options}.md from the
/// registries; with --check, exit 1 when a page differs from what would be written.
int RunGenDocs(const std::vector<std::string>& args);

}  // namespace mvm::xtask

#endif  // MVM_XTASK_TASKS_H_
