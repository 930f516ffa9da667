// A documentation page as `xtask check-doc-claims` reads it: normalised so that no way of writing a
// gated phrase hides it.
#ifndef MVM_XTASK_DOC_TEXT_H_
#define MVM_XTASK_DOC_TEXT_H_

#include <string>
#include <string_view>
#include <vector>

namespace mvm::xtask {

/// `text` in ASCII lowercase.
std::string Lower(std::string_view text);

/// A page's text as the phrases see it: HTML comments and tags, Markdown emphasis and code marks
/// (`*`, `_`, `~`, backquotes), backslash escapes, link destinations (`[text](url)` reads as
/// `text`) and zero-width characters dropped; Unicode and entity spaces as spaces, curly quotes and
/// dashes as ASCII; every run of whitespace (line breaks included) one space. `line_of[i]` is the
/// 1-based line of `text[i]`.
struct FlatText {
  std::string text;
  std::vector<int> line_of;
};
FlatText Flatten(std::string_view source);

}  // namespace mvm::xtask

#endif  // MVM_XTASK_DOC_TEXT_H_
