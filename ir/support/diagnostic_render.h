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

/// A SARIF 2.1.0 log with one run (tool "mvmctl", a rule per kind in the registry with its code,
/// name and default hint), results carrying ruleId (the code), level, message, physicalLocation
/// region and relatedLocations for notes. Pretty-printed, then "\n".
std::string RenderSarif(std::span<const Diagnostic> diagnostics, std::string_view tool_version);

}  // namespace mvm

#endif  // MVM_IR_SUPPORT_DIAGNOSTIC_RENDER_H_
