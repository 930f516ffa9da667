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

/// The TypeScript node types the shared evaluator handles itself.
constexpr NodeKindName kKinds[] = {
    {"string", NodeKind::kString},
    {"template_string", NodeKind::kString},
    {"number", NodeKind::kNumber},
    {"true", NodeKind::kTrue},
    {"false", NodeKind::kFalse},
    {"null", NodeKind::kNull},
    {"undefined", NodeKind::kNull},
    {"array", NodeKind::kList},
    {"object", NodeKind::kDict},
    // Wrappers that do not change a value: `(x)`, `x as T`, `x satisfies T`, `<T>x`, `x!`.
    {"parenthesized_expression", NodeKind::kGroup},
    {"as_expression", NodeKind::kGroup},
    {"satisfies_expression", NodeKind::kGroup},
    {"type_assertion", NodeKind::kGroup},
    {"non_null_expression", NodeKind::kGroup},
    {"unary_expression", NodeKind::kUnary},
    {"binary_expression", NodeKind::kBinary},
    {"identifier", NodeKind::kIdentifier},
    {"call_expression", NodeKind::kCall},
};

constexpr std::string_view kStringLiterals[] = {"string", "template_string"};

constexpr EvaluatorSyntax kSyntax = {
    .kinds = kKinds,
    .string_literals = kStringLiterals,
    .member_type = "member_expression",
    .member_property = "property",
    .optional_chain = "optional_chain",
    .call_type = "call_expression",
    .arguments_type = "arguments",
    .floor_division = "",
    .constant_keyword = "const",
    .fold_hint = "only `+`, `-` and `*` on integers and `+` on strings are folded at compile time",
    .call_hint =
        "mvm never runs your code; only `SecretRef`, `NetworkPolicy`, `Volume` and `Image` calls "
        "from `@mvm/sdk` are understood statically",
    .unknown_name_hint =
        "only literals and module-level `const` declarations assigned once can be "
        "read without running the file",
    .reassigned_hint =
        "a constant must be declared with `const` at module level and never reassigned",
    .deep_constant_hint = "its value, used here, is nested more than 100 levels deep",
};

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
  for (const NodeKindName& k : kKinds) {
    if (k.type == type) {
      return k.kind == NodeKind::kGroup;
    }
  }
  return false;
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

Reader::Reader(const SourceFile& file, DiagnosticSink& sink) : Evaluator(file, sink, kSyntax) {}

TSNode Reader::GroupedExpression(TSNode node) const { return WrappedExpression(node); }

StaticValue Reader::EvaluateString(TSNode node) {
  StaticValue v = StringLiteral(node);
  // Charged by source size: the decoded text is never longer.
  if (!Spend(node, 0, ts_node_end_byte(node) - ts_node_start_byte(node))) {
    return Invalid(node);
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
          Loc(child), sensitive() ? "an escape sequence strict-mode code rejects" : error);
      return Invalid(node);
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
      if (v.int_value == INT64_MAX) {
        v.text = Text(node);  // saturated: messages show the literal, not INT64_MAX
      }
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

StaticValue Reader::EvaluateList(TSNode node, int depth) {
  StaticValue v = Value(Kind::kList, node);
  // A comma right after `[` or after another comma is a hole, which reads as `undefined`.
  bool expect_element = true;
  for (uint32_t i = 0; i < ts_node_child_count(node); ++i) {
    TSNode child = ts_node_child(node, i);
    if (!ts_node_is_named(child)) {
      if (NodeType(child) == ",") {
        if (expect_element) {
          v.items.push_back(Value(Kind::kNull, child));
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

StaticValue Reader::EvaluateDict(TSNode node, int depth) {
  StaticValue v = Value(Kind::kDict, node);
  for (TSNode entry : NamedChildren(node)) {
    std::string_view type = NodeType(entry);
    if (type == "pair") {
      std::string name;
      TSNode key = Field(entry, "key");
      if (!KeyName(key, name)) {
        return Invalid(node);
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
  for (TSNode entry : NamedChildren(object)) {
    std::string_view type = NodeType(entry);
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

StaticValue Reader::EvaluateSecrets(TSNode node, int depth) {
  TSNode object = Unwrap(node);
  if (ts_node_is_null(object) || NodeType(object) != "object") {
    return EvaluateSensitive(node, depth);
  }
  size_t first_new = sink_.diagnostics().size();
  StaticValue v = Value(Kind::kDict, object);
  for (TSNode entry : NamedChildren(object)) {
    TSNode key = Field(entry, "key");
    std::string_view key_type = NodeType(entry) == "pair" ? NodeType(key) : "";
    // Anything but `NAME: value` / `"NAME": value` is read as one sensitive value, which reports
    // it.
    if (key_type != "property_identifier" && key_type != "string") {
      return EvaluateSensitive(node, depth);
    }
    std::string name;
    if (!KeyName(key, name)) {
      // Nothing after an unreadable key is read, but the values are still secrets and on the
      // line: mask them, as an unreadable key in Python is (it reads the whole value as secret).
      RedactStringLiterals(node, first_new);
      return Invalid(object);
    }
    v.keys.push_back(Named{std::move(name), Loc(key)});
    v.values.push_back(EvaluateSecretEntry(Field(entry, "value"), depth + 1));
  }
  return v;
}

bool Reader::ReadArguments(TSNode arguments, int depth, std::vector<StaticValue>& items,
                           std::vector<Named>& keys, std::vector<StaticValue>& values,
                           bool workload_call) {
  std::vector<TSNode> args = NamedChildren(arguments);
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

StaticValue Reader::EvaluateUnary(TSNode node, int depth) {
  constexpr std::string_view kSignHint = "only `-` and `+` on numbers are folded at compile time";
  std::string_view op = Text(Field(node, "operator"));
  if (op != "-" && op != "+") {
    return NonStatic(node, "`" + Excerpt(Text(node)) + "`", std::string(kSignHint));
  }
  StaticValue arg = Evaluate(Field(node, "argument"), depth + 1);
  if (arg.kind == Kind::kInvalid) {
    return arg;
  }
  if (!FoldSign(op, arg)) {
    return NonStatic(node, "`" + Excerpt(Text(node)) + "`", std::string(kSignHint));
  }
  arg.loc = Loc(node);
  return arg;
}

StaticValue Reader::EvaluateOther(TSNode node, int /*depth*/) {
  std::string_view type = NodeType(node);
  std::string what = "`" + Excerpt(Text(node)) + "`";
  if (type == "member_expression" || type == "subscript_expression") {
    if (ReadsEnvironment(Text(node))) {
      return NonStatic(node, what, std::string(kEnvHint));
    }
    if (type == "subscript_expression") {
      return NonStatic(node, what,
                       "mvm cannot index into a value without running the file; write the element "
                       "itself as a literal or a module-level `const`");
    }
    return NonStatic(node, what,
                     "mvm cannot read a property without running the file; write the value as a "
                     "literal or a module-level `const`");
  }
  if (type == "new_expression") {
    return NonStatic(node, what,
                     "`new` builds an object when the code runs; mvm reads literals, module-level "
                     "constants and `SecretRef`, `NetworkPolicy`, `Volume` and `Image` calls");
  }
  if (type == "arrow_function" || type == "function_expression" || type == "function") {
    return NonStatic(node, "the function `" + Excerpt(Text(node)) + "`",
                     "a declaration holds values, not functions");
  }
  return NonStatic(node, what);
}

}  // namespace mvm::frontend::typescript
