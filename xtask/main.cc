// xtask: developer tasks that keep the tree honest (formatting, generated docs, doc claims).

#include <cstdio>
#include <string>
#include <vector>

#include "xtask/tasks.h"

namespace mvm::xtask {

std::optional<TaskArgs> ParseTaskArgs(std::string_view task, const std::vector<std::string>& args,
                                      bool takes_check) {
  TaskArgs parsed;
  for (size_t i = 0; i < args.size(); ++i) {
    if (takes_check && args[i] == "--check") {
      parsed.check = true;
    } else if (args[i] == "--root" && i + 1 < args.size()) {
      parsed.root = args[++i];
    } else {
      std::fprintf(stderr, "xtask %.*s: error: unexpected argument `%s`\n",
                   static_cast<int>(task.size()), task.data(), args[i].c_str());
      return std::nullopt;
    }
  }
  return parsed;
}

}  // namespace mvm::xtask

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::printf(
        "usage: xtask <task> [options]\n\n"
        "tasks:\n"
        "  fmt [--check] [--root DIR]       clang-format every C++ file (check: exit 1 if any is "
        "not)\n"
        "  gen-docs [--check] [--root DIR]  write docs/reference/ from the compiler's tables\n"
        "  check-doc-claims [--root DIR]    fail when a page claims more than docs/claims.md "
        "allows\n");
    return args.empty() ? 2 : 0;
  }
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "gen-docs") {
    return mvm::xtask::RunGenDocs(rest);
  }
  if (args[0] == "check-doc-claims") {
    return mvm::xtask::RunCheckDocClaims(rest);
  }
  if (args[0] == "fmt") {
    return mvm::xtask::RunFmt(rest);
  }
  std::fprintf(stderr, "xtask: error: unknown task `%s`; run `xtask --help`\n", args[0].c_str());
  return 2;
}
