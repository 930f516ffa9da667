#include "frontend/common/evaluator.h"

#include <algorithm>
#include <array>
#include <memory>
#include <utility>

namespace mvm::frontend {
namespace {

using Kind = StaticValue::Kind;

constexpr std::array<std::string_view, 7> kSdkExports = {
    "workload", "entrypoint", "service", "NetworkPolicy", "SecretRef", "Volume", "Image"};

}  // namespace

bool IsSdkExport(std::string_view name) {
  return std::find(kSdkExports.begin(), kSdkExports.end(), name) != kSdkExports.end();
}

std::span<const std::string_view> SdkExports() { return kSdkExports; }

void VisitNodesWithDecorators(TSNode root, std::string_view text,
                              const std::function<void(TSNode)>& visit) {
  std::vector<uint32_t> ats;
  for (size_t at = text.find('@'); at != std::string_view::npos; at = text.find('@', at + 1)) {
    ats.push_back(static_cast<uint32_t>(at));
  }
  auto holds_at = [&](TSNode n) {
    auto it = std::lower_bound(ats.begin(), ats.end(), ts_node_start_byte(n));
    return it != ats.end() && *it < ts_node_end_byte(n);
  };
  if (ats.empty()) {
    return;
  }
  WalkPreOrder(root, [&](TSNode node) {
    visit(node);
    return holds_at(node) ? Walk::kDescend : Walk::kSkipChildren;
  });
}

StaticValue Evaluator::Invalid(TSNode node) const { return Value(Kind::kInvalid, node); }

StaticValue Evaluator::Value(StaticValue::Kind kind, TSNode node) const {
  StaticValue v;
  v.kind = kind;
  v.loc = Loc(node);
  return v;
}

StaticValue Evaluator::StringLiteral(TSNode node) {
  StaticValue v = Value(Kind::kString, node);
  v.from_literal = true;
  NoteStringLiteral(v.loc);
  return v;
}

NodeKind Evaluator::KindOf(std::string_view type) const {
  for (const NodeKindName& k : syntax_.kinds) {
    if (k.type == type) {
      return k.kind;
    }
  }
  return NodeKind::kOther;
}

StaticValue Evaluator::Evaluate(TSNode node, int depth) {
  if (depth > kMaxValueDepth) {
    return NonStatic(node, "this expression", "it is nested more than 100 levels deep");
  }
  if (!Spend(node, 1, 0)) {
    return Invalid(node);
  }
  StaticValue v;
  v.loc = Loc(node);
  NodeKind kind = KindOf(NodeType(node));
  switch (kind) {
    case NodeKind::kString:
      return EvaluateString(node);
    case NodeKind::kNumber:
      return EvaluateNumber(node);
    case NodeKind::kTrue:
    case NodeKind::kFalse:
      v.kind = Kind::kBool;
      v.bool_value = kind == NodeKind::kTrue;
      return v;
    case NodeKind::kNull:
      v.kind = Kind::kNull;
      return v;
    case NodeKind::kList:
      return EvaluateList(node, depth);
    case NodeKind::kDict:
      return EvaluateDict(node, depth);
    case NodeKind::kGroup:
      if (TSNode inner = GroupedExpression(node); !ts_node_is_null(inner)) {
        return Evaluate(inner, depth + 1);
      }
      break;
    case NodeKind::kUnary:
      return EvaluateUnary(node, depth);
    case NodeKind::kBinary:
      return EvaluateBinary(node, depth);
    case NodeKind::kIdentifier:
      return EvaluateIdentifier(node, depth);
    case NodeKind::kCall:
      return EvaluateCall(node, depth);
    case NodeKind::kOther:
      break;
  }
  return EvaluateOther(node, depth);
}

void Evaluator::MaskStringLiterals(TSNode node) {
  std::vector<TSNode> stack{node};
  while (!stack.empty()) {
    TSNode n = stack.back();
    stack.pop_back();
    std::string_view type = NodeType(n);
    if (std::find(syntax_.string_literals.begin(), syntax_.string_literals.end(), type) !=
        syntax_.string_literals.end()) {
      sensitive_strings_.push_back(Loc(n));
      continue;
    }
    for (uint32_t i = 0; i < ts_node_named_child_count(n); ++i) {
      stack.push_back(ts_node_named_child(n, i));
    }
  }
}

StaticValue Evaluator::NonStatic(TSNode node, std::string what, std::string hint) {
  if (sensitive_ > 0) {
    // Inside a secret's value any quoted source could be the secret itself: quote nothing, and mask
    // the strings of the part that was not evaluated. That part may lie outside the value itself
    // (the definition of a constant the value names), where EvaluateSensitive's own masking of the
    // value's literals does not reach.
    what = "this expression";
    MaskStringLiterals(node);
  }
  Diagnostic& d = sink_.Emit<DiagnosticKind::kNonStatic>(Loc(node), what);
  if (!hint.empty()) {
    d.hint = std::move(hint);
  }
  return Invalid(node);
}

bool Evaluator::Spend(TSNode node, int64_t values, int64_t bytes) {
  bool first = false;
  if (budget_.Spend(values, bytes, first)) {
    return true;
  }
  if (first) {
    NonStatic(node, "this expression", budget_.ExhaustedHint());
  }
  return false;
}

void Evaluator::NoteStringLiteral(const SourceLoc& loc) {
  if (sensitive_ > 0) {
    sensitive_strings_.push_back(loc);
  }
}

std::string Evaluator::Quote(std::string quoted) const {
  return sensitive_ > 0 ? "this expression" : std::move(quoted);
}

std::string Evaluator::ResolveSdkName(TSNode node) const {
  std::string_view type = NodeType(node);
  if (type == "identifier") {
    auto it = sdk_names_.find(std::string(Text(node)));
    return it == sdk_names_.end() ? "" : it->second;
  }
  if (type == syntax_.member_type &&
      (syntax_.optional_chain.empty() || ts_node_is_null(Field(node, syntax_.optional_chain)))) {
    TSNode object = Field(node, "object");
    std::string property(Text(Field(node, syntax_.member_property)));
    if (NodeType(object) == "identifier" && module_aliases_.contains(std::string(Text(object))) &&
        IsSdkExport(property)) {
      return property;
    }
  }
  return "";
}

void Evaluator::AppendNamesUsed(std::unordered_set<std::string>& out) const {
  for (const auto& [local, sdk] : sdk_names_) {
    out.insert(local);
  }
  out.insert(module_aliases_.begin(), module_aliases_.end());
  out.insert(names_looked_up_.begin(), names_looked_up_.end());
}

StaticValue Evaluator::EvaluateIdentifier(TSNode node, int depth) {
  std::string name(Text(node));
  names_looked_up_.insert(name);
  auto it = constants_.find(name);
  if (it == constants_.end() || ts_node_is_null(it->second.value)) {
    if (!ResolveSdkName(node).empty()) {
      StaticValue v;
      v.kind = Kind::kOther;
      v.loc = Loc(node);
      v.text = "`" + name + "`";
      return v;
    }
    return NonStatic(node, "`" + name + "`", std::string(syntax_.unknown_name_hint));
  }
  Constant& c = it->second;
  if (!syntax_.constant_keyword.empty() && c.keyword != syntax_.constant_keyword) {
    return NonStatic(node, "`" + name + "`",
                     "`" + name + "` is declared with `" + std::string(c.keyword) +
                         "`, so it may change; declare it with `" +
                         std::string(syntax_.constant_keyword) + "` at module level");
  }
  if (c.assignments > 1) {
    return NonStatic(
        node, "`" + name + "`",
        "`" + name + "` is assigned more than once; " + std::string(syntax_.reassigned_hint));
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
  if (depth + c.nesting > kMaxValueDepth) {
    // Each constant was within the limit where it was defined; copied in here it may not be, and
    // constants of constants could otherwise nest without bound. Checked before charging the
    // budget, so a refused use costs nothing.
    return NonStatic(node, "`" + name + "`", std::string(syntax_.deep_constant_hint));
  }
  if (!Spend(node, c.values, c.bytes)) {
    return Invalid(node);
  }
  StaticValue v = c.result;
  v.loc = Loc(node);
  v.from_literal = false;
  return v;
}

StaticValue Evaluator::EvaluateBinary(TSNode node, int depth) {
  StaticValue left = Evaluate(Field(node, "left"), depth + 1);
  StaticValue right = Evaluate(Field(node, "right"), depth + 1);
  StaticValue v = Invalid(node);
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
  std::string fold_hint(syntax_.fold_hint);
  if (left.kind != Kind::kInt || right.kind != Kind::kInt) {
    return NonStatic(node, "`" + Excerpt(Text(node)) + "`", fold_hint);
  }
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
  } else if (!syntax_.floor_division.empty() && op == syntax_.floor_division) {
    if (b == 0) {
      return NonStatic(node, "`" + Excerpt(Text(node)) + "`", "division by zero");
    }
    overflow = a == INT64_MIN && b == -1;
    if (!overflow) {
      // Floors toward negative infinity, as Python's `//` does.
      r = a / b;
      if ((a % b != 0) && ((a < 0) != (b < 0))) {
        --r;
      }
    }
  } else {
    return NonStatic(node, "`" + Excerpt(Text(node)) + "`", fold_hint);
  }
  if (overflow) {
    return NonStatic(node, "`" + Excerpt(Text(node)) + "`", "the result overflows 64 bits");
  }
  v.kind = Kind::kInt;
  v.int_value = r;
  return v;
}

StaticValue Evaluator::EvaluateCall(TSNode node, int depth) {
  TSNode function = Field(node, "function");
  TSNode arguments = Field(node, "arguments");
  StaticValue v;
  v.kind = Kind::kCall;
  v.loc = Loc(node);
  bool member = NodeType(function) == syntax_.member_type;
  v.callee_loc = Loc(member ? Field(function, syntax_.member_property) : function);
  if (syntax_.arguments_type.empty() || NodeType(arguments) == syntax_.arguments_type) {
    std::string sdk = ResolveSdkName(function);
    if (sdk == "SecretRef") {
      v.text = sdk;
    } else if (member && (syntax_.optional_chain.empty() ||
                          ts_node_is_null(Field(function, syntax_.optional_chain)))) {
      TSNode object = Field(function, "object");
      std::string property(Text(Field(function, syntax_.member_property)));
      std::string object_sdk = ResolveSdkName(object);
      if (object_sdk == "Volume" || object_sdk == "NetworkPolicy" || object_sdk == "Image") {
        v.text = object_sdk + "." + property;
      } else if (NodeType(object) == syntax_.call_type) {
        StaticValue receiver = Evaluate(object, depth + 1);
        if (receiver.kind == Kind::kInvalid) {
          return receiver;
        }
        if (receiver.kind == Kind::kCall) {
          v.text = property;
          v.receiver = std::make_shared<StaticValue>(std::move(receiver));
        }
      }
    }
  }
  if (v.text.empty()) {
    return NonStatic(node, "the call `" + Excerpt(Text(node)) + "`",
                     std::string(syntax_.call_hint));
  }
  if (!ReadArguments(arguments, depth, v.items, v.keys, v.values, /*workload_call=*/false)) {
    return Invalid(node);
  }
  return v;
}

StaticValue Evaluator::EvaluateSensitive(TSNode node, int depth) {
  size_t first_new = sink_.diagnostics().size();
  std::vector<SourceLoc> outer = std::move(sensitive_strings_);
  sensitive_strings_.clear();
  ++sensitive_;
  StaticValue v = Evaluate(node, depth);
  --sensitive_;
  // Evaluation stops at the first problem; strings after it were never read but are still on the
  // line. Mask every literal written inside the value.
  MaskStringLiterals(node);
  RedactSince(first_new, std::move(outer));
  v.sensitive = true;
  return v;
}

void Evaluator::RedactStringLiterals(TSNode node, size_t first_new) {
  std::vector<SourceLoc> outer = std::move(sensitive_strings_);
  sensitive_strings_.clear();
  MaskStringLiterals(node);
  RedactSince(first_new, std::move(outer));
}

void Evaluator::RedactSince(size_t first_new, std::vector<SourceLoc> outer) {
  // Whatever was reported while reading the value must not show any string in it, on any line a
  // printer shows.
  for (size_t i = first_new; i < sink_.diagnostics().size(); ++i) {
    Diagnostic& d = sink_.mutable_diagnostic(i);
    d.redactions.insert(d.redactions.end(), sensitive_strings_.begin(), sensitive_strings_.end());
  }
  outer.insert(outer.end(), sensitive_strings_.begin(), sensitive_strings_.end());
  sensitive_strings_ = std::move(outer);
}

StaticValue Evaluator::EvaluateSecretEntry(TSNode value, int depth) {
  bool reference = NodeType(value) == syntax_.call_type &&
                   ResolveSdkName(Field(value, "function")) == "SecretRef";
  return reference ? Evaluate(value, depth) : EvaluateSensitive(value, depth);
}

}  // namespace mvm::frontend
