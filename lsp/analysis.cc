#include "lsp/analysis.h"

#include "frontend/frontend.h"
#include "ir/support/check.h"
#include "ir/support/source_file.h"

namespace mvm::lsp {

std::map<std::string, std::vector<Diagnostic>> Analyze(std::span<const Document* const> documents,
                                                       const passes::PassOptions& options) {
  auto pipeline = passes::ParsePipeline(passes::kDefaultPipeline);
  MVM_CHECK(pipeline.ok());
  std::map<std::string, std::vector<Diagnostic>> out;
  passes::WorkloadIdIndex seen_ids;
  for (const Document* document : documents) {
    SourceFile file(document->path, document->text);
    frontend::FrontendResult result = frontend::ParseSource(file);
    DiagnosticSink sink;
    for (Diagnostic& d : result.diagnostics) {
      sink.Report(std::move(d));
    }
    passes::PassContext context{options, sink, &seen_ids};
    passes::RunPipeline(*pipeline, result.module, context);
    std::vector<Diagnostic> diagnostics = sink.Take();
    SortDiagnostics(diagnostics);
    out[document->uri] = std::move(diagnostics);
  }
  return out;
}

nlohmann::json RangeOf(const Document& document, const SourceLoc& loc) {
  Position start;
  Position end;
  if (loc.valid() && loc.file == document.path) {
    start = FromCodePoints(document.text, loc.line, loc.column);
    end = loc.end_line == 0 ? start : FromCodePoints(document.text, loc.end_line, loc.end_column);
  }
  auto pos = [](Position p) {
    return nlohmann::json{{"line", p.line}, {"character", p.character}};
  };
  return {{"start", pos(start)}, {"end", pos(end)}};
}

nlohmann::json ToLsp(const Document& document, const Diagnostic& d) {
  int severity = 1;
  switch (d.severity) {
    case Severity::kError:
      severity = 1;
      break;
    case Severity::kWarning:
      severity = 2;
      break;
    case Severity::kNote:
      severity = 3;
      break;
  }
  std::string message = d.message;
  if (!d.hint.empty()) {
    message += "\nhint: " + d.hint;
  }
  return {{"range", RangeOf(document, d.loc)},
          {"severity", severity},
          {"code", KindCode(d.kind)},
          {"source", "mvm"},
          {"message", message},
          {"data", {{"kind", std::string(KindInfo(d.kind).name)}}}};
}

}  // namespace mvm::lsp
