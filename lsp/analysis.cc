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
    // Decoded by the client already: only the line endings are left to do as `check` does.
    frontend::NormalizeLineEndings(file);
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

struct Workspace::DocumentState {
  frontend::IncrementalParser parser;
  /// The text `frontend` was read from; a different text means the document must be read again.
  std::string text;
  std::string path;
  bool read = false;
  frontend::FrontendResult frontend;
  /// Every non-empty workload id the document declares: what the validate pass looks up in the
  /// shared index, so the part of the index it sees is the entries with these keys.
  std::vector<std::string> ids;
  bool checked = false;
  /// The index entries of earlier documents the last pass run saw, and the entries that run added.
  passes::WorkloadIdIndex seen;
  passes::WorkloadIdIndex added;
  std::vector<Diagnostic> diagnostics;
};

void Workspace::Edit(const std::string& uri, uint32_t begin, uint32_t end,
                     std::string_view replacement) {
  auto it = states_.find(uri);
  if (it != states_.end()) {
    it->second->parser.Edit(begin, end, replacement);
  }
}

void Workspace::Close(const std::string& uri) { states_.erase(uri); }

void Workspace::SetOptions(const passes::PassOptions& options) {
  options_ = options;
  for (auto& [uri, state] : states_) {
    state->checked = false;
  }
}

std::vector<std::string> Workspace::Update(std::span<const Document* const> documents) {
  auto pipeline = passes::ParsePipeline(passes::kDefaultPipeline);
  MVM_CHECK(pipeline.ok());
  std::vector<std::string> recomputed;
  passes::WorkloadIdIndex index;
  for (const Document* document : documents) {
    std::shared_ptr<DocumentState>& slot = states_[document->uri];
    if (slot == nullptr) {
      slot = std::make_shared<DocumentState>();
    }
    DocumentState& state = *slot;
    if (!state.read || state.text != document->text || state.path != document->path) {
      SourceFile file(document->path, document->text);
      // Text from the client is already Unicode, so a PEP 263 declaration in it no longer
      // describes it and is not decoded again; its line endings become LF as `check` makes them.
      // Edits stay in the buffer's offsets: the parser re-uses its tree only when they turn the
      // text it parsed last into exactly this one, which for a buffer with CRs they may not (it is
      // then parsed from scratch).
      frontend::NormalizeLineEndings(file);
      state.frontend = frontend::ParseSource(file, state.parser);
      state.text = document->text;
      state.path = document->path;
      state.read = true;
      state.checked = false;
      state.ids.clear();
      for (const auto& workload : state.frontend.module.proto.workloads()) {
        if (!workload.id().empty()) {
          state.ids.push_back(workload.id());
        }
      }
    }
    passes::WorkloadIdIndex seen;
    for (const std::string& id : state.ids) {
      if (auto it = index.find(id); it != index.end()) {
        seen.insert(*it);
      }
    }
    if (!state.checked || seen != state.seen) {
      ir::Module module = state.frontend.module;
      DiagnosticSink sink;
      for (const Diagnostic& d : state.frontend.diagnostics) {
        sink.Report(Diagnostic(d));
      }
      passes::WorkloadIdIndex run_index = seen;
      passes::PassContext context{options_, sink, &run_index};
      passes::RunPipeline(*pipeline, module, context);
      state.diagnostics = sink.Take();
      SortDiagnostics(state.diagnostics);
      state.added.clear();
      for (auto& entry : run_index) {
        if (!seen.contains(entry.first)) {
          state.added.insert(entry);
        }
      }
      state.seen = std::move(seen);
      state.checked = true;
      recomputed.push_back(document->uri);
    }
    for (const auto& entry : state.added) {
      index.insert(entry);
    }
  }
  return recomputed;
}

const std::vector<Diagnostic>& Workspace::Diagnostics(const std::string& uri) const {
  static const std::vector<Diagnostic> kNone;
  auto it = states_.find(uri);
  return it == states_.end() ? kNone : it->second->diagnostics;
}

int Workspace::ReusedParses(const std::string& uri) const {
  auto it = states_.find(uri);
  return it == states_.end() ? 0 : it->second->parser.reused_parses();
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

nlohmann::json ToLsp(const Document& document, const Diagnostic& d,
                     std::span<const Document* const> open) {
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
  nlohmann::json out = {{"range", RangeOf(document, d.loc)},
                        {"severity", severity},
                        {"code", KindCode(d.kind)},
                        {"source", "mvm"},
                        {"message", message},
                        {"data", {{"kind", std::string(KindInfo(d.kind).name)}}}};
  nlohmann::json related = nlohmann::json::array();
  for (const DiagnosticNote& note : d.notes) {
    const Document* target = note.loc.file == document.path ? &document : nullptr;
    for (const Document* other : open) {
      if (target == nullptr && other->path == note.loc.file) {
        target = other;
      }
    }
    if (target != nullptr && note.loc.valid()) {
      related.push_back(
          {{"location", {{"uri", target->uri}, {"range", RangeOf(*target, note.loc)}}},
           {"message", note.message}});
    }
  }
  if (!related.empty()) {
    out["relatedInformation"] = std::move(related);
  }
  return out;
}

}  // namespace mvm::lsp
