#include "lsp/features.h"

#include <optional>
#include <string>
#include <string_view>
#include <tuple>

#include "ir/options.h"
#include "lsp/analysis.h"

namespace mvm::lsp {
namespace {

using nlohmann::json;

bool IsPython(const Document& document) { return document.path.ends_with(".py"); }

bool IsIdentChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/// Where a scan of a decorator's argument list stopped.
struct ScanState {
  std::string brackets;  ///< open brackets, outermost first; empty once the call closed
  bool in_string = false;
  size_t close = std::string_view::npos;  ///< offset of the call's `)` when it closed
};

/// Scans from the `(` at `open` up to `stop` (or the call's end), tracking brackets, string
/// literals and comments well enough to tell where an argument name may stand. Not a parser: it
/// only has to be right on declarations that the frontend would accept.
ScanState ScanCall(std::string_view text, size_t open, size_t stop, bool python) {
  ScanState state;
  char quote = 0;
  for (size_t i = open; i < text.size() && i < stop; ++i) {
    char c = text[i];
    if (quote != 0) {
      if (c == '\\') {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
      continue;
    }
    if (c == '"' || c == '\'' || (!python && c == '`')) {
      quote = c;
    } else if ((python && c == '#') ||
               (!python && c == '/' && i + 1 < text.size() && text[i + 1] == '/')) {
      size_t nl = text.find('\n', i);
      if (nl == std::string_view::npos || nl >= stop) {
        break;
      }
      i = nl;
    } else if (c == '(' || c == '[' || c == '{') {
      state.brackets += c;
    } else if (c == ')' || c == ']' || c == '}') {
      if (!state.brackets.empty()) {
        state.brackets.pop_back();
      }
      if (state.brackets.empty()) {
        state.close = i;
        return state;
      }
    }
  }
  state.in_string = quote != 0;
  return state;
}

/// True when the `name(` at `name_at` is a decorator call (`@name(` or `@mvm.name(`).
bool IsDecorator(std::string_view text, size_t name_at) {
  size_t j = name_at;
  while (j > 0 && (IsIdentChar(text[j - 1]) || text[j - 1] == '.')) {
    --j;
  }
  return j > 0 && text[j - 1] == '@';
}

struct Call {
  ir::OptionContext context;
  size_t open;  ///< offset of the `(`
};

/// The last `@workload(` / `@entrypoint(` decorator call that starts before `offset`.
std::optional<Call> LastDecoratorBefore(std::string_view text, size_t offset) {
  std::optional<Call> best;
  for (auto [name, context] :
       {std::pair{std::string_view("workload("), ir::OptionContext::kWorkload},
        std::pair{std::string_view("entrypoint("), ir::OptionContext::kEntrypoint}}) {
    if (offset < name.size()) {
      continue;
    }
    // The `(` must come before `offset`.
    for (size_t from = offset - name.size();;) {
      size_t at = text.rfind(name, from);
      if (at == std::string_view::npos) {
        break;
      }
      if ((at == 0 || !IsIdentChar(text[at - 1])) && IsDecorator(text, at)) {
        size_t open = at + name.size() - 1;
        if (!best || open > best->open) {
          best = Call{context, open};
        }
        break;
      }
      if (at == 0) {
        break;
      }
      from = at - 1;
    }
  }
  return best;
}

/// The decorator call around `offset` when `offset` stands where an option name may be written:
/// directly in the argument list (Python) or in the options object literal (TypeScript).
std::optional<Call> OptionSlotAt(const Document& document, size_t offset) {
  std::optional<Call> call = LastDecoratorBefore(document.text, offset);
  if (!call) {
    return std::nullopt;
  }
  bool python = IsPython(document);
  ScanState state = ScanCall(document.text, call->open, offset, python);
  if (state.in_string || state.close != std::string_view::npos) {
    return std::nullopt;
  }
  if (state.brackets != (python ? "(" : "({")) {
    return std::nullopt;
  }
  return call;
}

const ir::OptionInfo* FindBySpelling(ir::OptionContext context, std::string_view word,
                                     bool python) {
  for (const ir::OptionInfo& option : ir::AllOptions()) {
    if (option.context == context && (python ? option.python : option.typescript) == word) {
      return &option;
    }
  }
  return nullptr;
}

/// What the production profile adds for an option (passes/policy.cc), or "".
std::string_view ProductionRule(const ir::OptionInfo& option) {
  if (option.context != ir::OptionContext::kWorkload) {
    return "";
  }
  if (option.canonical == "timeout_seconds") {
    return "required (`missing-timeout` when absent)";
  }
  if (option.canonical == "isolation") {
    return "`container` is reported (`weak-isolation`); use `microvm`";
  }
  if (option.canonical == "image") {
    return "`oci:` images must be pinned by digest (`mutable-image-tag`)";
  }
  if (option.canonical == "volumes") {
    return "local sources must stay inside the project root (`unsafe-mount`)";
  }
  return "";
}

json PositionJson(Position p) { return {{"line", p.line}, {"character", p.character}}; }

bool Overlaps(const json& a, const json& b) {
  auto key = [](const json& p) {
    return std::tuple(p.at("line").get<uint32_t>(), p.at("character").get<uint32_t>());
  };
  return key(a.at("start")) <= key(b.at("end")) && key(b.at("start")) <= key(a.at("end"));
}

json Edit(const Document& document, size_t begin, size_t end, std::string text) {
  json range = {{"start", PositionJson(PositionOf(document.text, begin))},
                {"end", PositionJson(PositionOf(document.text, end))}};
  return {{"changes",
           {{document.uri, json::array({{{"range", range}, {"newText", std::move(text)}}})}}}};
}

/// The edit that adds a timeout to the `@workload(` call a `missing-timeout` diagnostic is about.
std::optional<json> AddTimeout(const Document& document, const Diagnostic& d) {
  std::string_view text = document.text;
  size_t at = OffsetOf(text, FromCodePoints(text, d.loc.line, d.loc.column));
  // The workload's location may be the decorator or the definition below it.
  size_t line_end = text.find('\n', at);
  std::optional<Call> call =
      LastDecoratorBefore(text, line_end == std::string_view::npos ? text.size() : line_end);
  if (!call || call->context != ir::OptionContext::kWorkload) {
    return std::nullopt;
  }
  bool python = IsPython(document);
  ScanState state = ScanCall(text, call->open, text.size(), python);
  if (state.close == std::string_view::npos) {
    return std::nullopt;
  }
  if (!python) {
    // The options object is the `{` directly inside the call.
    std::string_view args = text.substr(call->open, state.close - call->open);
    size_t brace = args.find('{');
    if (brace != std::string_view::npos) {
      size_t pos = call->open + brace + 1;
      return Edit(document, pos, pos, "timeoutSeconds: 300, ");
    }
  }
  size_t last = state.close;
  while (last > call->open + 1 && (text[last - 1] == ' ' || text[last - 1] == '\n' ||
                                   text[last - 1] == '\t' || text[last - 1] == '\r')) {
    --last;
  }
  bool bare = text[last - 1] == '(' || text[last - 1] == ',';
  std::string option = python ? "timeout_seconds=300" : "{ timeoutSeconds: 300 }";
  return Edit(document, last, last, bare ? option : ", " + option);
}

}  // namespace

json Hover(const Document& document, Position pos) {
  std::string_view text = document.text;
  size_t offset = OffsetOf(text, pos);
  size_t begin = offset;
  while (begin > 0 && IsIdentChar(text[begin - 1])) {
    --begin;
  }
  size_t end = offset;
  while (end < text.size() && IsIdentChar(text[end])) {
    ++end;
  }
  if (begin == end) {
    return nullptr;
  }
  std::optional<Call> call = OptionSlotAt(document, begin);
  if (!call) {
    return nullptr;
  }
  bool python = IsPython(document);
  const ir::OptionInfo* option =
      FindBySpelling(call->context, text.substr(begin, end - begin), python);
  if (option == nullptr) {
    return nullptr;
  }
  std::string md = "**" + std::string(python ? option->python : option->typescript) + "** (" +
                   std::string(ir::OptionContextName(option->context)) + " option)\n\n" +
                   std::string(option->description);
  if (option->is_integer()) {
    md += "\n\nrange: " + std::to_string(option->min) + " to " + std::to_string(option->max);
  }
  if (!option->default_value.empty()) {
    md += "\n\ndefault: " + std::string(option->default_value);
  }
  if (std::string_view rule = ProductionRule(*option); !rule.empty()) {
    md += "\n\nproduction profile: " + std::string(rule);
  }
  return {{"contents", {{"kind", "markdown"}, {"value", md}}},
          {"range",
           {{"start", PositionJson(PositionOf(text, begin))},
            {"end", PositionJson(PositionOf(text, end))}}}};
}

json Complete(const Document& document, Position pos) {
  std::string_view text = document.text;
  size_t offset = OffsetOf(text, pos);
  size_t begin = offset;
  while (begin > 0 && IsIdentChar(text[begin - 1])) {
    --begin;
  }
  json items = json::array();
  std::optional<Call> call = OptionSlotAt(document, begin);
  if (!call) {
    return items;
  }
  bool python = IsPython(document);
  for (const ir::OptionInfo& option : ir::AllOptions()) {
    if (option.context != call->context) {
      continue;
    }
    std::string name(python ? option.python : option.typescript);
    items.push_back({{"label", name},
                     {"kind", 10},  // Property
                     {"detail", std::string(option.description)},
                     {"insertText", name + (python ? "=" : ": ")}});
  }
  return items;
}

json CodeActions(const Document& document, std::span<const Diagnostic> diagnostics,
                 const json& range) {
  json actions = json::array();
  for (const Diagnostic& d : diagnostics) {
    json lsp = ToLsp(document, d);
    if (!Overlaps(lsp.at("range"), range)) {
      continue;
    }
    std::optional<json> edit;
    std::string title;
    if (d.kind == DiagnosticKind::kUnknownOption && d.fix) {
      size_t begin = OffsetOf(
          document.text, FromCodePoints(document.text, d.fix->range.line, d.fix->range.column));
      size_t end = OffsetOf(document.text, FromCodePoints(document.text, d.fix->range.end_line,
                                                          d.fix->range.end_column));
      edit = Edit(document, begin, end, d.fix->replacement);
      title = d.fix->title;
    } else if (d.kind == DiagnosticKind::kMissingTimeout) {
      edit = AddTimeout(document, d);
      title = IsPython(document) ? "add `timeout_seconds=300`" : "add `timeoutSeconds: 300`";
    }
    if (edit) {
      actions.push_back({{"title", title},
                         {"kind", "quickfix"},
                         {"diagnostics", json::array({lsp})},
                         {"isPreferred", true},
                         {"edit", *edit}});
    }
  }
  return actions;
}

}  // namespace mvm::lsp
