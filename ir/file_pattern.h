// Gitignore-syntax path patterns: what `files=[...]` and `.gitignore` files say, read one way.
#ifndef MVM_IR_FILE_PATTERN_H_
#define MVM_IR_FILE_PATTERN_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/support/error_or.h"

namespace mvm::ir {

/// One pattern, as gitignore(5) reads it: `!` negates; a trailing `/` matches directories only; a
/// pattern with a `/` before its end is anchored to its base directory, one without matches a name
/// at any depth; `*` and `?` stay within one path segment, `[...]` is a class, `\` escapes;
/// `**/` matches any leading directories, `/**` everything inside, `/**/` zero or more directories.
class FilePattern {
 public:
  /// Compiles `text`; an Error saying what is wrong (empty, `..` or `.` segments, an unclosed `[`).
  static ErrorOr<FilePattern> Parse(std::string_view text);

  /// True when `path` ('/'-separated, relative to the pattern's base, no `.`/`..`) matches;
  /// `is_dir` says whether it names a directory.
  bool Matches(std::string_view path, bool is_dir) const;

  bool negated() const { return negated_; }
  const std::string& text() const { return text_; }

 private:
  std::string text_;  ///< as written
  std::vector<std::string> segments_;
  bool negated_ = false;
  bool dir_only_ = false;
};

/// `.gitignore` text: its patterns in order, with blank lines, `#` comments and trailing unescaped
/// spaces dropped. A line that is no valid pattern is skipped, as git skips it.
std::vector<FilePattern> ParseGitignore(std::string_view text);

/// The verdict of a pattern list for `path`: the last pattern that matches it decides; nullopt when
/// none matches; true when that pattern is not negated.
std::optional<bool> LastMatch(const std::vector<FilePattern>& patterns, std::string_view path,
                              bool is_dir);

/// `files=` selection: the last pattern matching `file` or one of the directories above it
/// decides; a file nothing matches is not selected.
bool Selects(const std::vector<FilePattern>& patterns, std::string_view file);

}  // namespace mvm::ir

#endif  // MVM_IR_FILE_PATTERN_H_
