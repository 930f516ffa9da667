#include "frontend/frontend.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "frontend/common/frontend_language.h"
#include "frontend/common/source_encoding.h"
#include "frontend/common/tree.h"
#include "ir/support/check.h"

namespace mvm::frontend {
namespace {

/// Enough to show what is wrong without flooding the terminal on a file that is not code at all.
constexpr int kMaxSyntaxErrors = 20;

std::string_view BaseName(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

/// Larger inputs are refused rather than parsed: tree-sitter offsets are 32-bit and no declaration
/// file is this big.
constexpr size_t kMaxSourceBytes = size_t{64} << 20;

/// Error recovery on adversarial input can be slow; past this the parse is cancelled, so the
/// compiler never hangs.
constexpr std::chrono::seconds kParseBudget{10};

/// Offset of the first byte that breaks UTF-8 (overlong forms, surrogates and code points past
/// U+10FFFF included), if any.
std::optional<uint32_t> FirstInvalidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n = 0;
    uint32_t cp = 0;
    uint32_t min = 0;
    if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return static_cast<uint32_t>(i);
    }
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size() || (static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) {
        return static_cast<uint32_t>(i);
      }
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return static_cast<uint32_t>(i);
    }
    i += n + 1;
  }
  return std::nullopt;
}

/// Parses `text`, re-using `old` (already edited to match `text`) when not null; returns null when
/// the budget ran out.
TreePtr Parse(TSParser* parser, std::string_view text, const TSTree* old = nullptr) {
  struct Budget {
    std::chrono::steady_clock::time_point deadline;
  } budget{std::chrono::steady_clock::now() + kParseBudget};
  TSParseOptions options{};
  options.payload = &budget;
  options.progress_callback = [](TSParseState* state) {
    return std::chrono::steady_clock::now() > static_cast<Budget*>(state->payload)->deadline;
  };
  TSInput input{};
  input.payload = &text;
  input.encoding = TSInputEncodingUTF8;
  input.read = [](void* payload, uint32_t byte, TSPoint, uint32_t* bytes_read) -> const char* {
    auto* t = static_cast<std::string_view*>(payload);
    if (byte >= t->size()) {
      *bytes_read = 0;
      return "";
    }
    *bytes_read = static_cast<uint32_t>(t->size() - byte);
    return t->data() + byte;
  };
  TreePtr tree(ts_parser_parse_with_options(parser, old, input, options));
  if (tree == nullptr) {
    // A cancelled parse would otherwise resume, not restart, on the parser's next use.
    ts_parser_reset(parser);
  }
  return tree;
}

/// The tree-sitter point (0-based row, byte column) of byte `offset` of `text`.
TSPoint PointAt(std::string_view text, size_t offset) {
  std::string_view before = text.substr(0, offset);
  size_t newline = before.rfind('\n');
  auto rows = static_cast<uint32_t>(std::count(before.begin(), before.end(), '\n'));
  size_t line_start = newline == std::string_view::npos ? 0 : newline + 1;
  return {rows, static_cast<uint32_t>(offset - line_start)};
}

/// The point after `inserted` when it starts at `start`.
TSPoint Advance(TSPoint start, std::string_view inserted) {
  size_t newline = inserted.rfind('\n');
  if (newline == std::string_view::npos) {
    return {start.row, start.column + static_cast<uint32_t>(inserted.size())};
  }
  return {start.row + static_cast<uint32_t>(std::count(inserted.begin(), inserted.end(), '\n')),
          static_cast<uint32_t>(inserted.size() - newline - 1)};
}

