// The Python language module: finds `@workload` / `@entrypoint` / `@service` decorators imported
// from `mvm` and evaluates their arguments without running anything.

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "frontend/common/evaluation.h"
#include "frontend/common/frontend_language.h"
#include "frontend/common/tree.h"

extern "C" const TSLanguage* tree_sitter_python(void);

namespace mvm::frontend {
namespace {

using Kind = StaticValue::Kind;

constexpr int kMaxDepth = kMaxValueDepth;

/// Names the `mvm` package exports that declarations may use.
constexpr std::string_view kSdkExports[] = {"workload",      "entrypoint", "service",
                                            "NetworkPolicy", "SecretRef",  "Volume"};

bool IsSdkExport(std::string_view name) {
  return std::find(std::begin(kSdkExports), std::end(kSdkExports), name) != std::end(kSdkExports);
}

/// Decodes one Python escape sequence (text starts with the backslash). Returns false for escapes a
/// static reader should not guess at (\N{...} names) or cannot encode (surrogates); the caller
/// keeps their source text.
bool DecodeEscape(std::string_view esc, std::string& out) {
  if (esc.size() < 2) {
    return false;
  }
  char c = esc[1];
  switch (c) {
    case '\n':
      return true;  // line continuation inside a string
    case '\\':
    case '\'':
    case '"':
      out += c;
      return true;
    case 'a':
      out += '\a';
      return true;
    case 'b':
      out += '\b';
      return true;
    case 'f':
      out += '\f';
      return true;
    case 'n':
      out += '\n';
      return true;
    case 'r':
      out += '\r';
      return true;
    case 't':
      out += '\t';
      return true;
    case 'v':
      out += '\v';
      return true;
    case 'x':
    case 'u':
    case 'U': {
      std::string hex(esc.substr(2));
      uint32_t cp = static_cast<uint32_t>(std::strtoul(hex.c_str(), nullptr, 16));
      // A surrogate has no UTF-8 form; encoding one anyway made protobuf's JSON printer drop it
      // silently ("a\ud800b" became "ab" in the IR).
      if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return false;
      }
      AppendUtf8(out, cp);
      return true;
    }
    default:
      if (c >= '0' && c <= '7') {
        std::string oct(esc.substr(1));
        AppendUtf8(out, static_cast<uint32_t>(std::strtoul(oct.c_str(), nullptr, 8)));
        return true;
      }
      return false;
  }
}

class PythonReader {
 public:
  PythonReader(const SourceFile& file, DiagnosticSink& sink) : file_(file), sink_(sink) {}

  void Read(TSNode root, std::vector<WorkloadDecl>& out);

 private:
  struct Constant {
    TSNode value{};
    int assignments = 0;
    bool evaluating = false;
    /// Evaluated once, at the first use, so problems in the definition are reported once; every
    /// use copies `result` and is charged its size (`values`, `bytes`) against the budget.
    bool evaluated = false;
    StaticValue result;
    int64_t values = 0;
    int64_t bytes = 0;
    int nesting = 0;
  };

  std::string_view Text(TSNode n) const { return NodeText(n, file_); }
  SourceLoc Loc(TSNode n) const { return NodeLoc(n, file_); }

  void CollectImports(TSNode statement);
  void CountAssignments(TSNode root);

  /// The SDK export a decorator or callee expression names (`workload`, `m.SecretRef`), or "".
  std::string ResolveSdkName(TSNode node) const;

