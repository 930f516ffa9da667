// The Python language module: finds `@workload` / `@entrypoint` / `@service` decorators imported
// from `mvm` and evaluates their arguments without running anything.

#include <algorithm>
#include <cstdlib>
#include <string>
#include <unordered_set>
#include <vector>

#include "frontend/common/evaluation.h"
#include "frontend/common/evaluator.h"
#include "frontend/common/frontend_language.h"
#include "frontend/common/tree.h"
#include "ir/support/os/lazy_library.h"
#include "unicode/uchar.h"
#include "unicode/uversion.h"

extern "C" const TSLanguage* tree_sitter_python(void);

namespace mvm::frontend {
namespace {

using Kind = StaticValue::Kind;

/// What DecodeEscape made of one escape sequence.
enum class Escape {
  kDecoded,      // its value was appended
  kVerbatim,     // not an escape in Python (`\d`): the backslash and what follows are the value
  kUnknownName,  // `\N{...}` naming no character
  kNotScalar,  // a surrogate or a code point past U+10FFFF, which UTF-8 (and so the IR) cannot hold
  kNoNameTable,  // `\N{...}` but ICU, which holds the names, cannot be loaded
};

#define MVM_ICU_STRING(x) MVM_ICU_STRING_(x)
#define MVM_ICU_STRING_(x) #x

/// ICU's `u_charFromName`, from libicuuc opened on the first `\N{...}`: linked, ICU and its 30 MB
/// data library were loaded by every mvmctl command (docs/perf/launch.md). ICU renames its symbols
/// by major version (`u_charFromName_72`), which the header's macro spells.
ErrorOr<decltype(&::u_charFromName)> CharFromName() {
  static const ErrorOr<decltype(&::u_charFromName)> loaded =
      []() -> ErrorOr<decltype(&::u_charFromName)> {
    decltype(&::u_charFromName) function = nullptr;
    const os::LazySymbol symbols[] = {{MVM_ICU_STRING(u_charFromName), &function}};
    auto opened = os::LoadLazyLibrary(
        {"libicuuc.so." MVM_ICU_STRING(U_ICU_VERSION_MAJOR_NUM),
         "libicu" MVM_ICU_STRING(U_ICU_VERSION_MAJOR_NUM), "Python's `\\N{NAME}` escapes"},
        symbols);
    if (!opened) {
      return opened.error();
    }
    return function;
  }();
  return loaded;
}

/// Decodes one Python escape sequence (text starts with the backslash), appending its value to
/// `out` when it has one the IR can hold.
Escape DecodeEscape(std::string_view esc, std::string& out) {
  if (esc.size() < 2) {
    return Escape::kVerbatim;
  }
  char c = esc[1];
  switch (c) {
    case '\n':
      return Escape::kDecoded;  // line continuation inside a string
    case '\\':
    case '\'':
    case '"':
      out += c;
      return Escape::kDecoded;
    case 'a':
      out += '\a';
      return Escape::kDecoded;
    case 'b':
      out += '\b';
      return Escape::kDecoded;
    case 'f':
      out += '\f';
      return Escape::kDecoded;
    case 'n':
      out += '\n';
      return Escape::kDecoded;
    case 'r':
      out += '\r';
      return Escape::kDecoded;
    case 't':
      out += '\t';
      return Escape::kDecoded;
    case 'v':
      out += '\v';
      return Escape::kDecoded;
    case 'N': {
      // `\N{name}`: ICU's table holds the names (algorithmic ones included: CJK UNIFIED
      // IDEOGRAPH-4E00, HANGUL SYLLABLE GA) and the aliases Python accepts; ICU matches case
      // insensitively, as Python does. U_EXTENDED_CHAR_NAME is not asked: it would also accept
      // `<control-0009>`, which Python rejects.
      if (esc.size() < 4 || esc[2] != '{' || esc.back() != '}') {
        return Escape::kUnknownName;
      }
      std::string name(esc.substr(3, esc.size() - 4));
      auto char_from_name = CharFromName();
      if (!char_from_name) {
        return Escape::kNoNameTable;
      }
      for (UCharNameChoice choice : {U_UNICODE_CHAR_NAME, U_CHAR_NAME_ALIAS}) {
        UErrorCode status = U_ZERO_ERROR;
        UChar32 cp = (*char_from_name)(choice, name.c_str(), &status);
        if (U_SUCCESS(status)) {
          AppendUtf8(out, static_cast<uint32_t>(cp));
          return Escape::kDecoded;
        }
      }
      return Escape::kUnknownName;
    }
    case 'x':
    case 'u':
    case 'U': {
      std::string hex(esc.substr(2));
      uint32_t cp = static_cast<uint32_t>(std::strtoul(hex.c_str(), nullptr, 16));
      // A surrogate has no UTF-8 form; encoding one anyway made protobuf's JSON printer drop it
      // silently ("a\ud800b" became "ab" in the IR).
      if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return Escape::kNotScalar;
      }
      AppendUtf8(out, cp);
      return Escape::kDecoded;
    }
    default:
      if (c >= '0' && c <= '7') {
        std::string oct(esc.substr(1));
        AppendUtf8(out, static_cast<uint32_t>(std::strtoul(oct.c_str(), nullptr, 8)));
        return Escape::kDecoded;
      }
      return Escape::kVerbatim;
  }
}

/// The Python node types the shared evaluator handles itself.
constexpr NodeKindName kKinds[] = {
    {"string", NodeKind::kString},
    {"concatenated_string", NodeKind::kString},
    {"integer", NodeKind::kNumber},
    {"float", NodeKind::kNumber},
    {"true", NodeKind::kTrue},
    {"false", NodeKind::kFalse},
    {"none", NodeKind::kNull},
    {"list", NodeKind::kList},
    {"tuple", NodeKind::kList},
    {"dictionary", NodeKind::kDict},
    {"parenthesized_expression", NodeKind::kGroup},
    {"unary_operator", NodeKind::kUnary},
    {"binary_operator", NodeKind::kBinary},
    {"identifier", NodeKind::kIdentifier},
    {"call", NodeKind::kCall},
};

constexpr std::string_view kStringLiterals[] = {"string", "concatenated_string"};

constexpr EvaluatorSyntax kSyntax = {
    .kinds = kKinds,
    .string_literals = kStringLiterals,
    .member_type = "attribute",
    .member_property = "attribute",
    .optional_chain = "",
    .call_type = "call",
    .arguments_type = "",
    .floor_division = "//",
    .constant_keyword = "",
    .fold_hint = "only `+`, `-`, `*` and `//` on integers and `+` on strings are folded",
    .call_hint =
        "mvm never runs your code; only `SecretRef`, `NetworkPolicy`, `Volume` and `Image` calls "
        "from `mvm` are understood statically",
    .unknown_name_hint =
        "only literals and module-level constants assigned once can be read "
        "without running the file",
    .reassigned_hint = "a constant must be assigned exactly once at module level",
    .deep_constant_hint = "it is nested more than 100 levels deep here",
};

class PythonReader final : public Evaluator {
 public:
  PythonReader(const SourceFile& file, DiagnosticSink& sink) : Evaluator(file, sink, kSyntax) {}