/// Tells `tree` (a parse of `before`) that its text is now `after`, as one edit spanning
/// everything between their common prefix and common suffix.
void EditToMatch(TSTree* tree, std::string_view before, std::string_view after) {
  size_t prefix = 0;
  size_t shorter = std::min(before.size(), after.size());
  while (prefix < shorter && before[prefix] == after[prefix]) {
    ++prefix;
  }
  size_t suffix = 0;
  while (suffix < shorter - prefix &&
         before[before.size() - 1 - suffix] == after[after.size() - 1 - suffix]) {
    ++suffix;
  }
  TSInputEdit edit{};
  edit.start_byte = static_cast<uint32_t>(prefix);
  edit.old_end_byte = static_cast<uint32_t>(before.size() - suffix);
  edit.new_end_byte = static_cast<uint32_t>(after.size() - suffix);
  edit.start_point = PointAt(before, prefix);
  edit.old_end_point = PointAt(before, edit.old_end_byte);
  edit.new_end_point = Advance(edit.start_point, after.substr(prefix, edit.new_end_byte - prefix));
  ts_tree_edit(tree, &edit);
}

/// Works around grammars that reject valid code because of a comment alone on its line: parses
/// again with every such comment replaced by spaces (offsets do not move), and keeps the result
/// only when it is free of errors and no blanked byte lies inside a string (where `#` was text, not
/// a comment).
/// `previous` and `previous_text` are the last such parse of this buffer and its text (null and
/// empty when there is none); `previous` is left edited to match this parse's text and is then to
/// be replaced by `kept`, which receives this parse's tree even when it is not used.
TreePtr ParseWithoutCommentLines(TSParser* parser, std::string_view text, std::string_view marker,
                                 std::string& blanked, TSTree* previous,
                                 std::string_view previous_text, TreePtr& kept) {
  blanked.assign(text);
  std::vector<uint32_t> changed;
  size_t line = 0;
  while (line < blanked.size()) {
    size_t end = blanked.find('\n', line);
    if (end == std::string::npos) {
      end = blanked.size();
    }
    size_t first = blanked.find_first_not_of(" \t\f", line);
    if (first < end && std::string_view(blanked).substr(first).starts_with(marker)) {
      for (size_t i = first; i < end && blanked[i] != '\r'; ++i) {
        blanked[i] = ' ';
      }
      changed.push_back(static_cast<uint32_t>(first));
    }
    line = end + 1;
  }
  if (changed.empty()) {
    return nullptr;
  }
  if (previous != nullptr) {
    EditToMatch(previous, previous_text, blanked);
  }
  kept = Parse(parser, blanked, previous);
  if (kept == nullptr || ts_node_has_error(ts_tree_root_node(kept.get()))) {
    return nullptr;
  }
  TreePtr tree(ts_tree_copy(kept.get()));
  TSNode root = ts_tree_root_node(tree.get());
  for (uint32_t offset : changed) {
    for (TSNode n = ts_node_descendant_for_byte_range(root, offset, offset + 1);
         !ts_node_is_null(n); n = ts_node_parent(n)) {
      std::string_view type = ts_node_type(n);
      if (type == "string" || type == "string_content" || type == "template_string") {
        return nullptr;
      }
    }
  }
  return tree;
}

/// What the parser could not read at an ERROR or MISSING node, for a message: "`x` unexpected",
/// "an `)` missing"; and where to point (the first token it could not place).
struct UnreadNode {
  SourceLoc loc;
  std::string what;
  bool missing = false;
};

UnreadNode DescribeUnread(TSNode node, const SourceFile& file) {
  UnreadNode out;
  if (ts_node_is_missing(node)) {
    out.missing = true;
    out.what = ts_node_is_named(node) ? std::string("an ") + ts_node_type(node)
                                      : "`" + std::string(ts_node_type(node)) + "`";
    out.loc = NodeLoc(node, file);
    return out;
  }
  TSNode first = node;
  while (ts_node_child_count(first) > 0) {
    first = ts_node_child(first, 0);
  }
  std::string_view token = NodeText(first, file);
  out.what = token.empty() ? std::string() : "`" + Excerpt(token, 20) + "`";
  out.loc = NodeLoc(first, file);
  return out;
}

