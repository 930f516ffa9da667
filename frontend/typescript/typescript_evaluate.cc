// Static evaluation of TypeScript expressions: literals, module-level constants, folded
// arithmetic and `@mvm/sdk` helper calls. Nothing is run; everything else is reported as
// `non-static` with a hint that says what to write instead.

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "frontend/typescript/typescript_literals.h"
#include "frontend/typescript/typescript_reader.h"

namespace mvm::frontend::typescript {
namespace {

using Kind = StaticValue::Kind;

constexpr int kMaxDepth = kMaxValueDepth;

constexpr std::string_view kFoldHint =
    "only `+`, `-` and `*` on integers and `+` on strings are folded at compile time";
constexpr std::string_view kCallHint =
    "mvm never runs your code; only `SecretRef`, `NetworkPolicy` and `Volume` calls from "
    "`@mvm/sdk` are understood statically";
constexpr std::string_view kEnvHint =
    "environment variables are read when code runs, not when it is compiled; for a secret use "
    "`SecretRef(\"name\", { hosts: [...] })`";
constexpr std::string_view kSpreadHint =
    "spell every entry out; mvm cannot see what a spread value holds";

bool IsComment(TSNode n) { return NodeType(n) == "comment"; }

/// The expression a transparent wrapper holds: the last child of `<T>x` (its type comes first), the
/// first of the others.
TSNode WrappedExpression(TSNode node) {
  if (NodeType(node) == "type_assertion") {
    uint32_t count = ts_node_named_child_count(node);
    return count == 0 ? TSNode{} : ts_node_named_child(node, count - 1);
  }
  return FirstNamedChildOfType(node, "");
}

bool IsTransparent(std::string_view type) {
  return type == "parenthesized_expression" || type == "as_expression" ||
         type == "satisfies_expression" || type == "type_assertion" ||
         type == "non_null_expression";
}

/// `process.env.X`, `process.env["X"]`, `import.meta.env.X` and the objects themselves.
bool ReadsEnvironment(std::string_view text) {
  std::string compact;
  for (char c : text) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '?') {
      compact += c;
    }
  }
  for (std::string_view prefix : {"process.env", "process[\"env\"]", "process['env']",
                                  "import.meta.env", "globalThis.process.env"}) {
    if (compact.starts_with(prefix)) {
      return true;
    }
  }
  return false;
}

}  // namespace

TSNode Unwrap(TSNode node) {
  while (!ts_node_is_null(node) && IsTransparent(NodeType(node))) {
    node = WrappedExpression(node);
  }
  return node;
}

std::string Reader::ResolveSdkName(TSNode node) const {
  std::string_view type = NodeType(node);
  if (type == "identifier") {
    auto it = sdk_names_.find(std::string(Text(node)));
    return it == sdk_names_.end() ? "" : it->second;
  }
  if (type == "member_expression" && ts_node_is_null(Field(node, "optional_chain"))) {
    TSNode object = Field(node, "object");
    std::string property(Text(Field(node, "property")));
    if (NodeType(object) == "identifier" &&
        namespace_aliases_.contains(std::string(Text(object))) && IsSdkExport(property)) {
      return property;
    }
  }
  return "";
}

std::string Reader::Quote(std::string quoted) const {
  return sensitive_ > 0 ? "this expression" : std::move(quoted);
}

StaticValue Reader::NonStatic(TSNode node, std::string what, std::string hint) {
  if (sensitive_ > 0) {
    // Inside a secret's value any quoted source could be the secret itself.
    what = "this expression";
  }
  Diagnostic& d = sink_.Emit<DiagnosticKind::kNonStatic>(Loc(node), what);
  if (!hint.empty()) {
    d.hint = std::move(hint);
  }
  StaticValue v;
  v.loc = Loc(node);
  return v;
}

bool Reader::Spend(TSNode node, int64_t values, int64_t bytes) {
  bool first = false;
  if (budget_.Spend(values, bytes, first)) {
    return true;
  }
  if (first) {
    NonStatic(node, "this expression", budget_.ExhaustedHint());
  }
  return false;
}