  void Read(TSNode root, std::vector<WorkloadDecl>& out);

 private:
  void CollectImports(TSNode statement);
  void CountAssignments(TSNode root);

  StaticValue EvaluateString(TSNode node) override;
  /// Reports a backslash in the plain text of a string (not part of an escape token) that Python
  /// rejects, such as a cut-short `\x4`; `offset` is where `plain` starts in the file.
  bool CheckPlainText(std::string_view plain, uint32_t offset);
  StaticValue EvaluateNumber(TSNode node) override;
  StaticValue EvaluateList(TSNode node, int depth) override;
  StaticValue EvaluateDict(TSNode node, int depth) override;
  StaticValue EvaluateUnary(TSNode node, int depth) override;
  TSNode GroupedExpression(TSNode node) const override;
  StaticValue EvaluateOther(TSNode node, int depth) override;
  /// Fills positional args and keyword arguments of a call's argument_list.
  bool ReadArguments(TSNode arguments, int depth, std::vector<StaticValue>& items,
                     std::vector<Named>& keys, std::vector<StaticValue>& values,
                     bool workload_call) override;
  /// A `secrets=` value: each entry that is not a `SecretRef(...)` call is evaluated as sensitive.
  StaticValue EvaluateSecrets(TSNode node, int depth);

  /// Reads the mvm decorators of a decorated_definition; returns their SDK names alongside.
  std::vector<DecoratorCall> ReadDecorators(TSNode decorated);