/// Whether the text of `statement` names the SDK module or one of `names` (as a whole identifier):
/// only then can a syntax error in it change what the declarations read.
bool MentionsAny(std::string_view text, std::string_view marker,
                 const std::unordered_set<std::string>& names) {
  if (text.find(marker) != std::string_view::npos) {
    return true;
  }
  auto word_char = [](char c) {
    auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) != 0 || c == '_' || c == '$' || u >= 0x80;
  };
  size_t i = 0;
  while (i < text.size()) {
    if (!word_char(text[i])) {
      ++i;
      continue;
    }
    size_t begin = i;
    while (i < text.size() && word_char(text[i])) {
      ++i;
    }
    if (names.contains(std::string(text.substr(begin, i - begin)))) {
      return true;
    }
  }
  return false;
}

/// Reports the ERROR and MISSING nodes of `root`. One in a module-level statement that mentions
/// the SDK module or one of `names_used` is an error; one anywhere else is a grammar-limitation
/// warning, since the grammars reject some valid code (tree-sitter-typescript 0.23.2 variance
/// annotations, tree-sitter-python a dotted name split across lines in a dedented parenthesis)
/// and code that declares nothing must not stop the file's declarations from compiling. Returns
/// whether any was an error. Iterative: a hostile file can nest deeper than the stack allows; each
/// statement's text is searched once, so the cost is linear in the file.
bool ReportSyntaxErrors(const FrontendLanguage& language, const SourceFile& file, TSNode root,
                        const std::unordered_set<std::string>& names_used, DiagnosticSink& sink) {
  int reported = 0;
  bool any_error = false;
  // A root that is itself an ERROR node has no statements to tell apart: all of it counts.
  bool whole = ts_node_is_error(root);
  uint32_t count = whole ? 1 : ts_node_child_count(root);
  for (uint32_t i = 0; i < count; ++i) {
    TSNode statement = whole ? root : ts_node_child(root, i);
    if (!ts_node_has_error(statement)) {
      continue;
    }
    std::string_view text = NodeText(statement, file);
    // A statement the parser could not delimit at all may hold a piece of its neighbour: a lone
    // `@` split off a decorator leaves the declaration below it a plain class, which no name
    // would show.
    bool relevant = whole || MentionsAny(text, language.ModuleMarker(), names_used) ||
                    (ts_node_is_error(statement) && text.find('@') != std::string_view::npos);
    any_error = any_error || relevant;
    std::string excerpt = Excerpt(text, 40);
    WalkPreOrder(statement, [&](TSNode node) {
      if (reported >= kMaxSyntaxErrors) {
        return Walk::kStop;
      }
      if (!ts_node_is_missing(node) && !ts_node_is_error(node)) {
        return ts_node_has_error(node) ? Walk::kDescend : Walk::kSkipChildren;
      }
      UnreadNode unread = DescribeUnread(node, file);
      ++reported;
      if (relevant) {
        std::string message = unread.missing        ? "expected " + unread.what
                              : unread.what.empty() ? std::string("invalid syntax")
                                                    : "invalid syntax: unexpected " + unread.what;
        sink.Emit<DiagnosticKind::kSyntaxError>(unread.loc, message);
      } else {
        std::string what = unread.missing        ? "this statement, which needs " + unread.what
                           : unread.what.empty() ? std::string("the code")
                                                 : unread.what;
        sink.Emit<DiagnosticKind::kGrammarLimitation>(unread.loc, what, excerpt);
      }
      return Walk::kSkipChildren;
    });
  }
  return any_error;
}

/// Whether the file can use the SDK: it imports it, or a region the parser could not read mentions
/// it (a broken import must not hide the file's syntax errors).
bool UsesSdk(const FrontendLanguage& language, const SourceFile& file, TSNode root) {
  if (language.ImportsSdk(file, root)) {
    return true;
  }
  bool mentioned = false;
  WalkPreOrder(root, [&](TSNode node) {
    if (ts_node_is_error(node)) {
      mentioned = NodeText(node, file).find(language.ModuleMarker()) != std::string_view::npos;
      return mentioned ? Walk::kStop : Walk::kSkipChildren;
    }
    return ts_node_has_error(node) ? Walk::kDescend : Walk::kSkipChildren;
  });
  return mentioned;
}