StaticValue Reader::EvaluateString(TSNode node) {
  StaticValue v;
  v.kind = Kind::kString;
  v.loc = Loc(node);
  v.from_literal = true;
  if (sensitive_ > 0) {
    sensitive_strings_.push_back(v.loc);
  }
  // Charged by source size: the decoded text is never longer.
  if (!Spend(node, 0, ts_node_end_byte(node) - ts_node_start_byte(node))) {
    StaticValue invalid;
    invalid.loc = v.loc;
    return invalid;
  }
  bool template_chars = NodeType(node) == "template_string";
  StringDecoder decoder;
  std::string_view contents = file_.contents();
  // Between the quotes, everything that is not an escape or a substitution is literal text.
  uint32_t pos = ts_node_start_byte(node) + 1;
  uint32_t end = ts_node_end_byte(node) - 1;
  for (uint32_t i = 0; i < ts_node_named_child_count(node); ++i) {
    TSNode child = ts_node_named_child(node, i);
    std::string_view type = NodeType(child);
    if (type == "template_substitution") {
      return NonStatic(child, "the template substitution `" + Excerpt(Text(child)) + "`",
                       "mvm reads declarations without running them; write the whole string as a "
                       "literal or a module-level constant, or join constants with `+`");
    }
    if (type != "escape_sequence") {
      continue;
    }
    uint32_t start = ts_node_start_byte(child);
    decoder.AppendFragment(contents.substr(pos, start - pos), template_chars);
    pos = ts_node_end_byte(child);
    char next = pos < contents.size() ? contents[pos] : '\0';
    std::string error;
    if (!decoder.AppendEscape(Text(child), next, error)) {
      sink_.Emit<DiagnosticKind::kSyntaxError>(
          Loc(child), sensitive_ > 0 ? "an escape sequence strict-mode code rejects" : error);
      StaticValue invalid;
      invalid.loc = v.loc;
      return invalid;
    }
  }
  if (pos < end) {
    decoder.AppendFragment(contents.substr(pos, end - pos), template_chars);
  }
  v.text = decoder.Finish();
  if (decoder.lone_surrogate()) {
    v.kind = Kind::kOther;
    v.text = "a string with an unpaired UTF-16 surrogate";
  }
  return v;
}

StaticValue Reader::EvaluateNumber(TSNode node) {
  NumberLiteral n = ParseNumber(Text(node));
  StaticValue v;
  v.loc = Loc(node);
  switch (n.kind) {
    case NumberLiteral::Kind::kInt:
      v.kind = Kind::kInt;
      v.int_value = n.int_value;
      break;
    case NumberLiteral::Kind::kFloat:
      v.kind = Kind::kFloat;
      v.float_value = n.float_value;
      break;
    case NumberLiteral::Kind::kBigInt:
      v.kind = Kind::kOther;
      v.text = "a bigint";
      break;
    case NumberLiteral::Kind::kLegacyOctal:
      sink_.Emit<DiagnosticKind::kSyntaxError>(
          v.loc, Quote("`" + Excerpt(Text(node)) + "`") +
                     ": numbers with a leading zero are not allowed in TypeScript modules; write "
                     "`0o...` for octal or drop the zero");
      break;
  }
  return v;
}

StaticValue Reader::EvaluateIdentifier(TSNode node, int depth) {
  std::string name(Text(node));
  auto it = bindings_.find(name);
  if (it == bindings_.end() || ts_node_is_null(it->second.value)) {
    if (!ResolveSdkName(node).empty()) {
      StaticValue v;
      v.kind = Kind::kOther;
      v.loc = Loc(node);
      v.text = "`" + name + "`";
      return v;
    }
    return NonStatic(
        node, "`" + name + "`",
        "only literals and module-level `const` declarations assigned once can be read "
        "without running the file");
  }
  Binding& b = it->second;
  if (b.keyword != "const") {
    return NonStatic(node, "`" + name + "`",
                     "`" + name + "` is declared with `" + std::string(b.keyword) +
                         "`, so it may change; declare it with `const` at module level");
  }
  if (b.assignments > 1) {
    return NonStatic(node, "`" + name + "`",
                     "`" + name +
                         "` is assigned more than once; a constant must be declared with "
                         "`const` at module level and never reassigned");
  }
  if (b.evaluating) {
    return NonStatic(node, "`" + name + "`", "`" + name + "` is defined in terms of itself");
  }
  if (!b.evaluated) {
    b.evaluating = true;
    // Diagnostics inside the constant's definition point there; the value is located at the use.
    b.result = Evaluate(b.value, depth + 1);
    b.evaluating = false;
    b.evaluated = true;
    b.nesting = MeasureValue(b.result, b.values, b.bytes);
  }
  if (!Spend(node, b.values, b.bytes)) {
    StaticValue invalid;
    invalid.loc = Loc(node);
    return invalid;
  }
  // The value was evaluated once, maybe near the top; copied in here it must still respect the
  // depth limit, or constants of constants could nest without bound.
  if (depth + b.nesting > kMaxDepth) {
    return NonStatic(node, "`" + name + "`",
                     "its value, used here, is nested more than 100 levels deep");
  }
  StaticValue v = b.result;
  v.loc = Loc(node);
  v.from_literal = false;
  return v;
}

