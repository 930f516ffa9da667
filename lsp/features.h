#ifndef MVM_LSP_FEATURES_H_
#define MVM_LSP_FEATURES_H_

#include <nlohmann/json.hpp>
#include <span>

#include "ir/support/diagnostic.h"
#include "lsp/document.h"

namespace mvm::lsp {

/// The `textDocument/hover` result at `pos`: what the option under the cursor means, its range,
/// default and production-profile rule, when the cursor is on an option name inside
/// `@workload(...)` or `@entrypoint(...)`; null elsewhere.
nlohmann::json Hover(const Document& document, Position pos);

/// The `textDocument/completion` result at `pos`: the option names of the enclosing `@workload(`
/// or `@entrypoint(` argument list in the document's spelling (Python snake_case, TypeScript
/// camelCase); an empty list elsewhere.
nlohmann::json Complete(const Document& document, Position pos);

/// The `textDocument/codeAction` result for `range`: quick fixes for the diagnostics of
/// `document` that overlap it (rename an unknown option to the suggested one, add a timeout).
nlohmann::json CodeActions(const Document& document, std::span<const Diagnostic> diagnostics,
                           const nlohmann::json& range);

}  // namespace mvm::lsp

#endif  // MVM_LSP_FEATURES_H_