/// UsesSdk for a file that is not parsed otherwise.
bool MayUseSdk(const FrontendLanguage& language, const SourceFile& file) {
  ParserPtr parser(ts_parser_new());
  MVM_CHECK(ts_parser_set_language(parser.get(), language.Grammar(file.path())));
  TreePtr tree = Parse(parser.get(), file.contents());
  return tree == nullptr || UsesSdk(language, file, ts_tree_root_node(tree.get()));
}

}  // namespace

bool DecodeSource(SourceFile& file, DiagnosticSink& sink) {
  const FrontendLanguage* language = LanguageForPath(file.path());
  if (language != &PythonLanguage() ||
      file.contents().find(language->ModuleMarker()) == std::string_view::npos) {
    return true;
  }
  std::string_view raw = file.contents();
  std::string text;
  bool transcoded = false;
  if (std::optional<CodingDeclaration> coding = FindCodingDeclaration(raw)) {
    std::string encoding = IconvEncodingName(coding->name);
    if (encoding != "UTF-8") {
      uint32_t bad = 0;
      bool bom = raw.starts_with("\xEF\xBB\xBF");
      TranscodeStatus status =
          bom ? TranscodeStatus::kUnknownEncoding : TranscodeToUtf8(raw, encoding, text, bad);
      if (status != TranscodeStatus::kOk) {
        if (!MayUseSdk(*language, file)) {
          return true;  // not mvm's to judge; ParseSource skips it as well
        }
        std::string name(coding->name);
        SourceLoc loc = file.Loc(coding->begin, coding->end);
        if (bom) {
          sink.Emit<DiagnosticKind::kSyntaxError>(
                  loc, "the file starts with a UTF-8 byte order mark but declares `" + name + "`")
              .hint = "declare `utf-8` or remove the byte order mark";
        } else if (status == TranscodeStatus::kUnknownEncoding) {
          sink.Emit<DiagnosticKind::kSyntaxError>(loc, "unknown source encoding `" + name + "`")
              .hint =
              "declare an encoding both Python and iconv know (`latin-1`, `cp1252`, "
              "`euc-jp`...), or save the file as UTF-8 and remove the declaration";
        } else {
          // Line and column of the bad byte as an editor decoding the text before it shows them.
          SourceFile before(file.path(), text);
          SourceLoc at =
              before.Loc(static_cast<uint32_t>(text.size()), static_cast<uint32_t>(text.size()));
          ++at.end_column;
          sink.Emit<DiagnosticKind::kSyntaxError>(
                  at, "the file is not valid `" + name + "` here, the encoding it declares at " +
                          std::to_string(loc.line) + ":" + std::to_string(loc.column))
              .hint = "save the file in the declared encoding, or declare the one it is in";
        }
        return false;
      }
      transcoded = true;
    }
  }
  if (transcoded) {
    file = SourceFile(file.path(), std::move(text));
  }
  NormalizeLineEndings(file);
  return true;
}

void NormalizeLineEndings(SourceFile& file) {
  if (LanguageForPath(file.path()) != &PythonLanguage() ||
      file.contents().find(PythonLanguage().ModuleMarker()) == std::string_view::npos ||
      file.contents().find('\r') == std::string_view::npos) {
    return;
  }
  // tree-sitter-python ends lines at LF only, where a CR alone ends one in Python; and Python reads
  // a CRLF inside a triple-quoted string as "\n".
  std::string text(file.contents());
  NormalizeNewlines(text);
  file = SourceFile(file.path(), std::move(text));
}

std::string Excerpt(std::string_view text, size_t max) {
  size_t newline = text.find('\n');
  bool cut = newline != std::string_view::npos;
  text = text.substr(0, newline);
  std::string out;
  size_t points = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (points == max) {
        cut = true;
        break;
      }
      ++points;
    }
    out += text[i];
  }
  if (cut) {
    out += "…";
  }
  return out;
}