StaticValue Reader::EvaluateArray(TSNode node, int depth) {
  StaticValue v;
  v.kind = Kind::kList;
  v.loc = Loc(node);
  // A comma right after `[` or after another comma is a hole, which reads as `undefined`.
  bool expect_element = true;
  for (uint32_t i = 0; i < ts_node_child_count(node); ++i) {
    TSNode child = ts_node_child(node, i);
    if (!ts_node_is_named(child)) {
      if (NodeType(child) == ",") {
        if (expect_element) {
          StaticValue hole;
          hole.kind = Kind::kNull;
          hole.loc = Loc(child);
          v.items.push_back(std::move(hole));
        }
        expect_element = true;
      }
      continue;
    }
    if (IsComment(child)) {
      continue;
    }
    if (NodeType(child) == "spread_element") {
      return NonStatic(child, "the spread `" + Excerpt(Text(child)) + "`",
                       "spell every element out; mvm cannot see what a spread value holds");
    }
    v.items.push_back(Evaluate(child, depth + 1));
    expect_element = false;
  }
  return v;
}

bool Reader::KeyName(TSNode key, std::string& name) {
  std::string_view type = NodeType(key);
  if (type == "property_identifier" || type == "private_property_identifier") {
    name = std::string(Text(key));
    return true;
  }
  if (type == "computed_property_name") {
    NonStatic(key, "the computed key `" + Excerpt(Text(key)) + "`",
              "write the key as an identifier or a string literal");
    return false;
  }
  StaticValue k = type == "string" ? EvaluateString(key) : EvaluateNumber(key);
  if (k.kind == Kind::kString) {
    name = std::move(k.text);
    return true;
  }
  if (k.kind != Kind::kInvalid) {
    sink_.Emit<DiagnosticKind::kTypeMismatch>(Loc(key), "an object key", "a string",
                                              DescribeType(k));
  }
  return false;
}

StaticValue Reader::EvaluateObject(TSNode node, int depth) {
  StaticValue v;
  v.kind = Kind::kDict;
  v.loc = Loc(node);
  for (uint32_t i = 0; i < ts_node_named_child_count(node); ++i) {
    TSNode entry = ts_node_named_child(node, i);
    std::string_view type = NodeType(entry);
    if (type == "comment") {
      continue;
    }
    if (type == "pair") {
      std::string name;
      TSNode key = Field(entry, "key");
      if (!KeyName(key, name)) {
        StaticValue invalid;
        invalid.loc = v.loc;
        return invalid;
      }
      v.keys.push_back(Named{std::move(name), Loc(key)});
      v.values.push_back(Evaluate(Field(entry, "value"), depth + 1));
    } else if (type == "shorthand_property_identifier") {
      return NonStatic(
          entry, "the shorthand property `" + Excerpt(Text(entry)) + "`",
          "write `" + Excerpt(Text(entry)) + ": value`; mvm reads `key: value` entries");
    } else if (type == "spread_element") {
      return NonStatic(entry, "the spread `" + Excerpt(Text(entry)) + "`",
                       std::string(kSpreadHint));
    } else if (type == "method_definition") {
      return NonStatic(entry, "the method `" + Excerpt(Text(Field(entry, "name"))) + "`",
                       "an object in a declaration holds values, not functions");
    } else {
      return NonStatic(entry, "`" + Excerpt(Text(entry)) + "`",
                       "spell every entry out as `key: value`");
    }
  }
  return v;
}