  StaticValue NonStatic(TSNode node, std::string what, std::string hint = "");
  /// Charges `values` evaluations and `bytes` string bytes to the file's budget; false (reported
  /// once, at `node`) when it is spent.
  bool Spend(TSNode node, int64_t values, int64_t bytes);
  StaticValue Evaluate(TSNode node, int depth);
  StaticValue EvaluateString(TSNode node);
  StaticValue EvaluateInteger(TSNode node);
  StaticValue EvaluateIdentifier(TSNode node, int depth);
  StaticValue EvaluateCall(TSNode node, int depth);
  StaticValue EvaluateBinary(TSNode node, int depth);
  /// Fills positional args and keyword arguments of a call's argument_list.
  bool EvaluateArguments(TSNode arguments, int depth, std::vector<StaticValue>& items,
                         std::vector<Named>& keys, std::vector<StaticValue>& values,
                         bool workload_call = false);
  /// A `secrets=` value: each entry that is not a `SecretRef(...)` call is evaluated as sensitive.
  StaticValue EvaluateSecrets(TSNode node, int depth);
  /// Evaluates a value that may hold a secret: diagnostics quote no source and mask every string
  /// literal the value reads (constants included), and the result is marked `sensitive`.
  StaticValue EvaluateSensitive(TSNode node, int depth);

  /// Reads the mvm decorators of a decorated_definition; returns their SDK names alongside.
  std::vector<DecoratorCall> ReadDecorators(TSNode decorated);

