#ifndef MVM_CLI_COMPILATION_H_
#define MVM_CLI_COMPILATION_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ir/module.h"
#include "ir/support/diagnostic.h"
#include "ir/support/error_or.h"
#include "ir/support/source_file.h"
#include "passes/pass.h"

namespace mvm::cli {

/// The stage after which a compilation stops (`--phase`).
enum class Phase { kFrontend, kPasses };

/// What to compile and how.
struct CompileRequest {
  std::vector<std::string> paths;  ///< files and directories, as the user wrote them
  bool from_ir = false;            ///< paths are IR JSON files (SDK record mode), not source
  passes::PassOptions pass_options;
  std::string pipeline = std::string(passes::kDefaultPipeline);
  Phase phase = Phase::kPasses;
};

/// Everything one invocation produced. Owns the source files so printers can show source lines.
struct Compilation {
  std::vector<std::unique_ptr<SourceFile>> files;
  ir::Module module;
  std::vector<Diagnostic> diagnostics;

  bool has_errors() const;
  /// The file with `path`, or nullptr.
  const SourceFile* Find(std::string_view path) const;
};

/// Expands directories into the .py/.ts/.tsx files below them (sorted, hidden directories,
/// node_modules and __pycache__ skipped). Files given explicitly are kept whatever their extension,
/// so a wrong one gets a diagnostic rather than being silently dropped.
ErrorOr<std::vector<std::string>> ExpandPaths(const std::vector<std::string>& paths);

/// Reads, parses and (unless stopped earlier) runs the pass pipeline. Environment failures (an
/// unreadable file, a bad pipeline) are Errors; mistakes in the input are diagnostics.
ErrorOr<Compilation> Compile(const CompileRequest& request);

/// How diagnostics are printed.
enum class DiagnosticFormat { kHuman, kJson, kSarif };

/// Prints diagnostics: human to stderr (colour on a terminal unless NO_COLOR), JSON and SARIF to
/// stdout (always, also when empty).
void PrintDiagnostics(const Compilation& compilation, DiagnosticFormat format);

}  // namespace mvm::cli

#endif  // MVM_CLI_COMPILATION_H_