bool Reader::ReadOptionsObject(TSNode object, int depth, std::vector<Named>& keys,
                               std::vector<StaticValue>& values, bool workload_call) {
  bool ok = true;
  for (uint32_t i = 0; i < ts_node_named_child_count(object); ++i) {
    TSNode entry = ts_node_named_child(object, i);
    std::string_view type = NodeType(entry);
    if (type == "comment") {
      continue;
    }
    if (type == "pair") {
      TSNode key = Field(entry, "key");
      std::string name;
      if (NodeType(key) == "computed_property_name") {
        // Which option it sets is unknowable, so the whole call is, like a Python `**kwargs`.
        KeyName(key, name);
        ok = false;
      } else if (KeyName(key, name)) {
        bool secrets = workload_call && name == "secrets";
        keys.push_back(Named{std::move(name), Loc(key)});
        values.push_back(secrets ? EvaluateSecrets(Field(entry, "value"), depth + 1)
                                 : Evaluate(Field(entry, "value"), depth + 1));
      }
    } else if (type == "shorthand_property_identifier") {
      // The option is known, only its value is not: keep the name so nothing reports it missing.
      keys.push_back(Named{std::string(Text(entry)), Loc(entry)});
      values.push_back(
          NonStatic(entry, "the shorthand property `" + Excerpt(Text(entry)) + "`",
                    "write `" + Excerpt(Text(entry)) + ": value`; mvm reads `key: value` entries"));
    } else if (type == "method_definition") {
      TSNode key = Field(entry, "name");
      keys.push_back(Named{std::string(Text(key)), Loc(key)});
      values.push_back(NonStatic(entry, "the method `" + Excerpt(Text(key)) + "`",
                                 "an option holds a value, not a function"));
    } else if (type == "spread_element") {
      NonStatic(entry, "the spread `" + Excerpt(Text(entry)) + "`",
                "spell every option out; mvm cannot see what a spread value holds");
      ok = false;
    } else {
      NonStatic(entry, "`" + Excerpt(Text(entry)) + "`", "spell every option out as `key: value`");
      ok = false;
    }
  }
  return ok;
}

