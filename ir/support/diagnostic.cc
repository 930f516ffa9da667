#include "ir/support/diagnostic.h"

#include <algorithm>
#include <array>
#include <cstdio>

#include "ir/support/check.h"

namespace mvm {
namespace {

constexpr std::array kKinds = {
#define MVM_DIAGNOSTIC(Id, name, code, severity, format, hint, description) \
  DiagnosticKindInfo{                                                       \
      DiagnosticKind::k##Id, name, code, Severity::k##severity, format, hint, description},
#include "ir/support/diagnostics.def"
};

}  // namespace

std::string_view SeverityName(Severity s) {
  switch (s) {
    case Severity::kError:
      return "error";
    case Severity::kWarning:
      return "warning";
    case Severity::kNote:
      return "note";
  }
  return "error";
}

std::span<const DiagnosticKindInfo> AllDiagnosticKinds() { return kKinds; }

const DiagnosticKindInfo& KindInfo(DiagnosticKind kind) {
  size_t index = static_cast<size_t>(kind);
  MVM_CHECK(index < kKinds.size());
  return kKinds[index];
}

std::string KindCode(DiagnosticKind kind) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "MVM%04u", static_cast<unsigned>(KindInfo(kind).code));
  return buf;
}

std::string FormatDiagnostic(std::string_view format, std::span<const DiagArg> args) {
  std::string out;
  out.reserve(format.size() + 32);
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] == '{' && i + 2 < format.size() && format[i + 2] == '}' && format[i + 1] >= '0' &&
        format[i + 1] <= '9') {
      size_t n = static_cast<size_t>(format[i + 1] - '0');
      if (n < args.size()) {
        out += args[n].text();
      }
      i += 2;
      continue;
    }
    out += format[i];
  }
  return out;
}

Diagnostic& DiagnosticSink::Report(Diagnostic d) {
  if (d.severity == Severity::kError) {
    ++errors_;
  }
  diagnostics_.push_back(std::move(d));
  return diagnostics_.back();
}

void SortDiagnostics(std::vector<Diagnostic>& diagnostics) {
  std::stable_sort(diagnostics.begin(), diagnostics.end(),
                   [](const Diagnostic& a, const Diagnostic& b) {
                     if (a.loc.file != b.loc.file) {
                       return a.loc.file < b.loc.file;
                     }
                     if (a.loc.line != b.loc.line) {
                       return a.loc.line < b.loc.line;
                     }
                     if (a.loc.column != b.loc.column) {
                       return a.loc.column < b.loc.column;
                     }
                     return KindInfo(a.kind).code < KindInfo(b.kind).code;
                   });
}

}  // namespace mvm
