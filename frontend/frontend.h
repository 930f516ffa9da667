#ifndef MVM_FRONTEND_FRONTEND_H_
#define MVM_FRONTEND_FRONTEND_H_

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

}  // namespace mvm::frontend

#endif  // MVM_FRONTEND_FRONTEND_H_
