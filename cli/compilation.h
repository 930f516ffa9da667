#ifndef MVM_CLI_COMPILATION_H_
#define MVM_CLI_COMPILATION_H_

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backend-emit/plan/project_files.h"
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
  /// Keep the IR of every workload (compile needs it; check does not, and dropping it per file
  /// keeps memory flat in the number of files).
  bool keep_ir = true;
  /// Threads that read and parse files; 0 is one per core (CompileThreads). The output does not
  /// depend on it.
  unsigned threads = 0;
  /// Resolve each workload's project files (plans need them; checks and IR dumps do not): its
  /// `files=` or the default, relative to the declaring file's directory. From IR, only a declared
  /// `files=` is resolved, relative to the directory of the workload's source location.
  bool resolve_files = false;
  /// With resolve_files: read and hash each file too (plans); false checks which files only.
  bool hash_files = true;
  plan::FileLimits file_limits;
};

/// One thread per core, as the machine reports them (at least one).
unsigned CompileThreads();

/// Everything one invocation produced. Keeps the text of the files that have diagnostics (printers
/// show their lines); the others are dropped once read.
struct Compilation {
  std::vector<std::unique_ptr<SourceFile>> files;
  ir::Module module;  ///< empty unless CompileRequest::keep_ir
  std::vector<Diagnostic> diagnostics;
  size_t files_read = 0;
  /// With CompileRequest::resolve_files: each workload's project files, by workload id.
  std::map<std::string, std::vector<plan::ProjectFile>> project_files;

  bool has_errors() const;
  /// The kept file with `path`, or nullptr.
  const SourceFile* Find(std::string_view path) const;
};

/// Expands directories into the .py/.ts/.tsx files below them (sorted, hidden directories,
/// node_modules and __pycache__ skipped). Files given explicitly are kept whatever their extension,
/// so a wrong one gets a diagnostic rather than being silently dropped.
ErrorOr<std::vector<std::string>> ExpandPaths(const std::vector<std::string>& paths);

/// Reads and parses the files on `request.threads` threads, then runs the pass pipeline (unless
/// stopped earlier) one file at a time in path order: passes work per workload, and duplicate ids
/// across files are found through one shared id index.
/// Environment failures (an unreadable file, a bad pipeline) are Errors; mistakes in the input are
/// diagnostics.
ErrorOr<Compilation> Compile(const CompileRequest& request);

/// How diagnostics are printed.
enum class DiagnosticFormat { kHuman, kJson, kSarif };

/// Prints diagnostics: human to stderr (colour on a terminal unless NO_COLOR), JSON and SARIF to
/// stdout (always, also when empty).
void PrintDiagnostics(const Compilation& compilation, DiagnosticFormat format);

/// Fails `command` with `error` (a failure before any diagnostic, such as an unreadable path) as
/// Fail does, and for JSON and SARIF also prints the one document those formats always print:
/// `{"diagnostics":[],"error":{...}}`, or a SARIF log whose invocation failed. Returns the exit
/// status.
int FailCompilation(std::string_view command, const Error& error, DiagnosticFormat format);

}  // namespace mvm::cli

#endif  // MVM_CLI_COMPILATION_H_
