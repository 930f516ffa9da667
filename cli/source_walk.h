#ifndef MVM_CLI_SOURCE_WALK_H_
#define MVM_CLI_SOURCE_WALK_H_

#include <string>
#include <string_view>
#include <vector>

#include "ir/support/error_or.h"

namespace mvm::cli {

/// One `.gitignore` line, compiled.
struct IgnoreRule {
  std::string base;     ///< directory of the .gitignore, relative to the walk root ("" = root)
  std::string pattern;  ///< glob without the leading `!`, leading `/` or trailing `/`
  bool negate = false;
  bool dir_only = false;
  bool anchored = false;  ///< contains a `/` before its end: matched against the path from `base`
};

/// Parses the text of a .gitignore found in directory `base` (relative to the walk root).
std::vector<IgnoreRule> ParseGitignore(std::string_view text, std::string_view base);

/// Git's verdict for `path` (relative to the walk root, `/`-separated) after `rules` in order: the
/// last matching rule wins. Patterns support `*`, `?`, `[...]` and `**`.
bool IsIgnored(const std::vector<IgnoreRule>& rules, std::string_view path, bool is_dir);

/// Glob match of one pattern against a path; `*` and `?` do not cross `/`, `**` does.
bool GlobMatch(std::string_view pattern, std::string_view text);

/// The .py/.ts/.tsx files below `dir`, sorted, honouring the .gitignore files inside it (and those
/// of its ancestors up to the enclosing git work tree), skipping `.git`, `node_modules` and hidden
/// directories.
ErrorOr<std::vector<std::string>> WalkSourceDirectory(const std::string& dir);

}  // namespace mvm::cli

#endif  // MVM_CLI_SOURCE_WALK_H_