  std::unordered_set<uint32_t> consumed_;
};

/// Calls `visit` on every module-level statement of `root`, those nested in `if` / `try` / `with` /
/// loop blocks included: an import guarded by `if TYPE_CHECKING:` or `try: ... except ImportError:`
/// still binds its names at module level. Function and class bodies are other scopes and are not
/// entered. Iterative: a hostile file can nest blocks deeper than the stack allows.
template <typename Visit>
void ForEachModuleLevelStatement(TSNode root, Visit&& visit) {
  std::vector<TSNode> stack{root};
  while (!stack.empty()) {
    TSNode n = stack.back();
    stack.pop_back();
    std::string_view type = NodeType(n);
    if (type == "module" || type == "block" || type == "if_statement" || type == "elif_clause" ||
        type == "else_clause" || type == "try_statement" || type == "except_clause" ||
        type == "except_group_clause" || type == "finally_clause" || type == "with_statement" ||
        type == "for_statement" || type == "while_statement" || type == "match_statement" ||
        type == "case_clause") {
      for (uint32_t i = ts_node_named_child_count(n); i-- > 0;) {
        stack.push_back(ts_node_named_child(n, i));
      }
    } else {
      visit(n);
    }
  }
}

/// Whether `statement` imports the `mvm` module: `import mvm`, `import mvm as m`, `from mvm import
/// ...`.
bool ImportsMvm(TSNode statement, const SourceFile& file) {
  std::string_view type = NodeType(statement);
  if (type == "import_from_statement") {
    return NodeText(Field(statement, "module_name"), file) == "mvm";
  }
  if (type != "import_statement") {
    return false;
  }
  for (uint32_t i = 0; i < ts_node_named_child_count(statement); ++i) {
    TSNode name = ts_node_named_child(statement, i);
    if (NodeType(name) == "aliased_import") {
      name = Field(name, "name");
    }
    if (NodeText(name, file) == "mvm") {
      return true;
    }
  }
  return false;
}

void PythonReader::CollectImports(TSNode statement) {
  std::string_view type = NodeType(statement);
  if (type == "import_statement") {
    for (uint32_t i = 0; i < ts_node_named_child_count(statement); ++i) {
      TSNode name = ts_node_named_child(statement, i);
      if (NodeType(name) == "dotted_name" && Text(name) == "mvm") {
        module_aliases_.insert("mvm");
      } else if (NodeType(name) == "aliased_import" && Text(Field(name, "name")) == "mvm") {
        module_aliases_.insert(std::string(Text(Field(name, "alias"))));
      }
    }
    return;
  }
  if (type != "import_from_statement" || Text(Field(statement, "module_name")) != "mvm") {
    return;
  }
  for (uint32_t i = 0; i < ts_node_named_child_count(statement); ++i) {
    TSNode child = ts_node_named_child(statement, i);
    const char* field = ts_node_field_name_for_named_child(statement, i);
    if (NodeType(child) == "wildcard_import") {
      for (std::string_view e : SdkExports()) {
        sdk_names_[std::string(e)] = std::string(e);
      }
    } else if (field != nullptr && std::string_view(field) == "name") {
      if (NodeType(child) == "aliased_import") {
        std::string name(Text(Field(child, "name")));
        if (IsSdkExport(name)) {
          sdk_names_[std::string(Text(Field(child, "alias")))] = name;
        }
      } else if (IsSdkExport(Text(child))) {
        sdk_names_[std::string(Text(child))] = std::string(Text(child));
      }
    }
  }
}

void PythonReader::CountAssignments(TSNode root) {
  // Iterative over module-level code; function and class bodies have their own scopes.
  std::vector<TSNode> stack{root};
  while (!stack.empty()) {
    TSNode n = stack.back();
    stack.pop_back();
    std::string_view type = NodeType(n);
    if (type == "function_definition" || type == "class_definition" || type == "lambda") {
      continue;
    }
    TSNode target{};
    bool constant_form = false;
    if (type == "assignment" || type == "augmented_assignment") {
      target = Field(n, "left");
      TSNode parent = ts_node_parent(n);
      constant_form = type == "assignment" && !ts_node_is_null(Field(n, "right")) &&
                      NodeType(parent) == "expression_statement" &&
                      NodeType(ts_node_parent(parent)) == "module";
      if (type == "assignment" && ts_node_is_null(Field(n, "right"))) {
        target = TSNode{};  // `X: int` declares, it does not assign
      }
    } else if (type == "named_expression") {
      target = Field(n, "name");
    } else if (type == "for_statement") {
      target = Field(n, "left");
    }
    if (!ts_node_is_null(target) && NodeType(target) == "identifier") {
      Constant& c = constants_[std::string(Text(target))];
      if (constant_form) {
        ++c.assignments;
        c.value = Field(n, "right");
      } else {
        c.assignments += 2;  // computed, conditional or rebound: never a constant
      }
    }
    for (uint32_t i = ts_node_named_child_count(n); i-- > 0;) {
      stack.push_back(ts_node_named_child(n, i));
    }
  }
}

bool PythonReader::CheckPlainText(std::string_view plain, uint32_t offset) {
  // The grammar makes an escape token only of a well-formed `\x..`, `\u....`, `\U........` or
  // `\N{...}`; one that is cut short stays plain text, where Python rejects the string.
  for (size_t i = plain.find('\\'); i != std::string_view::npos; i = plain.find('\\', i + 2)) {
    if (i + 1 >= plain.size()) {
      break;
    }
    char c = plain[i + 1];
    std::string_view wants = c == 'x'   ? "2 hex digits"
                             : c == 'u' ? "4 hex digits"
                             : c == 'U' ? "8 hex digits"
                             : c == 'N' ? "a character name in braces, `{...}`"
                                        : "";
    if (!wants.empty()) {
      auto at = static_cast<uint32_t>(offset + i);
      sink_.Emit<DiagnosticKind::kSyntaxError>(
          file_.Loc(at, at + 2),
          "`\\" + std::string(1, c) + "` must be followed by " + std::string(wants));
      return false;
    }
  }
  return true;
}

StaticValue PythonReader::EvaluateString(TSNode node) {
  StaticValue v = StringLiteral(node);
  if (NodeType(node) == "concatenated_string") {
    for (TSNode child : NamedChildren(node)) {
      StaticValue part = EvaluateString(child);
      if (part.kind != Kind::kString) {
        return part;
      }
      v.text += part.text;
    }
    return v;
  }
  // Charged by source size: the decoded text is never longer.
  if (!Spend(node, 0, ts_node_end_byte(node) - ts_node_start_byte(node))) {
    return Invalid(node);
  }
  bool raw = false;
  for (uint32_t i = 0; i < ts_node_named_child_count(node); ++i) {
    TSNode child = ts_node_named_child(node, i);
    std::string_view type = NodeType(child);
    if (type == "string_start") {
      std::string_view start = Text(child);
      for (char c : start) {
        if (c == 'r' || c == 'R') {
          raw = true;
        } else if (c == 'b' || c == 'B') {
          StaticValue other = Value(Kind::kOther, node);
          other.text = "a bytes literal";
          return other;
        }
      }
    } else if (type == "interpolation") {
      return NonStatic(child, "the f-string substitution `" + Excerpt(Text(child)) + "`",
                       "mvm reads declarations without running them; write the whole string as a "
                       "literal or a module-level constant");
    } else if (type == "string_content") {
      uint32_t pos = ts_node_start_byte(child);
      for (uint32_t j = 0; j <= ts_node_named_child_count(child); ++j) {
        TSNode esc =
            j < ts_node_named_child_count(child) ? ts_node_named_child(child, j) : TSNode{};
        if (!ts_node_is_null(esc) && NodeType(esc) != "escape_sequence") {
          continue;
        }
        uint32_t plain_end =
            ts_node_is_null(esc) ? ts_node_end_byte(child) : ts_node_start_byte(esc);
        std::string_view plain = file_.contents().substr(pos, plain_end - pos);
        if (!raw && !CheckPlainText(plain, pos)) {
          return Invalid(node);
        }
        v.text += plain;
        if (ts_node_is_null(esc)) {
          break;
        }
        Escape decoded = raw ? Escape::kVerbatim : DecodeEscape(Text(esc), v.text);
        if (decoded == Escape::kVerbatim) {
          v.text += Text(esc);
        } else if (decoded == Escape::kUnknownName) {
          // Python rejects the file. The message names no part of the string: it may stand for a
          // secret.
          sink_
              .Emit<DiagnosticKind::kSyntaxError>(
                  Loc(esc), "no Unicode character has the name in this `\\N{...}` escape")
              .hint =
              "spell the name as the Unicode standard does (`\\N{GREEK SMALL LETTER ALPHA}`), "
              "or write the character itself";
          return Invalid(node);
        } else if (decoded == Escape::kNoNameTable) {
          sink_
              .Emit<DiagnosticKind::kSyntaxError>(
                  Loc(esc),
                  "cannot decode this `\\N{...}` escape: " + CharFromName().error().message)
              .hint = "install the library, or write the character itself";
          return Invalid(node);
        } else if (decoded != Escape::kDecoded) {
          // Keeping the escape's source text would put a different string in the IR than the one
          // declared. The description names no part of the string: it may stand for a secret.
          StaticValue other = Value(Kind::kOther, node);
          other.text =
              "a string with a surrogate or out-of-range code point, which UTF-8 cannot hold";
          return other;
        }
        pos = ts_node_end_byte(esc);
      }
    }
  }
  return v;
}

StaticValue PythonReader::EvaluateNumber(TSNode node) {
  std::string digits = WithoutDigitSeparators(Text(node));
  StaticValue v;
  v.loc = Loc(node);
  if (!digits.empty() && (digits.back() == 'j' || digits.back() == 'J')) {
    v.kind = Kind::kOther;
    v.text = "a complex number";
    return v;
  }
  if (NodeType(node) == "float") {
    v.kind = Kind::kFloat;
    v.float_value = std::strtod(digits.c_str(), nullptr);
    return v;
  }
  v.kind = Kind::kInt;
  v.int_value = ParseSaturatedInteger(digits, IntegerBase(digits));
  if (v.int_value == INT64_MAX) {
    v.text = Text(node);  // saturated: messages show the literal, not INT64_MAX
  }
  return v;
}

StaticValue PythonReader::EvaluateList(TSNode node, int depth) {
  StaticValue v = Value(Kind::kList, node);
  for (TSNode item : NamedChildren(node)) {
    if (NodeType(item) == "list_splat") {
      return NonStatic(item, "the unpacking `" + Excerpt(Text(item)) + "`",
                       "spell every element out; mvm cannot see what an unpacked value holds");
    }
    v.items.push_back(Evaluate(item, depth + 1));
  }
  return v;
}

StaticValue PythonReader::EvaluateDict(TSNode node, int depth) {
  StaticValue v = Value(Kind::kDict, node);
  for (TSNode pair : NamedChildren(node)) {
    if (NodeType(pair) != "pair") {
      return NonStatic(pair, "`" + Excerpt(Text(pair)) + "`",
                       "spell every entry out as `\"key\": value`");
    }
    TSNode key_node = Field(pair, "key");
    StaticValue key = Evaluate(key_node, depth + 1);
    if (key.kind == Kind::kInvalid) {
      return key;
    }
    if (key.kind != Kind::kString) {
      sink_.Emit<DiagnosticKind::kTypeMismatch>(Loc(key_node), "a mapping key", "a string",
                                                DescribeType(key));
      return Invalid(node);
    }
    v.keys.push_back(Named{key.text, Loc(key_node)});
    v.values.push_back(Evaluate(Field(pair, "value"), depth + 1));
  }
  return v;
}

StaticValue PythonReader::EvaluateUnary(TSNode node, int depth) {
  std::string_view op = Text(Field(node, "operator"));
  StaticValue arg = Evaluate(Field(node, "argument"), depth + 1);
  if (arg.kind == Kind::kInvalid) {
    return arg;
  }
  if (FoldSign(op, arg)) {
    arg.loc = Loc(node);
    return arg;
  }
  return NonStatic(node, "`" + Excerpt(Text(node)) + "`");
}

TSNode PythonReader::GroupedExpression(TSNode node) const {
  std::vector<TSNode> inner = NamedChildren(node);
  return inner.empty() ? TSNode{} : inner.front();
}

StaticValue PythonReader::EvaluateOther(TSNode node, int /*depth*/) {
  if (NodeType(node) == "subscript" &&
      Text(Field(node, "value")).find("environ") != std::string_view::npos) {
    return NonStatic(
        node, "`" + Excerpt(Text(node)) + "`",
        "environment variables are read when code runs, not when it is compiled; for a "
        "secret use `SecretRef(\"name\", hosts=[...])`");
  }
  return NonStatic(node, "`" + Excerpt(Text(node)) + "`");
}

StaticValue PythonReader::EvaluateSecrets(TSNode node, int depth) {
  if (NodeType(node) != "dictionary") {
    return EvaluateSensitive(node, depth);
  }
  StaticValue v = Value(Kind::kDict, node);
  for (TSNode pair : NamedChildren(node)) {
    if (NodeType(pair) != "pair") {
      return EvaluateSensitive(node, depth);
    }
    TSNode key_node = Field(pair, "key");
    StaticValue key = Evaluate(key_node, depth + 1);
    if (key.kind != Kind::kString) {
      return EvaluateSensitive(node, depth);
    }
    v.keys.push_back(Named{key.text, Loc(key_node)});
    v.values.push_back(EvaluateSecretEntry(Field(pair, "value"), depth + 1));
  }
  return v;
}

bool PythonReader::ReadArguments(TSNode arguments, int depth, std::vector<StaticValue>& items,
                                 std::vector<Named>& keys, std::vector<StaticValue>& values,
                                 bool workload_call) {
  bool ok = true;
  for (TSNode arg : NamedChildren(arguments)) {
    std::string_view type = NodeType(arg);
    if (type == "keyword_argument") {
      TSNode name = Field(arg, "name");
      keys.push_back(Named{std::string(Text(name)), Loc(name)});
      values.push_back(workload_call && Text(name) == "secrets"
                           ? EvaluateSecrets(Field(arg, "value"), depth + 1)
                           : Evaluate(Field(arg, "value"), depth + 1));
    } else if (type == "list_splat" || type == "dictionary_splat") {
      NonStatic(arg, "the unpacking `" + Excerpt(Text(arg)) + "`",
                "spell every argument out; mvm cannot see what an unpacked value holds");
      ok = false;
    } else {
      if (!keys.empty()) {
        // Python rejects this at compile time; tree-sitter accepts it.
        sink_.Emit<DiagnosticKind::kSyntaxError>(Loc(arg),
                                                 "positional argument follows keyword argument");
        ok = false;
        continue;
      }
      items.push_back(Evaluate(arg, depth + 1));
    }
  }
  return ok;
}

std::vector<DecoratorCall> PythonReader::ReadDecorators(TSNode decorated) {
  std::vector<DecoratorCall> calls;
  for (uint32_t i = 0; i < ts_node_named_child_count(decorated); ++i) {
    TSNode decorator = ts_node_named_child(decorated, i);
    if (NodeType(decorator) != "decorator") {
      continue;
    }
    TSNode expr = ts_node_named_child(decorator, 0);
    while (!ts_node_is_null(expr) && ts_node_is_extra(expr)) {
      expr = ts_node_next_named_sibling(expr);
    }
    if (ts_node_is_null(expr)) {
      continue;
    }
    TSNode callee = NodeType(expr) == "call" ? Field(expr, "function") : expr;
    std::string sdk = ResolveSdkName(callee);
    if (sdk != "workload" && sdk != "entrypoint" && sdk != "service") {
      continue;  // Not ours (Flask, pytest, Modal...): ignored by design.
    }
    DecoratorCall call;
    call.sdk_name = sdk;
    call.loc = Loc(decorator);
    if (NodeType(expr) == "call") {
      call.called = true;
      if (!ReadArguments(Field(expr, "arguments"), 0, call.args, call.keys, call.values,
                         sdk == "workload")) {
        call.reported = true;  // do not lower a half-read declaration
      }
    }
    calls.push_back(std::move(call));
  }
  return calls;
}

void PythonReader::Read(TSNode root, std::vector<WorkloadDecl>& out) {
  ForEachModuleLevelStatement(root, [&](TSNode statement) { CollectImports(statement); });
  if (sdk_names_.empty() && module_aliases_.empty()) {
    return;  // No mvm import, so no declaration: the common case for ordinary modules.
  }
  CountAssignments(root);

  for (uint32_t i = 0; i < ts_node_named_child_count(root); ++i) {
    TSNode decorated = ts_node_named_child(root, i);
    if (NodeType(decorated) != "decorated_definition") {
      continue;
    }
    size_t errors_before = sink_.error_count();
    std::vector<DecoratorCall> calls = ReadDecorators(decorated);
    TSNode definition = Field(decorated, "definition");
    bool is_class = NodeType(definition) == "class_definition";
    std::vector<MemberDecl> members;
    if (HasWorkload(calls) && is_class) {
      TSNode body = Field(definition, "body");
      for (uint32_t j = 0; j < ts_node_named_child_count(body); ++j) {
        TSNode member = ts_node_named_child(body, j);
        if (NodeType(member) != "decorated_definition" ||
            NodeType(Field(member, "definition")) != "function_definition") {
          continue;
        }
        consumed_.insert(ts_node_start_byte(member));
        AddMemberDecorators(
            ReadDecorators(member), std::string(Text(Field(Field(member, "definition"), "name"))),
            "`@workload` must decorate a module-level class or function", members, sink_);
      }
    }
    consumed_.insert(ts_node_start_byte(decorated));
    AddWorkloadDecorators(std::move(calls), std::string(Text(Field(definition, "name"))),
                          /*function_form=*/!is_class, members, errors_before, out, sink_);
  }

  // Anything mvm-decorated that was not read above sits somewhere a declaration cannot be.
  VisitNodesWithDecorators(root, file_.contents(), [&](TSNode node) {
    if (NodeType(node) != "decorated_definition" || consumed_.contains(ts_node_start_byte(node))) {
      return;
    }
    for (const DecoratorCall& call : ReadDecorators(node)) {
      std::string where = call.sdk_name == "workload"
                              ? "`@workload` must decorate a module-level class or function"
                              : "`@" + call.sdk_name +
                                    "` must decorate a method of a module-level `@workload` class";
      if (!call.reported) {
        sink_.Emit<DiagnosticKind::kMisplacedDeclaration>(call.loc, where);
      }
    }
  });
}

/// FrontendLanguage::JoinBracketedLines for Python's tokens: strings (triple-quoted ones span
/// lines) and comments are skipped as Python's tokenizer reads them, brackets are counted, and a
/// backslash continuation is left alone.
std::string JoinedBracketLines(std::string_view text) {
  std::string out(text);
  bool changed = false;
  int depth = 0;
  size_t i = 0;
  while (i < out.size()) {
    char c = out[i];
    if (c == '#') {
      size_t end = out.find('\n', i);
      end = end == std::string::npos ? out.size() : end;
      if (depth > 0) {
        std::fill(out.begin() + static_cast<ptrdiff_t>(i),
                  out.begin() + static_cast<ptrdiff_t>(end), ' ');
        changed = true;
      }
      i = end;
    } else if (c == '"' || c == '\'') {
      bool triple = out.compare(i, 3, std::string(3, c)) == 0;
      i += triple ? 3 : 1;
      while (i < out.size()) {
        if (out[i] == '\\') {
          i += 2;
        } else if (triple ? out.compare(i, 3, std::string(3, c)) == 0 : out[i] == c) {
          i += triple ? 3 : 1;
          break;
        } else if (!triple && out[i] == '\n') {
          break;  // unterminated: Python rejects it, and the parse will say so
        } else {
          ++i;
        }
      }
    } else if (c == '\\') {
      i += 2;  // an escaped line break continues the line already
    } else {
      if (c == '(' || c == '[' || c == '{') {
        ++depth;
      } else if ((c == ')' || c == ']' || c == '}') && depth > 0) {
        --depth;
      } else if (c == '\n' && depth > 0) {
        out[i] = ' ';
        changed = true;
      }
      ++i;
    }
  }
  return changed ? out : std::string();
}

class PythonFrontend final : public FrontendLanguage {
 public:
  Language language() const override { return Language::kPython; }
  const TSLanguage* Grammar(std::string_view) const override { return tree_sitter_python(); }
  void ReadDeclarations(const SourceFile& file, TSNode root, std::vector<WorkloadDecl>& out,
                        DiagnosticSink& sink,
                        std::unordered_set<std::string>& names_used) const override {
    PythonReader reader(file, sink);
    reader.Read(root, out);
    reader.AppendNamesUsed(names_used);
  }
  std::string_view FragileLineComment() const override { return "#"; }
  std::string JoinBracketedLines(std::string_view text) const override {
    return JoinedBracketLines(text);
  }
  std::string_view ModuleMarker() const override { return "mvm"; }
  bool ImportsSdk(const SourceFile& file, TSNode root) const override {
    bool found = false;
    ForEachModuleLevelStatement(
        root, [&](TSNode statement) { found = found || ImportsMvm(statement, file); });
    return found;
  }
};

}  // namespace

const FrontendLanguage& PythonLanguage() {
  static const PythonFrontend kPython;
  return kPython;
}

}  // namespace mvm::frontend
