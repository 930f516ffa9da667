#ifndef MVM_IR_SUPPORT_DIAGNOSTIC_H_
#define MVM_IR_SUPPORT_DIAGNOSTIC_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ir/support/source_loc.h"

namespace mvm {

enum class Severity : uint8_t { kError, kWarning, kNote };

/// "error", "warning" or "note".
std::string_view SeverityName(Severity s);

/// One enumerator per entry of diagnostics.def.
enum class DiagnosticKind : uint16_t {
#define MVM_DIAGNOSTIC(Id, name, code, severity, format, hint, description) k##Id,
#include "ir/support/diagnostics.def"
};

/// Static facts about a kind, from diagnostics.def.
struct DiagnosticKindInfo {
  DiagnosticKind kind;
  std::string_view name;    ///< stable kind name, e.g. "non-static"
  uint16_t code;            ///< numeric part of MVMnnnn
  Severity severity;        ///< default severity
  std::string_view format;  ///< message with {N} placeholders
  std::string_view hint;    ///< default hint; may be empty
  /// What every instance means, in whole sentences (SARIF's `fullDescription`).
  std::string_view description;
};

/// All kinds in registry order.
std::span<const DiagnosticKindInfo> AllDiagnosticKinds();
const DiagnosticKindInfo& KindInfo(DiagnosticKind kind);
/// "MVM0001" style code of a kind.
std::string KindCode(DiagnosticKind kind);

/// A text edit that fixes a diagnostic (used by `mvmctl lsp` quick fixes).
struct FixIt {
  SourceLoc range;
  std::string replacement;
  std::string title;
};

/// A secondary location explaining a diagnostic ("first declared here").
struct DiagnosticNote {
  SourceLoc loc;
  std::string message;
};

/// One reported problem. Messages never contain secret values: the frontend masks them before a
/// Diagnostic is made, and `redact` asks printers to mask `loc`'s text wherever they show source.
struct Diagnostic {
  DiagnosticKind kind;
  Severity severity;
  SourceLoc loc;
  std::string message;
  std::string hint;
  std::vector<DiagnosticNote> notes;
  std::optional<FixIt> fix;
  bool redact = false;
  /// More ranges whose text printers must mask wherever they show source (string literals inside a
  /// secret's value that is not itself a plain literal).
  std::vector<SourceLoc> redactions;
};

/// A value printed into a diagnostic message.
class DiagArg {
 public:
  DiagArg(std::string_view s) : text_(s) {}         // NOLINT(google-explicit-constructor)
  DiagArg(const std::string& s) : text_(s) {}       // NOLINT(google-explicit-constructor)
  DiagArg(const char* s) : text_(s) {}              // NOLINT(google-explicit-constructor)
  DiagArg(int64_t v) : text_(std::to_string(v)) {}  // NOLINT(google-explicit-constructor)
  DiagArg(int v) : text_(std::to_string(v)) {}      // NOLINT(google-explicit-constructor)
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

/// Substitutes {0}..{9} in `format` with `args`.
std::string FormatDiagnostic(std::string_view format, std::span<const DiagArg> args);

namespace diag_internal {
/// 1 + the highest {N} placeholder index in `format`, at compile time.
constexpr int PlaceholderCount(std::string_view format) {
  int count = 0;
  for (size_t i = 0; i + 3 <= format.size(); ++i) {
    if (format[i] == '{' && format[i + 2] == '}' && format[i + 1] >= '0' && format[i + 1] <= '9') {
      int n = format[i + 1] - '0' + 1;
      count = n > count ? n : count;
    }
  }
  return count;
}

template <DiagnosticKind K>
struct KindTraits;
#define MVM_DIAGNOSTIC(Id, name, code, severity, format, hint, description) \
  template <>                                                               \
  struct KindTraits<DiagnosticKind::k##Id> {                                \
    static constexpr int kArgs = PlaceholderCount(format);                  \
  };
#include "ir/support/diagnostics.def"
}  // namespace diag_internal

/// Makes a diagnostic of kind K with the registry's severity and hint. The argument count is
/// checked against the message's placeholders at compile time.
template <DiagnosticKind K, typename... Args>
Diagnostic MakeDiagnostic(SourceLoc loc, Args&&... args) {
  static_assert(sizeof...(Args) == diag_internal::KindTraits<K>::kArgs,
                "argument count does not match the message format in diagnostics.def");
  const DiagArg list[] = {DiagArg(std::forward<Args>(args))..., DiagArg("")};
  const DiagnosticKindInfo& info = KindInfo(K);
  Diagnostic d{K,
               info.severity,
               std::move(loc),
               FormatDiagnostic(info.format, {list, sizeof...(Args)}),
               FormatDiagnostic(info.hint, {list, sizeof...(Args)}),
               {},
               std::nullopt,
               false,
               {}};
  return d;
}

/// Collects diagnostics in the order reported. Not thread-safe; one per compilation.
class DiagnosticSink {
 public:
  /// Adds `d`; returns a reference valid until the next Report.
  Diagnostic& Report(Diagnostic d);

  template <DiagnosticKind K, typename... Args>
  Diagnostic& Emit(SourceLoc loc, Args&&... args) {
    return Report(MakeDiagnostic<K>(std::move(loc), std::forward<Args>(args)...));
  }

  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }
  /// The `index`th diagnostic reported, to amend (e.g. add redactions once a value is fully read).
  Diagnostic& mutable_diagnostic(size_t index) { return diagnostics_.at(index); }
  std::vector<Diagnostic> Take() { return std::move(diagnostics_); }
  size_t error_count() const { return errors_; }
  bool has_errors() const { return errors_ != 0; }

 private:
  std::vector<Diagnostic> diagnostics_;
  size_t errors_ = 0;
};

/// Sorts diagnostics by file, line, column, then kind code, keeping the report order among equals,
/// so output is stable however the pipeline was scheduled.
void SortDiagnostics(std::vector<Diagnostic>& diagnostics);

}  // namespace mvm

#endif  // MVM_IR_SUPPORT_DIAGNOSTIC_H_