bool IsSupportedSource(std::string_view path) { return LanguageForPath(path) != nullptr; }

struct IncrementalParser::State {
  /// The text `tree` belongs to once the recorded edits are applied to it.
  std::string text;
  TreePtr tree;  ///< null: the next parse starts from scratch
  const TSLanguage* grammar = nullptr;
  ParserPtr parser;
  /// The last parse with fragile comment lines blanked out, and its text.
  std::string blanked_text;
  TreePtr blanked_tree;
  int reused_parses = 0;
};

IncrementalParser::IncrementalParser() : state_(std::make_unique<State>()) {}
IncrementalParser::~IncrementalParser() = default;
IncrementalParser::IncrementalParser(IncrementalParser&&) noexcept = default;
IncrementalParser& IncrementalParser::operator=(IncrementalParser&&) noexcept = default;

int IncrementalParser::reused_parses() const { return state_->reused_parses; }

void IncrementalParser::Edit(uint32_t begin, uint32_t end, std::string_view replacement) {
  State& s = *state_;
  size_t from = std::min<size_t>(begin, s.text.size());
  size_t to = std::clamp<size_t>(end, from, s.text.size());
  if (s.tree != nullptr) {
    if (s.text.size() - (to - from) + replacement.size() > kMaxSourceBytes) {
      s.tree.reset();  // past what a parse accepts; also keeps tree-sitter's offsets in range
    } else {
      TSInputEdit edit{};
      edit.start_byte = static_cast<uint32_t>(from);
      edit.old_end_byte = static_cast<uint32_t>(to);
      edit.new_end_byte = static_cast<uint32_t>(from + replacement.size());
      edit.start_point = PointAt(s.text, from);
      edit.old_end_point = PointAt(s.text, to);
      edit.new_end_point = Advance(edit.start_point, replacement);
      ts_tree_edit(s.tree.get(), &edit);
    }
  }
  s.text.replace(from, to - from, replacement);
}

FrontendResult ParseSource(const SourceFile& file) {
  IncrementalParser fresh;
  return ParseSource(file, fresh);
}

