#ifndef MVM_FRONTEND_COMMON_FRONTEND_LANGUAGE_H_
#define MVM_FRONTEND_COMMON_FRONTEND_LANGUAGE_H_

#include <tree_sitter/api.h>

#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "frontend/common/declaration.h"
#include "ir/support/diagnostic.h"
#include "ir/support/source_file.h"

namespace mvm::frontend {

/// One grammar's module: finds mvm declarations in a syntax tree and evaluates their arguments
/// statically. Everything after that (option binding, IR, passes) is shared, so languages cannot
/// drift.
class FrontendLanguage {
 public:
  virtual ~FrontendLanguage() = default;

  /// The IR-level language (spellings of options).
  virtual Language language() const = 0;

  /// The grammar for `path` (TypeScript has separate .ts and .tsx grammars).
  virtual const TSLanguage* Grammar(std::string_view path) const = 0;

  /// Appends the workload declarations of `root` to `out`; reports non-static values and
  /// misplaced decorators. `root` may hold syntax errors, which the reader passes over; the names
  /// the declarations depend on (AppendNamesUsed) are added to `names_used` so that the driver can
  /// tell whether an error could have changed them. Must not recurse without bound (inputs are
  /// untrusted).
  virtual void ReadDeclarations(const SourceFile& file, TSNode root, std::vector<WorkloadDecl>& out,
                                DiagnosticSink& sink,
                                std::unordered_set<std::string>& names_used) const = 0;

  /// The line-comment marker of a language whose grammar can reject valid code because of a comment
  /// alone on its line (tree-sitter-python does when such a comment, at a shallower indent, sits
  /// between a decorator and its `def`); empty when the grammar has no such problem. The driver
  /// then retries with those comments blanked out.
  virtual std::string_view FragileLineComment() const { return ""; }

  /// For a grammar that mistakes a line break inside brackets for the end of a statement
  /// (tree-sitter-python does when the next line is indented less than the enclosing block, as in
  /// `(a.\nb)`), `text` with every such line break, and every comment inside brackets, made
  /// spaces: the same length, so offsets do not move. Empty when nothing would change or the
  /// grammar has no such problem. The driver retries with it when the first parse has errors.
  virtual std::string JoinBracketedLines(std::string_view /*text*/) const { return {}; }

  /// Text that every file importing the SDK contains (the module name as spelled in an import): a
  /// file without it cannot declare anything and is skipped before it is parsed.
  virtual std::string_view ModuleMarker() const = 0;

  /// Whether `root` (which may contain syntax errors) imports the SDK module at module level,
  /// imports guarded by `if` / `try` blocks included. Only such files get diagnostics: a file that
  /// does not use mvm is not mvm's to judge.
  virtual bool ImportsSdk(const SourceFile& file, TSNode root) const = 0;
};

/// The language module for `path`'s extension, or nullptr.
const FrontendLanguage* LanguageForPath(std::string_view path);

/// The Python module (.py). A static singleton: valid for the whole program.
const FrontendLanguage& PythonLanguage();

/// The TypeScript module (.ts with the typescript grammar, .tsx with the tsx grammar). A static
/// singleton: valid for the whole program.
const FrontendLanguage& TypeScriptLanguage();

}  // namespace mvm::frontend

#endif  // MVM_FRONTEND_COMMON_FRONTEND_LANGUAGE_H_
