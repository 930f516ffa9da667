#include "lsp/features.h"

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

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

json RangeJson(std::string_view text, size_t begin, size_t end) {
  return {{"start", PositionJson(PositionOf(text, begin))},
          {"end", PositionJson(PositionOf(text, end))}};
}

/// Where the identifier that `offset` ends or sits in begins.
size_t IdentifierStart(std::string_view text, size_t offset) {
  while (offset > 0 && IsIdentChar(text[offset - 1])) {
    --offset;
  }
  return offset;
}

bool Overlaps(const json& a, const json& b) {
  auto key = [](const json& p) {
    return std::tuple(p.at("line").get<uint32_t>(), p.at("character").get<uint32_t>());
  };
  return key(a.at("start")) <= key(b.at("end")) && key(b.at("start")) <= key(a.at("end"));
}

json Edit(const Document& document, size_t begin, size_t end, std::string text) {
  json range = RangeJson(document.text, begin, end);
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

/// Start offsets of the lines of `text` that begin (after indentation) with `prefix`.
std::vector<size_t> LinesStartingWith(std::string_view text, std::string_view prefix) {
  std::vector<size_t> out;
  for (size_t line = 0; line < text.size();) {
    size_t first = text.find_first_not_of(" \t", line);
    if (first != std::string_view::npos && text.substr(first).starts_with(prefix)) {
      out.push_back(first);
    }
    size_t nl = text.find('\n', line);
    if (nl == std::string_view::npos) {
      break;
    }
    line = nl + 1;
  }
  return out;
}

bool ContainsWord(std::string_view text, std::string_view word) {
  for (size_t at = text.find(word); at != std::string_view::npos; at = text.find(word, at + 1)) {
    bool before = at == 0 || !IsIdentChar(text[at - 1]);
    bool after = at + word.size() >= text.size() || !IsIdentChar(text[at + word.size()]);
    if (before && after) {
      return true;
    }
  }
  return false;
}

/// How the document can spell `SecretRef`, and the edit (offset, text) that imports it when it is
/// not imported yet (offset npos: none needed).
struct SecretRefSpelling {
  std::string name = "SecretRef";
  size_t import_at = std::string_view::npos;
  std::string import_text;
};

SecretRefSpelling SpellSecretRef(std::string_view text, bool python) {
  SecretRefSpelling out;
  if (python) {
    std::vector<size_t> from = LinesStartingWith(text, "from mvm import");
    if (!from.empty()) {
      size_t at = from.front();
      size_t end = text.find('\n', at);
      std::string_view line = text.substr(at, end == std::string_view::npos ? end : end - at);
      if (ContainsWord(line, "SecretRef")) {
        return out;
      }
      size_t names = line.find_first_not_of(" \t", std::string_view("from mvm import").size());
      if (names != std::string_view::npos && line[names] == '(') {
        out.import_at = at + names + 1;
        out.import_text = "SecretRef, ";
        return out;
      }
      size_t stop = std::min(line.find('#'), line.size());
      while (stop > 0 && (line[stop - 1] == ' ' || line[stop - 1] == '\t' ||
                          line[stop - 1] == '\r' || line[stop - 1] == '\\')) {
        --stop;
      }
      out.import_at = at + stop;
      out.import_text = ", SecretRef";
      return out;
    }
    for (size_t at : LinesStartingWith(text, "import mvm")) {
      std::string_view rest = text.substr(at + std::string_view("import mvm").size());
      if (rest.empty() || rest[0] == '\n' || rest[0] == '\r' || rest[0] == ' ' || rest[0] == '#') {
        out.name = "mvm.SecretRef";
        return out;
      }
    }
    std::vector<size_t> imports = LinesStartingWith(text, "import ");
    std::vector<size_t> froms = LinesStartingWith(text, "from ");
    imports.insert(imports.end(), froms.begin(), froms.end());
    out.import_at = imports.empty() ? 0 : *std::min_element(imports.begin(), imports.end());
    out.import_at = text.rfind('\n', out.import_at == 0 ? 0 : out.import_at - 1);
    out.import_at = out.import_at == std::string_view::npos ? 0 : out.import_at + 1;
    out.import_text = "from mvm import SecretRef\n";
    return out;
  }
  for (size_t at : LinesStartingWith(text, "import ")) {
    size_t end = text.find(';', at);
    size_t nl = text.find("from", at);
    if (nl == std::string_view::npos) {
      continue;
    }
    size_t quote = text.find_first_of("\"'", nl);
    if (quote == std::string_view::npos || !text.substr(quote + 1).starts_with("@mvm/sdk")) {
      continue;
    }
    if (end != std::string_view::npos && end < quote) {
      continue;
    }
    std::string_view clause = text.substr(at, nl - at);
    if (clause.starts_with("import type")) {
      continue;
    }
    if (size_t star = clause.find("* as "); star != std::string_view::npos) {
      size_t name_at = star + 5;
      size_t name_end = name_at;
      while (name_end < clause.size() && IsIdentChar(clause[name_end])) {
        ++name_end;
      }
      out.name = std::string(clause.substr(name_at, name_end - name_at)) + ".SecretRef";
      return out;
    }
    if (size_t brace = clause.find('{'); brace != std::string_view::npos) {
      if (!ContainsWord(clause, "SecretRef")) {
        out.import_at = at + brace + 1;
        out.import_text = " SecretRef,";
      }
      return out;
    }
  }
  std::vector<size_t> imports = LinesStartingWith(text, "import ");
  size_t first = imports.empty() ? 0 : imports.front();
  size_t line = first == 0 ? std::string_view::npos : text.rfind('\n', first - 1);
  out.import_at = line == std::string_view::npos ? 0 : line + 1;
  out.import_text = "import { SecretRef } from \"@mvm/sdk\";\n";
  return out;
}

/// The secret's environment name from a `plaintext-secret` message ("secret `NAME` is ...").
std::string SecretEnvName(const Diagnostic& d) {
  size_t open = d.message.find('`');
  size_t close = open == std::string::npos ? open : d.message.find('`', open + 1);
  return close == std::string::npos ? "" : d.message.substr(open + 1, close - open - 1);
}

/// The edit that replaces the plaintext string a `plaintext-secret` diagnostic points at with a
/// `SecretRef` named after the variable (API_KEY -> "api-key"), with an empty host list for the
/// user to fill, and imports `SecretRef` when the file does not yet. The string itself is only
/// replaced, never copied anywhere.
std::optional<json> ReplaceWithSecretRef(const Document& document, const Diagnostic& d) {
  std::string env = SecretEnvName(d);
  if (env.empty() || !d.loc.valid() || d.loc.end_line == 0) {
    return std::nullopt;
  }
  std::string_view text = document.text;
  size_t begin = OffsetOf(text, FromCodePoints(text, d.loc.line, d.loc.column));
  size_t end = OffsetOf(text, FromCodePoints(text, d.loc.end_line, d.loc.end_column));
  if (end <= begin) {
    return std::nullopt;
  }
  std::string name;
  for (char c : env) {
    name += c == '_' ? '-' : (c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  bool python = IsPython(document);
  SecretRefSpelling spelling = SpellSecretRef(text, python);
  // The name is an environment variable name, so it needs no escaping inside the quotes; anything
  // else (a computed key) gets no fix rather than a broken one.
  for (char c : name) {
    if (!IsIdentChar(c) && c != '-') {
      return std::nullopt;
    }
  }
  std::string replacement =
      spelling.name + "(\"" + name + "\", " + (python ? "hosts=[])" : "{ hosts: [] })");
  json edits = json::array();
  if (spelling.import_at != std::string_view::npos) {
    Position at = PositionOf(text, spelling.import_at);
    edits.push_back({{"range", {{"start", PositionJson(at)}, {"end", PositionJson(at)}}},
                     {"newText", spelling.import_text}});
  }
  edits.push_back({{"range", RangeJson(text, begin, end)}, {"newText", replacement}});
  return json{{"changes", {{document.uri, std::move(edits)}}}};
}

}  // namespace

json Hover(const Document& document, Position pos) {
  std::string_view text = document.text;
  size_t offset = OffsetOf(text, pos);
  size_t begin = IdentifierStart(text, offset);
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
          {"range", RangeJson(text, begin, end)}};
}

json Complete(const Document& document, Position pos) {
  std::string_view text = document.text;
  size_t begin = IdentifierStart(text, OffsetOf(text, pos));
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
    } else if (d.kind == DiagnosticKind::kPlaintextSecret) {
      edit = ReplaceWithSecretRef(document, d);
      title = "replace the plaintext secret with a `SecretRef`";
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