  const SourceFile& file_;
  DiagnosticSink& sink_;
  std::unordered_map<std::string, std::string> sdk_names_;  // local name -> SDK export
  std::unordered_set<std::string> module_aliases_;          // names bound to the mvm module
  std::unordered_map<std::string, Constant> constants_;
  std::unordered_set<uint32_t> consumed_;
  int sensitive_ = 0;                         // > 0 while evaluating a value that may hold a secret
  std::vector<SourceLoc> sensitive_strings_;  // string literals read while sensitive
  EvaluationBudget budget_{file_.contents().size()};
};

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
      for (std::string_view e : kSdkExports) {
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

std::string PythonReader::ResolveSdkName(TSNode node) const {
  std::string_view type = NodeType(node);
  if (type == "identifier") {
    auto it = sdk_names_.find(std::string(Text(node)));
    return it == sdk_names_.end() ? "" : it->second;
  }
  if (type == "attribute") {
    TSNode object = Field(node, "object");
    std::string attribute(Text(Field(node, "attribute")));
    if (NodeType(object) == "identifier" && module_aliases_.contains(std::string(Text(object))) &&
        IsSdkExport(attribute)) {
      return attribute;
    }
  }
  return "";
}

StaticValue PythonReader::NonStatic(TSNode node, std::string what, std::string hint) {
  if (sensitive_ > 0) {
    // Inside a secret's value any quoted source could be the secret itself: quote nothing, and mask
    // the strings of the part that was not evaluated.
    what = "this expression";
    std::vector<TSNode> stack{node};
    while (!stack.empty()) {
      TSNode n = stack.back();
      stack.pop_back();
      if (NodeType(n) == "string") {
        sensitive_strings_.push_back(Loc(n));
        continue;
      }
      for (uint32_t i = 0; i < ts_node_named_child_count(n); ++i) {
        stack.push_back(ts_node_named_child(n, i));
      }
    }
  }
  Diagnostic& d = sink_.Emit<DiagnosticKind::kNonStatic>(Loc(node), what);
  if (!hint.empty()) {
    d.hint = std::move(hint);
  }
  StaticValue v;
  v.loc = Loc(node);
  return v;
}

bool PythonReader::Spend(TSNode node, int64_t values, int64_t bytes) {
  bool first = false;
  if (budget_.Spend(values, bytes, first)) {
    return true;
  }
  if (first) {
    NonStatic(node, "this expression", budget_.ExhaustedHint());
  }
  return false;
}

StaticValue PythonReader::EvaluateString(TSNode node) {
  StaticValue v;
  v.kind = Kind::kString;
  v.loc = Loc(node);
  v.from_literal = true;
  if (sensitive_ > 0) {
    sensitive_strings_.push_back(v.loc);
  }
  if (NodeType(node) == "concatenated_string") {
    for (uint32_t i = 0; i < ts_node_named_child_count(node); ++i) {
      StaticValue part = EvaluateString(ts_node_named_child(node, i));
      if (part.kind != Kind::kString) {
        return part;
      }
      v.text += part.text;
    }
    return v;
  }
  // Charged by source size: the decoded text is never longer.
  if (!Spend(node, 0, ts_node_end_byte(node) - ts_node_start_byte(node))) {
    StaticValue invalid;
    invalid.loc = v.loc;
    return invalid;
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
          StaticValue other;
          other.kind = Kind::kOther;
          other.loc = v.loc;
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
      for (uint32_t j = 0; j < ts_node_named_child_count(child); ++j) {
        TSNode esc = ts_node_named_child(child, j);
        if (NodeType(esc) != "escape_sequence") {
          continue;
        }
        v.text += file_.contents().substr(pos, ts_node_start_byte(esc) - pos);
        if (raw || !DecodeEscape(Text(esc), v.text)) {
          v.text += Text(esc);
        }
        pos = ts_node_end_byte(esc);
      }
      v.text += file_.contents().substr(pos, ts_node_end_byte(child) - pos);
    }
  }
  return v;
}

StaticValue PythonReader::EvaluateInteger(TSNode node) {
  std::string digits;
  for (char c : Text(node)) {
    if (c != '_') {
      digits += c;
    }
  }
  StaticValue v;
  v.loc = Loc(node);
  if (!digits.empty() && (digits.back() == 'j' || digits.back() == 'J')) {
    v.kind = Kind::kOther;
    v.text = "a complex number";
    return v;
  }
  int base = 10;
  size_t skip = 0;
  if (digits.size() > 2 && digits[0] == '0') {
    char p = static_cast<char>(digits[1] | 0x20);
    base = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 10;
    skip = base == 10 ? 0 : 2;
  }
  errno = 0;
  unsigned long long parsed = std::strtoull(digits.c_str() + skip, nullptr, base);
  v.kind = Kind::kInt;
  // Anything beyond int64 is far outside every option's range; saturate so the range check says so.
  v.int_value = (errno == ERANGE || parsed > static_cast<unsigned long long>(INT64_MAX))
                    ? INT64_MAX
                    : static_cast<int64_t>(parsed);
  return v;
}

StaticValue PythonReader::EvaluateIdentifier(TSNode node, int depth) {
  std::string name(Text(node));
  auto it = constants_.find(name);
  if (it == constants_.end() || ts_node_is_null(it->second.value)) {
    if (!ResolveSdkName(node).empty()) {
      StaticValue v;
      v.kind = Kind::kOther;
      v.loc = Loc(node);
      v.text = "`" + name + "`";
      return v;
    }
    return NonStatic(node, "`" + name + "`",
                     "only literals and module-level constants assigned once can be read without "
                     "running the file");
  }
  Constant& c = it->second;
  if (c.assignments > 1) {
    return NonStatic(node, "`" + name + "`",
                     "`" + name +
                         "` is assigned more than once; a constant must be assigned exactly "
                         "once at module level");
  }
  if (c.evaluating) {
    return NonStatic(node, "`" + name + "`", "`" + name + "` is defined in terms of itself");
  }
  if (!c.evaluated) {
    c.evaluating = true;
    // Diagnostics inside the constant's definition point there; the value is located at the use.
    c.result = Evaluate(c.value, depth + 1);
    c.evaluating = false;
    c.evaluated = true;
    c.nesting = MeasureValue(c.result, c.values, c.bytes);
  }
  if (depth + c.nesting > kMaxDepth) {
    // Each constant was within the limit where it was defined; used inside another value it may
    // not be.
    return NonStatic(node, "`" + name + "`", "it is nested more than 100 levels deep here");
  }
  if (!Spend(node, c.values, c.bytes)) {
    StaticValue invalid;
    invalid.loc = Loc(node);
    return invalid;
  }
  StaticValue v = c.result;
  v.loc = Loc(node);
  v.from_literal = false;
  return v;
}

StaticValue PythonReader::EvaluateBinary(TSNode node, int depth) {
  StaticValue left = Evaluate(Field(node, "left"), depth + 1);
  StaticValue right = Evaluate(Field(node, "right"), depth + 1);
  if (left.kind == Kind::kInvalid || right.kind == Kind::kInvalid) {
    StaticValue v;
    v.loc = Loc(node);
    return v;
  }
  std::string_view op = Text(Field(node, "operator"));
  StaticValue v;
  v.loc = Loc(node);
  if (left.kind == Kind::kString && right.kind == Kind::kString && op == "+") {
    if (!Spend(node, 0, static_cast<int64_t>(left.text.size() + right.text.size()))) {
      return v;
    }
    v.kind = Kind::kString;
    v.text = left.text + right.text;
    return v;
  }
  if (left.kind == Kind::kInt && right.kind == Kind::kInt) {
    int64_t a = left.int_value;
    int64_t b = right.int_value;
    int64_t r = 0;
    bool overflow = false;
    if (op == "+") {
      overflow = __builtin_add_overflow(a, b, &r);
    } else if (op == "-") {
      overflow = __builtin_sub_overflow(a, b, &r);
    } else if (op == "*") {
      overflow = __builtin_mul_overflow(a, b, &r);
    } else if (op == "//") {
      if (b == 0) {
        return NonStatic(node, "`" + Excerpt(Text(node)) + "`", "division by zero");
      }
      overflow = a == INT64_MIN && b == -1;
      if (!overflow) {
        // Python floors toward negative infinity.
        r = a / b;
        if ((a % b != 0) && ((a < 0) != (b < 0))) {
          --r;
        }
      }
    } else {
      return NonStatic(node, "`" + Excerpt(Text(node)) + "`",
                       "only `+`, `-`, `*` and `//` on integers and `+` on strings are folded");
    }
    if (overflow) {
      return NonStatic(node, "`" + Excerpt(Text(node)) + "`", "the result overflows 64 bits");
    }
    v.kind = Kind::kInt;
    v.int_value = r;
    return v;
  }
  return NonStatic(node, "`" + Excerpt(Text(node)) + "`",
                   "only `+`, `-`, `*` and `//` on integers and `+` on strings are folded");
}

StaticValue PythonReader::EvaluateSensitive(TSNode node, int depth) {
  size_t first_new = sink_.diagnostics().size();
  std::vector<SourceLoc> outer = std::move(sensitive_strings_);
  sensitive_strings_.clear();
  ++sensitive_;
  StaticValue v = Evaluate(node, depth);
  --sensitive_;
  // Evaluation stops at the first problem; strings after it were never read but are still on the
  // line. Mask every literal written inside the value.
  std::vector<TSNode> stack{node};
  while (!stack.empty()) {
    TSNode n = stack.back();
    stack.pop_back();
    if (NodeType(n) == "string" || NodeType(n) == "concatenated_string") {
      sensitive_strings_.push_back(Loc(n));
      continue;
    }
    for (uint32_t i = 0; i < ts_node_named_child_count(n); ++i) {
      stack.push_back(ts_node_named_child(n, i));
    }
  }
  // Whatever was reported while reading the value must not show any string in it, on any line a
  // printer shows.
  for (size_t i = first_new; i < sink_.diagnostics().size(); ++i) {
    Diagnostic& d = sink_.mutable_diagnostic(i);
    d.redactions.insert(d.redactions.end(), sensitive_strings_.begin(), sensitive_strings_.end());
  }
  outer.insert(outer.end(), sensitive_strings_.begin(), sensitive_strings_.end());
  sensitive_strings_ = std::move(outer);
  v.sensitive = true;
  return v;
}

StaticValue PythonReader::EvaluateSecrets(TSNode node, int depth) {
  if (NodeType(node) != "dictionary") {
    return EvaluateSensitive(node, depth);
  }
  StaticValue v;
  v.kind = Kind::kDict;
  v.loc = Loc(node);
  for (uint32_t i = 0; i < ts_node_named_child_count(node); ++i) {
    TSNode pair = ts_node_named_child(node, i);
    if (NodeType(pair) == "comment") {
      continue;
    }
    if (NodeType(pair) != "pair") {
      return EvaluateSensitive(node, depth);
    }
    TSNode key_node = Field(pair, "key");
    StaticValue key = Evaluate(key_node, depth + 1);
    if (key.kind != Kind::kString) {
      return EvaluateSensitive(node, depth);
    }
    TSNode value = Field(pair, "value");
    bool reference =
        NodeType(value) == "call" && ResolveSdkName(Field(value, "function")) == "SecretRef";
    v.keys.push_back(Named{key.text, Loc(key_node)});
    v.values.push_back(reference ? Evaluate(value, depth + 1)
                                 : EvaluateSensitive(value, depth + 1));
  }
  return v;
}

bool PythonReader::EvaluateArguments(TSNode arguments, int depth, std::vector<StaticValue>& items,
                                     std::vector<Named>& keys, std::vector<StaticValue>& values,
                                     bool workload_call) {
  bool ok = true;
  for (uint32_t i = 0; i < ts_node_named_child_count(arguments); ++i) {
    TSNode arg = ts_node_named_child(arguments, i);
    std::string_view type = NodeType(arg);
    if (type == "comment") {
      continue;
    }
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

StaticValue PythonReader::EvaluateCall(TSNode node, int depth) {
  TSNode function = Field(node, "function");
  StaticValue v;
  v.kind = Kind::kCall;
  v.loc = Loc(node);
  std::string sdk = ResolveSdkName(function);
  v.callee_loc = Loc(NodeType(function) == "attribute" ? Field(function, "attribute") : function);
  if (sdk == "SecretRef") {
    v.text = sdk;
  } else if (NodeType(function) == "attribute") {
    TSNode object = Field(function, "object");
    std::string attribute(Text(Field(function, "attribute")));
    std::string object_sdk = ResolveSdkName(object);
    if (object_sdk == "Volume" || object_sdk == "NetworkPolicy") {
      v.text = object_sdk + "." + attribute;
    } else if (NodeType(object) == "call") {
      StaticValue receiver = Evaluate(object, depth + 1);
      if (receiver.kind == Kind::kInvalid) {
        return receiver;
      }
      if (receiver.kind == Kind::kCall) {
        v.text = attribute;
        v.receiver = std::make_shared<StaticValue>(std::move(receiver));
      }
    }
  }
  if (v.text.empty()) {
    return NonStatic(
        node, "the call `" + Excerpt(Text(node)) + "`",
        "mvm never runs your code; only `SecretRef`, `NetworkPolicy` and `Volume` calls "
        "from `mvm` are understood statically");
  }
  if (!EvaluateArguments(Field(node, "arguments"), depth, v.items, v.keys, v.values)) {
    StaticValue invalid;
    invalid.loc = v.loc;
    return invalid;
  }
  return v;
}

StaticValue PythonReader::Evaluate(TSNode node, int depth) {
  if (depth > kMaxDepth) {
    return NonStatic(node, "this expression", "it is nested more than 100 levels deep");
  }
  if (!Spend(node, 1, 0)) {
    StaticValue invalid;
    invalid.loc = Loc(node);
    return invalid;
  }
  std::string_view type = NodeType(node);
  StaticValue v;
  v.loc = Loc(node);
  if (type == "string" || type == "concatenated_string") {
    return EvaluateString(node);
  }
  if (type == "integer") {
    return EvaluateInteger(node);
  }
  if (type == "float") {
    std::string digits;
    for (char c : Text(node)) {
      if (c != '_') {
        digits += c;
      }
    }
    if (!digits.empty() && (digits.back() == 'j' || digits.back() == 'J')) {
      v.kind = Kind::kOther;
      v.text = "a complex number";
      return v;
    }
    v.kind = Kind::kFloat;
    v.float_value = std::strtod(digits.c_str(), nullptr);
    return v;
  }
  if (type == "true" || type == "false") {
    v.kind = Kind::kBool;
    v.bool_value = type == "true";
    return v;
  }
  if (type == "none") {
    v.kind = Kind::kNull;
    return v;
  }
  if (type == "list" || type == "tuple") {
    v.kind = Kind::kList;
    for (uint32_t i = 0; i < ts_node_named_child_count(node); ++i) {
      TSNode item = ts_node_named_child(node, i);
      if (NodeType(item) == "comment") {
        continue;
      }
      if (NodeType(item) == "list_splat") {
        return NonStatic(item, "the unpacking `" + Excerpt(Text(item)) + "`",
                         "spell every element out; mvm cannot see what an unpacked value holds");
      }
      v.items.push_back(Evaluate(item, depth + 1));
    }
    return v;
  }
  if (type == "dictionary") {
    v.kind = Kind::kDict;
    for (uint32_t i = 0; i < ts_node_named_child_count(node); ++i) {
      TSNode pair = ts_node_named_child(node, i);
      if (NodeType(pair) == "comment") {
        continue;
      }
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
        StaticValue invalid;
        invalid.loc = v.loc;
        return invalid;
      }
      v.keys.push_back(Named{key.text, Loc(key_node)});
      v.values.push_back(Evaluate(Field(pair, "value"), depth + 1));
    }
    return v;
  }
  if (type == "parenthesized_expression") {
    for (uint32_t i = 0; i < ts_node_named_child_count(node); ++i) {
      TSNode inner = ts_node_named_child(node, i);
      if (NodeType(inner) != "comment") {
        StaticValue r = Evaluate(inner, depth + 1);
        return r;
      }
    }
  }
  if (type == "unary_operator") {
    std::string_view op = Text(Field(node, "operator"));
    StaticValue arg = Evaluate(Field(node, "argument"), depth + 1);
    if (arg.kind == Kind::kInvalid) {
      return arg;
    }
    if ((op == "-" || op == "+") && (arg.kind == Kind::kInt || arg.kind == Kind::kFloat)) {
      arg.loc = v.loc;
      if (op == "-") {
        if (arg.kind == Kind::kInt) {
          arg.int_value = arg.int_value == INT64_MIN ? INT64_MAX : -arg.int_value;
        } else {
          arg.float_value = -arg.float_value;
        }
      }
      return arg;
    }
    return NonStatic(node, "`" + Excerpt(Text(node)) + "`");
  }
  if (type == "binary_operator") {
    return EvaluateBinary(node, depth);
  }
  if (type == "identifier") {
    return EvaluateIdentifier(node, depth);
  }
  if (type == "call") {
    return EvaluateCall(node, depth);
  }
  if (type == "subscript" && Text(Field(node, "value")).find("environ") != std::string_view::npos) {
    return NonStatic(
        node, "`" + Excerpt(Text(node)) + "`",
        "environment variables are read when code runs, not when it is compiled; for a "
        "secret use `SecretRef(\"name\", hosts=[...])`");
  }
  return NonStatic(node, "`" + Excerpt(Text(node)) + "`");
}

std::vector<DecoratorCall> PythonReader::ReadDecorators(TSNode decorated) {
  std::vector<DecoratorCall> calls;
  for (uint32_t i = 0; i < ts_node_named_child_count(decorated); ++i) {
    TSNode decorator = ts_node_named_child(decorated, i);
    if (NodeType(decorator) != "decorator") {
      continue;
    }
    TSNode expr = ts_node_named_child(decorator, 0);
    while (!ts_node_is_null(expr) && NodeType(expr) == "comment") {
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
      if (!EvaluateArguments(Field(expr, "arguments"), 0, call.args, call.keys, call.values,
                             sdk == "workload")) {
        call.sdk_name = "";  // Reported; do not lower a half-read declaration.
      }
    }
    calls.push_back(std::move(call));
  }
  return calls;
}

void PythonReader::Read(TSNode root, std::vector<WorkloadDecl>& out) {
  for (uint32_t i = 0; i < ts_node_named_child_count(root); ++i) {
    CollectImports(ts_node_named_child(root, i));
  }
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
    bool has_workload = false;
    for (DecoratorCall& call : calls) {
      has_workload |= call.sdk_name == "workload";
    }
    if (has_workload && is_class) {
      TSNode body = Field(definition, "body");
      for (uint32_t j = 0; j < ts_node_named_child_count(body); ++j) {
        TSNode member = ts_node_named_child(body, j);
        if (NodeType(member) != "decorated_definition" ||
            NodeType(Field(member, "definition")) != "function_definition") {
          continue;
        }
        consumed_.insert(ts_node_start_byte(member));
        std::string method(Text(Field(Field(member, "definition"), "name")));
        for (DecoratorCall& call : ReadDecorators(member)) {
          if (call.sdk_name == "entrypoint" || call.sdk_name == "service") {
            members.push_back(MemberDecl{std::move(call), method});
          } else if (call.sdk_name == "workload") {
            sink_.Emit<DiagnosticKind::kMisplacedDeclaration>(
                call.loc, "`@workload` must decorate a module-level class or function");
          }
        }
      }
    }
    consumed_.insert(ts_node_start_byte(decorated));
    for (DecoratorCall& call : calls) {
      if (call.sdk_name == "workload") {
        WorkloadDecl decl;
        decl.call = std::move(call);
        decl.function_form = !is_class;
        decl.target_name = std::string(Text(Field(definition, "name")));
        decl.members = members;
        decl.incomplete = sink_.error_count() != errors_before;
        out.push_back(std::move(decl));
      } else if (call.sdk_name == "entrypoint" || call.sdk_name == "service") {
        sink_.Emit<DiagnosticKind::kMisplacedDeclaration>(
            call.loc, "`@" + call.sdk_name + "` must decorate a method of a `@workload` class");
      }
    }
  }

  // Anything mvm-decorated that was not read above sits somewhere a declaration cannot be. Every
  // decorator holds an `@`, so subtrees without one are not entered: most of a file is skipped.
  std::vector<uint32_t> ats;
  std::string_view text = file_.contents();
  for (size_t at = text.find('@'); at != std::string_view::npos; at = text.find('@', at + 1)) {
    ats.push_back(static_cast<uint32_t>(at));
  }
  auto holds_at = [&](TSNode n) {
    auto it = std::lower_bound(ats.begin(), ats.end(), ts_node_start_byte(n));
    return it != ats.end() && *it < ts_node_end_byte(n);
  };
  TSTreeCursor cursor = ts_tree_cursor_new(root);
  bool done = ats.empty();
  while (!done) {
    TSNode node = ts_tree_cursor_current_node(&cursor);
    if (NodeType(node) == "decorated_definition" && !consumed_.contains(ts_node_start_byte(node))) {
      for (const DecoratorCall& call : ReadDecorators(node)) {
        std::string where =
            call.sdk_name == "workload"
                ? "`@workload` must decorate a module-level class or function"
                : "`@" + call.sdk_name +
                      "` must decorate a method of a module-level `@workload` class";
        if (!call.sdk_name.empty()) {
          sink_.Emit<DiagnosticKind::kMisplacedDeclaration>(call.loc, where);
        }
      }
    }
    if (holds_at(node) && ts_tree_cursor_goto_first_child(&cursor)) {
      continue;
    }
    while (!ts_tree_cursor_goto_next_sibling(&cursor)) {
      if (!ts_tree_cursor_goto_parent(&cursor)) {
        done = true;
        break;
      }
    }
  }
  ts_tree_cursor_delete(&cursor);
}

class PythonFrontend final : public FrontendLanguage {
 public:
  Language language() const override { return Language::kPython; }
  const TSLanguage* Grammar(std::string_view) const override { return tree_sitter_python(); }
  void ReadDeclarations(const SourceFile& file, TSNode root, std::vector<WorkloadDecl>& out,
                        DiagnosticSink& sink) const override {
    PythonReader(file, sink).Read(root, out);
  }
  std::string_view FragileLineComment() const override { return "#"; }
};

}  // namespace

const FrontendLanguage& PythonLanguage() {
  static const PythonFrontend kPython;
  return kPython;
}

}  // namespace mvm::frontend
