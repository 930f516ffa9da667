#ifndef MVM_LSP_ANALYSIS_H_
#define MVM_LSP_ANALYSIS_H_

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ir/support/diagnostic.h"
#include "lsp/document.h"
#include "passes/pass.h"

namespace mvm::lsp {

/// Runs the frontend and the default pass pipeline over every document in `documents`, in the
/// given order, sharing one workload-id index so a duplicate id across open documents is
/// reported on the later one. Returns the diagnostics of each document, keyed by its uri.
std::map<std::string, std::vector<Diagnostic>> Analyze(std::span<const Document* const> documents,
                                                       const passes::PassOptions& options);

/// The analysis of the open documents, kept between edits so that an edit re-does only what it
/// can change: the edited document is re-parsed incrementally (its tree-sitter tree is edited and
/// re-used) and re-read, and the passes run again only on documents whose declarations or whose
/// competitors for a workload id changed. `Diagnostics` always equals what `Analyze` computes from
/// scratch for the same documents and options.
class Workspace {
 public:
  /// Records that bytes [begin, end) of `uri`'s text, as it was after the previous calls, were
  /// replaced by `replacement`. A document not seen yet needs no edits.
  void Edit(const std::string& uri, uint32_t begin, uint32_t end, std::string_view replacement);

  /// Forgets everything about `uri` (closed).
  void Close(const std::string& uri);

  /// Sets the options the passes run with; every document's passes run again on the next Update.
  void SetOptions(const passes::PassOptions& options);

  /// Brings the diagnostics of `documents` (in the order that decides which of two declarations
  /// of one id is the duplicate) up to date with their texts. Returns the uris whose diagnostics
  /// were recomputed (they may have come out the same).
  std::vector<std::string> Update(std::span<const Document* const> documents);

  /// The diagnostics of `uri` after the last Update; empty for an unknown uri.
  const std::vector<Diagnostic>& Diagnostics(const std::string& uri) const;

  /// How many parses of `uri` started from its previous tree (for tests).
  int ReusedParses(const std::string& uri) const;

 private:
  struct DocumentState;
  std::map<std::string, std::shared_ptr<DocumentState>> states_;
  passes::PassOptions options_;
};

/// The LSP range (`{"start":…,"end":…}`) of `loc` within `document`'s text; the start of the
/// file when `loc` has no location.
nlohmann::json RangeOf(const Document& document, const SourceLoc& loc);

/// The LSP Diagnostic for `d`: range, severity, code (`MVMnnnn`), source `mvm`, the message with
/// the hint appended, and the kind name in `data`. Carries no source text, so masked secrets stay
/// masked. Notes ("first declared here") become `relatedInformation` when they point into
/// `document` or one of `open` (other open documents, by path).
nlohmann::json ToLsp(const Document& document, const Diagnostic& d,
                     std::span<const Document* const> open = {});

}  // namespace mvm::lsp

#endif  // MVM_LSP_ANALYSIS_H_
