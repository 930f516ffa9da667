#ifndef MVM_IR_SUPPORT_DIAGNOSTIC_RENDER_H_
#define MVM_IR_SUPPORT_DIAGNOSTIC_RENDER_H_

#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "ir/support/diagnostic.h"
#include "ir/support/source_file.h"

namespace mvm {

/// Finds the SourceFile for a diagnostic's `loc.file`, or nullptr when the text is not available
/// (then printers show no source line).
using SourceLookup = std::function<const SourceFile*(std::string_view path)>;

struct HumanRenderOptions {
  bool color = false;  ///< ANSI colours (the CLI enables them only for a terminal)
};

/// `file:line:col: error: message [kind]` (`mvmctl: error: ...` without a location), then the
/// source line, a caret line under the range (`^~~~`, columns in code points, tabs expanded to
/// stops of 4 in both lines; a range going past its first line runs to the line's end), `  hint:
/// ...` and each note the same way (`file:line:col: note: message`, source, caret). A diagnostic
/// with `redact` shows its range's text as `"****"` on every line printed for it, its notes' lines
/// included. Ends with a summary line ("1 error generated.", "2 errors and 1 warning generated.")
/// when any error or warning was printed. Source lines are shown only when `lookup` finds the file.
std::string RenderHuman(std::span<const Diagnostic> diagnostics, const SourceLookup& lookup,
                        HumanRenderOptions options = {});

/// The `--format=json` object of docs/cli.md: {"diagnostics":[{file,line,column,end_line,
/// end_column,severity,code,kind,message,hint?}]}; notes follow their diagnostic as entries with
/// severity "note" and the parent's kind and code. One line, then "\n".
std::string RenderJson(std::span<const Diagnostic> diagnostics);

/// What a SARIF log says besides the diagnostics.
struct SarifOptions {
  std::string_view tool_version;
  /// The absolute directory that relative paths in diagnostics are relative to (the working
  /// directory): a relative path becomes a URI relative to the base id `SRCROOT`, which the run
  /// maps to this directory's `file://` URI. Empty: `SRCROOT` is left for the viewer to supply.
  std::string_view base_directory;
  /// Non-empty when the tool stopped before it could report on the input (exit 3, an unreadable
  /// path): the run's invocation is then unsuccessful, with this message as its error.
  std::string_view failure;
  int exit_code = 0;  ///< the invocation's exit code, recorded with a failure
};

/// A SARIF 2.1.0 log with one run (tool "mvmctl", a rule per kind in the registry with its code,
/// name, description and default hint; one invocation), results carrying ruleId (the code), level,
/// message, physicalLocation (a `file://` URI, RFC 8089, or one relative to `SRCROOT`) and
/// relatedLocations for notes. Pretty-printed, then "\n".
std::string RenderSarif(std::span<const Diagnostic> diagnostics, const SarifOptions& options);

/// The URI SARIF names `path` by: an absolute path as a `file://` URI, a relative one as a
/// relative reference (meant for the base id `SRCROOT`); in both, every byte a URI path may not
/// hold as is (spaces, `%`, `#`, `?`, non-ASCII) is percent-encoded. `directory` ends the URI
/// with `/`.
std::string FileUri(std::string_view path, bool directory = false);

}  // namespace mvm

#endif  // MVM_IR_SUPPORT_DIAGNOSTIC_RENDER_H_
