#ifndef MVM_FRONTEND_FRONTEND_H_
#define MVM_FRONTEND_FRONTEND_H_

#include <memory>
#include <string_view>
#include <vector>

#include "ir/module.h"
#include "ir/support/diagnostic.h"
#include "ir/support/source_file.h"

namespace mvm::frontend {

/// What reading one source file produced: its workloads (with locations) and the diagnostics found
/// while reading declarations. The file is parsed, never imported or run.
struct FrontendResult {
  ir::Module module;
  std::vector<Diagnostic> diagnostics;
};

/// True when some frontend handles files with this path's extension (.py, .ts, .tsx).
bool IsSupportedSource(std::string_view path);

/// Parses `file` with the grammar its extension selects and reads its mvm declarations. Never
/// fails: an unsupported extension or a syntax error is a diagnostic.
FrontendResult ParseSource(const SourceFile& file);

/// Turns `file` as read from disk into the text ParseSource reads, as Python's tokenizer does
/// before it reads a file: a Python file's PEP 263 encoding declaration (`# -*- coding: latin-1
/// -*-` on line 1 or 2) is decoded to UTF-8 with iconv, and CRLF and lone CR line endings become
/// LF.
/// Diagnostics on the result count lines and columns in the decoded text, as an editor shows it.
/// Leaves files that cannot use mvm alone. Returns false after reporting an unknown encoding, or
/// bytes that are not in the declared one, in a file that uses mvm. Text that is already decoded
/// (an editor's buffer) must not pass through here: its declaration no longer describes it.
bool DecodeSource(SourceFile& file, DiagnosticSink& sink);

/// The part of DecodeSource that text already decoded to Unicode needs too: in a Python file that
/// may use mvm, CRLF and lone CR line endings become LF. For an editor's buffer, which an LSP
/// client sends decoded (its PEP 263 declaration no longer describes it): lines and code-point
/// columns are those of the buffer, since each line ending stays one line ending.
void NormalizeLineEndings(SourceFile& file);

/// The syntax trees of one edited buffer, kept between parses so that a parse after an edit
/// re-uses the unchanged parts of the previous tree (tree-sitter incremental parsing) instead of
/// starting over. Owns its trees and parser; one per buffer; not thread-safe. A moved-from parser
/// may only be destroyed or assigned to.
class IncrementalParser {
 public:
  IncrementalParser();
  ~IncrementalParser();
  IncrementalParser(IncrementalParser&&) noexcept;
  IncrementalParser& operator=(IncrementalParser&&) noexcept;

  /// Records that bytes [begin, end) of the text this parser saw last (the last parse's text with
  /// earlier edits applied) were replaced by `replacement`. Offsets past the end are clamped.
  void Edit(uint32_t begin, uint32_t end, std::string_view replacement);

  /// How many parses so far started from a previous tree rather than from scratch (for tests).
  int reused_parses() const;

 private:
  friend FrontendResult ParseSource(const SourceFile& file, IncrementalParser& parser);
  struct State;
  std::unique_ptr<State> state_;
};

/// Parses `file` exactly as `ParseSource(file)` does (same module, same diagnostics), re-using
/// `parser`'s previous trees when the edits recorded since the last parse turn its text into
/// `file`'s contents; any other text is parsed from scratch.
FrontendResult ParseSource(const SourceFile& file, IncrementalParser& parser);

}  // namespace mvm::frontend

#endif  // MVM_FRONTEND_FRONTEND_H_
