#ifndef MVM_XTASK_TASKS_H_
#define MVM_XTASK_TASKS_H_

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mvm::xtask {

/// The options every task shares: `--root DIR` (default `.`) and, for tasks that take it,
/// `--check`.
struct TaskArgs {
  std::filesystem::path root = ".";
  bool check = false;
};

/// Parses `args` for task `task`; on an argument the task does not take, prints why on stderr and
/// returns nullopt (the caller exits 2).
std::optional<TaskArgs> ParseTaskArgs(std::string_view task, const std::vector<std::string>& args,
                                      bool takes_check);

/// `xtask fmt [--check] [--root DIR]`: runs clang-format (16, for InsertBraces) over mvm's C++
/// sources. With --check nothing is rewritten; unformatted files are listed and the exit status
/// is 1.
int RunFmt(const std::vector<std::string>& args);

/// `xtask gen-docs [--check] [--root DIR]`: writes docs/reference/{diagnostics,options}.md from the
/// registries and the examples in docs/reference/examples/diagnostics/ (compiled in-process); exit
/// 1 when a kind's example is missing or misbehaves, or, with --check, when a page differs from
/// what would be written.
int RunGenDocs(const std::vector<std::string>& args);

/// `xtask check-doc-claims [--root DIR]`: reads the claim ledger (docs/claims.md) and the gated
/// phrases (docs/claims-phrases.txt); exit 1, one `file:line: message` per finding, when README.md,
/// docs/**/*.md or examples/** use a gated phrase of a claim that is not Shipped (unless an allow
/// comment with a reason covers it) or when the ledger itself is inconsistent. Exit 0 prints a
/// one-line summary on stdout.
int RunCheckDocClaims(const std::vector<std::string>& args);

}  // namespace mvm::xtask

#endif  // MVM_XTASK_TASKS_H_
