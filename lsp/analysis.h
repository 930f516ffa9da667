#ifndef MVM_LSP_ANALYSIS_H_
#define MVM_LSP_ANALYSIS_H_

#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
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

/// The LSP range (`{"start":…,"end":…}`) of `loc` within `document`'s text; the start of the
/// file when `loc` has no location.
nlohmann::json RangeOf(const Document& document, const SourceLoc& loc);

/// The LSP Diagnostic for `d`: range, severity, code (`MVMnnnn`), source `mvm`, the message with
/// the hint appended, and the kind name in `data`. Carries no source text, so masked secrets stay
/// masked.
nlohmann::json ToLsp(const Document& document, const Diagnostic& d);

}  // namespace mvm::lsp

#endif  // MVM_LSP_ANALYSIS_H_