StaticValue Reader::EvaluateSensitive(TSNode node, int depth) {
  size_t first_new = sink_.diagnostics().size();
  std::vector<SourceLoc> outer = std::move(sensitive_strings_);
  sensitive_strings_.clear();
  ++sensitive_;
  StaticValue v = Evaluate(node, depth);
  --sensitive_;
  // Evaluation stops at the first non-static part, so literals after it were never read: mask
  // every string literal written inside the value too. Iterative, like every walk of the tree.
  std::vector<TSNode> stack{node};
  while (!stack.empty()) {
    TSNode n = stack.back();
    stack.pop_back();
    if (NodeType(n) == "string" || NodeType(n) == "template_string") {
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
    Diagnostic& d = const_cast<Diagnostic&>(sink_.diagnostics()[i]);
    d.redactions.insert(d.redactions.end(), sensitive_strings_.begin(), sensitive_strings_.end());
  }
  outer.insert(outer.end(), sensitive_strings_.begin(), sensitive_strings_.end());
  sensitive_strings_ = std::move(outer);
  v.sensitive = true;
  return v;
}

StaticValue Reader::EvaluateSecrets(TSNode node, int depth) {
  TSNode object = Unwrap(node);
  if (ts_node_is_null(object) || NodeType(object) != "object") {
    return EvaluateSensitive(node, depth);
  }
  StaticValue v;
  v.kind = Kind::kDict;
  v.loc = Loc(object);
  for (uint32_t i = 0; i < ts_node_named_child_count(object); ++i) {
    TSNode entry = ts_node_named_child(object, i);
    if (IsComment(entry)) {
      continue;
    }
    TSNode key = Field(entry, "key");
    std::string_view key_type = NodeType(entry) == "pair" ? NodeType(key) : "";
    // Anything but `NAME: value` / `"NAME": value` is read as one sensitive value, which reports
    // it.
    if (key_type != "property_identifier" && key_type != "string") {
      return EvaluateSensitive(node, depth);
    }
    std::string name;
    if (!KeyName(key, name)) {
      StaticValue invalid;
      invalid.loc = v.loc;
      return invalid;
    }
    TSNode value = Field(entry, "value");
    bool reference = NodeType(value) == "call_expression" &&
                     ResolveSdkName(Field(value, "function")) == "SecretRef";
    v.keys.push_back(Named{std::move(name), Loc(key)});
    v.values.push_back(reference ? Evaluate(value, depth + 1)
                                 : EvaluateSensitive(value, depth + 1));
  }
  return v;
}

bool Reader::ReadArguments(TSNode arguments, int depth, std::vector<StaticValue>& items,
                           std::vector<Named>& keys, std::vector<StaticValue>& values,
                           bool workload_call) {
  std::vector<TSNode> args;
  for (uint32_t i = 0; i < ts_node_named_child_count(arguments); ++i) {
    TSNode arg = ts_node_named_child(arguments, i);
    if (!IsComment(arg)) {
      args.push_back(arg);
    }
  }
  bool ok = true;
  for (size_t i = 0; i < args.size(); ++i) {
    TSNode arg = args[i];
    if (NodeType(arg) == "spread_element") {
      NonStatic(arg, "the spread `" + Excerpt(Text(arg)) + "`",
                "spell every argument out; mvm cannot see what a spread value holds");
      ok = false;
      continue;
    }
    if (i + 1 < args.size()) {
      items.push_back(Evaluate(arg, depth + 1));
      continue;
    }
    // A trailing options object plays the part of Python's keyword arguments.
    TSNode inner = Unwrap(arg);
    if (!ts_node_is_null(inner) && NodeType(inner) == "object") {
      ok = ReadOptionsObject(inner, depth + 1, keys, values, workload_call) && ok;
      continue;
    }
    StaticValue v = Evaluate(arg, depth + 1);
    if (v.kind == Kind::kDict) {
      for (size_t k = 0; k < v.keys.size(); ++k) {
        keys.push_back(std::move(v.keys[k]));
        values.push_back(std::move(v.values[k]));
      }
      continue;
    }
    items.push_back(std::move(v));
  }
  return ok;
}

StaticValue Reader::EvaluateCall(TSNode node, int depth) {
  TSNode function = Field(node, "function");
  TSNode arguments = Field(node, "arguments");
  StaticValue v;
  v.kind = Kind::kCall;
  v.loc = Loc(node);
  v.callee_loc =
      Loc(NodeType(function) == "member_expression" ? Field(function, "property") : function);
  if (NodeType(arguments) == "arguments") {
    std::string sdk = ResolveSdkName(function);
    if (sdk == "SecretRef") {
      v.text = sdk;
    } else if (NodeType(function) == "member_expression" &&
               ts_node_is_null(Field(function, "optional_chain"))) {
      TSNode object = Field(function, "object");
      TSNode property = Field(function, "property");
      std::string object_sdk = ResolveSdkName(object);
      if (object_sdk == "Volume" || object_sdk == "NetworkPolicy") {
        v.text = object_sdk + "." + std::string(Text(property));
      } else if (NodeType(object) == "call_expression") {
        StaticValue receiver = Evaluate(object, depth + 1);
        if (receiver.kind == Kind::kInvalid) {
          return receiver;
        }
        if (receiver.kind == Kind::kCall) {
          v.text = std::string(Text(property));
          v.receiver = std::make_shared<StaticValue>(std::move(receiver));
        }
      }
    }
  }
  if (v.text.empty()) {
    return NonStatic(node, "the call `" + Excerpt(Text(node)) + "`", std::string(kCallHint));
  }
  if (!ReadArguments(arguments, depth, v.items, v.keys, v.values)) {
    StaticValue invalid;
    invalid.loc = v.loc;
    return invalid;
  }
  return v;
}

StaticValue Reader::EvaluateBinary(TSNode node, int depth) {
  StaticValue left = Evaluate(Field(node, "left"), depth + 1);
  StaticValue right = Evaluate(Field(node, "right"), depth + 1);
  StaticValue v;
  v.loc = Loc(node);
  if (left.kind == Kind::kInvalid || right.kind == Kind::kInvalid) {
    return v;
  }
  std::string_view op = Text(Field(node, "operator"));
  if (left.kind == Kind::kString && right.kind == Kind::kString && op == "+") {
    if (!Spend(node, 0, static_cast<int64_t>(left.text.size() + right.text.size()))) {
      return v;
    }
    v.kind = Kind::kString;
    v.text = left.text + right.text;
    return v;
  }
  if (left.kind == Kind::kInt && right.kind == Kind::kInt) {
    int64_t r = 0;
    bool overflow = false;
    if (op == "+") {
      overflow = __builtin_add_overflow(left.int_value, right.int_value, &r);
    } else if (op == "-") {
      overflow = __builtin_sub_overflow(left.int_value, right.int_value, &r);
    } else if (op == "*") {
      overflow = __builtin_mul_overflow(left.int_value, right.int_value, &r);
    } else {
      return NonStatic(node, "`" + Excerpt(Text(node)) + "`", std::string(kFoldHint));
    }
    if (overflow) {
      return NonStatic(node, "`" + Excerpt(Text(node)) + "`", "the result overflows 64 bits");
    }
    v.kind = Kind::kInt;
    v.int_value = r;
    return v;
  }
  return NonStatic(node, "`" + Excerpt(Text(node)) + "`", std::string(kFoldHint));
}

StaticValue Reader::EvaluateUnary(TSNode node, int depth) {
  std::string_view op = Text(Field(node, "operator"));
  if (op != "-" && op != "+") {
    return NonStatic(node, "`" + Excerpt(Text(node)) + "`",
                     "only `-` and `+` on numbers are folded at compile time");
  }
  StaticValue arg = Evaluate(Field(node, "argument"), depth + 1);
  if (arg.kind == Kind::kInvalid) {
    return arg;
  }
  if (arg.kind != Kind::kInt && arg.kind != Kind::kFloat) {
    return NonStatic(node, "`" + Excerpt(Text(node)) + "`",
                     "only `-` and `+` on numbers are folded at compile time");
  }
  arg.loc = Loc(node);
  if (op == "-") {
    if (arg.kind == Kind::kInt) {
      arg.int_value = arg.int_value == INT64_MIN ? INT64_MAX : -arg.int_value;
    } else {
      arg.float_value = -arg.float_value;
    }
  }
  return arg;
}

StaticValue Reader::EvaluateMember(TSNode node) {
  std::string what = "`" + Excerpt(Text(node)) + "`";
  if (ReadsEnvironment(Text(node))) {
    return NonStatic(node, what, std::string(kEnvHint));
  }
  if (NodeType(node) == "subscript_expression") {
    return NonStatic(node, what,
                     "mvm cannot index into a value without running the file; write the element "
                     "itself as a literal or a module-level `const`");
  }
  return NonStatic(node, what,
                   "mvm cannot read a property without running the file; write the value as a "
                   "literal or a module-level `const`");
}

StaticValue Reader::Evaluate(TSNode node, int depth) {
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
  if (type == "string" || type == "template_string") {
    return EvaluateString(node);
  }
  if (type == "number") {
    return EvaluateNumber(node);
  }
  if (type == "true" || type == "false") {
    v.kind = Kind::kBool;
    v.bool_value = type == "true";
    return v;
  }
  if (type == "null" || type == "undefined") {
    v.kind = Kind::kNull;
    return v;
  }
  if (type == "array") {
    return EvaluateArray(node, depth);
  }
  if (type == "object") {
    return EvaluateObject(node, depth);
  }
  if (IsTransparent(type)) {
    TSNode inner = WrappedExpression(node);
    if (!ts_node_is_null(inner)) {
      return Evaluate(inner, depth + 1);
    }
  }
  if (type == "unary_expression") {
    return EvaluateUnary(node, depth);
  }
  if (type == "binary_expression") {
    return EvaluateBinary(node, depth);
  }
  if (type == "identifier") {
    return EvaluateIdentifier(node, depth);
  }
  if (type == "call_expression") {
    return EvaluateCall(node, depth);
  }
  if (type == "member_expression" || type == "subscript_expression") {
    return EvaluateMember(node);
  }
  if (type == "new_expression") {
    return NonStatic(node, "`" + Excerpt(Text(node)) + "`",
                     "`new` builds an object when the code runs; mvm reads literals, module-level "
                     "constants and `SecretRef`, `NetworkPolicy` and `Volume` calls");
  }
  if (type == "arrow_function" || type == "function_expression" || type == "function") {
    return NonStatic(node, "the function `" + Excerpt(Text(node)) + "`",
                     "a declaration holds values, not functions");
  }
  return NonStatic(node, "`" + Excerpt(Text(node)) + "`");
}

}  // namespace mvm::frontend::typescript