FrontendResult ParseSource(const SourceFile& file, IncrementalParser& incremental) {
  IncrementalParser::State& state = *incremental.state_;
  // Whatever happens below, the next parse may only re-use a tree made from this text.
  bool reusable = state.tree != nullptr && state.text == file.contents();
  state.text.assign(file.contents());
  TreePtr previous = std::move(state.tree);
  if (!reusable) {
    previous.reset();
  }
  FrontendResult result;
  DiagnosticSink sink;
  const FrontendLanguage* language = LanguageForPath(file.path());
  if (language == nullptr) {
    SourceLoc loc = file.Loc(0, 0);
    sink.Emit<DiagnosticKind::kSyntaxError>(
            loc, "`" + file.path() + "` is not a Python (.py) or TypeScript (.ts, .tsx) file")
        .hint =
        "mvmctl reads declarations from .py, .ts and .tsx files; directories are searched "
        "for them";
    result.diagnostics = sink.Take();
    return result;
  }
  if (file.contents().find(language->ModuleMarker()) == std::string_view::npos) {
    // Cannot import the SDK, so declares nothing: not parsed at all, which is most of the cost of
    // checking a whole tree, and no diagnostic, since the file is not mvm's to judge.
    return result;
  }
  SourceLoc file_loc = file.Loc(0, 0);
  if (file.contents().size() > kMaxSourceBytes) {
    sink.Emit<DiagnosticKind::kSyntaxError>(
        file_loc, "the file is " + std::to_string(file.contents().size() >> 20) +
                      " MiB; mvm reads declarations from files of at most 64 MiB");
    result.diagnostics = sink.Take();
    return result;
  }
  const TSLanguage* grammar = language->Grammar(file.path());
  if (state.parser == nullptr || state.grammar != grammar) {
    state.parser.reset(ts_parser_new());
    MVM_CHECK(ts_parser_set_language(state.parser.get(), grammar));
    state.grammar = grammar;
    previous.reset();
    state.blanked_tree.reset();
  }
  TSParser* parser = state.parser.get();
  if (previous != nullptr) {
    ++state.reused_parses;
  }
  TreePtr tree = Parse(parser, file.contents(), previous.get());
  previous.reset();
  if (tree != nullptr) {
    state.tree.reset(ts_tree_copy(tree.get()));
  }
  if (tree == nullptr) {
    sink.Emit<DiagnosticKind::kSyntaxError>(
        file_loc, "the parser gave up after " + std::to_string(kParseBudget.count()) +
                      " s; the file is too irregular to read declarations from");
    result.diagnostics = sink.Take();
    return result;
  }
  TSNode root = ts_tree_root_node(tree.get());
  std::string retry_text;  // must outlive the retried tree's use below
  if (ts_node_has_error(root) && !language->FragileLineComment().empty()) {
    TreePtr kept;
    TreePtr retry =
        ParseWithoutCommentLines(parser, file.contents(), language->FragileLineComment(),
                                 retry_text, state.blanked_tree.get(), state.blanked_text, kept);
    state.blanked_tree = std::move(kept);
    state.blanked_text = state.blanked_tree != nullptr ? retry_text : std::string();
    if (retry != nullptr) {
      tree = std::move(retry);
      root = ts_tree_root_node(tree.get());
    }
  }
  if (!UsesSdk(*language, file, root)) {
    return result;
  }
  if (std::optional<uint32_t> bad = FirstInvalidUtf8(file.contents())) {
    // Strings are copied into the IR verbatim, and JSON cannot carry invalid UTF-8: refuse the file
    // rather than let a printer drop bytes silently. Checked after the parse (tree-sitter reads
    // invalid UTF-8 as replacement characters) so that a file that does not use mvm is not judged.
    sink.Emit<DiagnosticKind::kSyntaxError>(file.Loc(*bad, *bad + 1),
                                            "the file is not valid UTF-8 here")
        .hint = "save the file as UTF-8; Python and TypeScript sources are UTF-8 by default";
    result.diagnostics = sink.Take();
    return result;
  }
  if (ts_node_has_error(root)) {
    // Offsets are unchanged in the joined text, and node text is read from `file`, so the retried
    // tree stands in for the first one.
    std::string joined = language->JoinBracketedLines(file.contents());
    if (!joined.empty()) {
      TreePtr retry = Parse(parser, joined);
      if (retry != nullptr && !ts_node_has_error(ts_tree_root_node(retry.get()))) {
        tree = std::move(retry);
        root = ts_tree_root_node(tree.get());
      }
    }
  }
  std::vector<WorkloadDecl> decls;
  std::unordered_set<std::string> names_used;
  DiagnosticSink read_sink;
  language->ReadDeclarations(file, root, decls, read_sink, names_used);
  if (ts_node_has_error(root) && ReportSyntaxErrors(*language, file, root, names_used, sink)) {
    // Declarations inside a broken region are invisible; lowering the rest would report phantom
    // mistakes (a missing entrypoint that is really a syntax error), so stop at the syntax errors.
    result.diagnostics = sink.Take();
    return result;
  }
  for (Diagnostic& d : read_sink.Take()) {
    sink.Report(std::move(d));
  }
  LowerDeclarations(language->language(), decls, std::string(BaseName(file.path())), result.module,
                    sink);
  result.diagnostics = sink.Take();
  return result;
}

const FrontendLanguage* LanguageForPath(std::string_view path) {
  if (path.ends_with(".py")) {
    return &PythonLanguage();
  }
  if (path.ends_with(".ts") || path.ends_with(".tsx")) {
    return &TypeScriptLanguage();
  }
  return nullptr;
}

}  // namespace mvm::frontend
