#ifndef MVM_FRONTEND_COMMON_EVALUATOR_H_
#define MVM_FRONTEND_COMMON_EVALUATOR_H_

#include <tree_sitter/api.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "frontend/common/evaluation.h"
#include "frontend/common/static_value.h"
#include "frontend/common/tree.h"
#include "ir/support/diagnostic.h"
#include "ir/support/source_file.h"

namespace mvm::frontend {

/// What the shared evaluator makes of a syntax node; each language maps its grammar's node types
/// onto these.
enum class NodeKind : uint8_t {
  kOther,       ///< the language's EvaluateOther decides (usually non-static)
  kString,      ///< a string literal: the language's EvaluateString
  kNumber,      ///< a numeric literal: the language's EvaluateNumber
  kTrue,        ///< `True` / `true`
  kFalse,       ///< `False` / `false`
  kNull,        ///< `None` / `null` / `undefined`
  kList,        ///< list, tuple, array: the language's EvaluateList
  kDict,        ///< dict, object: the language's EvaluateDict
  kGroup,       ///< parentheses and other wrappers that do not change the value
  kUnary,       ///< `-x`, `+x`: the language's EvaluateUnary
  kBinary,      ///< `a + b`: folded by the shared evaluator
  kIdentifier,  ///< a name: a module-level constant or an SDK export
  kCall,        ///< `f(...)`: an SDK helper call, or non-static
};

/// One grammar node type and what the shared evaluator makes of it.
struct NodeKindName {
  std::string_view type;
  NodeKind kind;
};

/// What the shared evaluator needs to know about one language: its node names and the wording of
/// the messages that name its syntax. Static data, owned by the language module.
struct EvaluatorSyntax {
  /// The node types the evaluator handles; any other is NodeKind::kOther.
  std::span<const NodeKindName> kinds;
  /// Node types of whole string literals: in a secret's place every one of them is masked.
  std::span<const std::string_view> string_literals;
  std::string_view member_type;      ///< `a.b`: "attribute" / "member_expression"
  std::string_view member_property;  ///< field of `b` in `a.b`
  /// The field that marks `a?.b`, which never names an SDK export; empty when the grammar has none.
  std::string_view optional_chain;
  std::string_view call_type;  ///< "call" / "call_expression"
  /// The node type a call's arguments must have to be read (TypeScript's tagged templates have
  /// none); empty when any will do.
  std::string_view arguments_type;
  /// The integer floor-division operator folded besides `+ - *` ("//"), or empty.
  std::string_view floor_division;
  /// The keyword that declares a constant (`const`); empty when the language has none, and every
  /// binding assigned exactly once is a constant.
  std::string_view constant_keyword;
  std::string_view fold_hint;           ///< for an operation that is not folded
  std::string_view call_hint;           ///< for a call that is not an SDK helper
  std::string_view unknown_name_hint;   ///< for a name that is not a constant
  std::string_view reassigned_hint;     ///< follows "`X` is assigned more than once; "
  std::string_view deep_constant_hint;  ///< a constant nested too deep where it is used
};

/// The evaluation every language shares: the per-file budget, module-level constants, folding,
/// SDK helper calls, and reading a value in a secret's place so that no diagnostic shows any string
/// it holds. A language module derives from it and supplies the node-kind mapping (`syntax`), its
/// literal syntax and what it reads differently (lists, dicts, call arguments, imports). Borrows
/// `file`, `sink` and `syntax` for its lifetime, which is one ReadDeclarations call; not
/// thread-safe.
class Evaluator {
 public:
  Evaluator(const SourceFile& file, DiagnosticSink& sink, const EvaluatorSyntax& syntax)
      : file_(file), sink_(sink), syntax_(syntax) {}
  virtual ~Evaluator() = default;
  Evaluator(const Evaluator&) = delete;
  Evaluator& operator=(const Evaluator&) = delete;

  /// Adds to `out` every name the declarations read so far depend on: the local names of SDK
  /// exports and of the SDK module, and every name a value looked up, found or not. A syntax error
  /// in code that mentions none of them cannot change what was read.
  void AppendNamesUsed(std::unordered_set<std::string>& out) const;

 protected:
  /// A module-level binding that may be a constant.
  struct Constant {
    TSNode value{};  ///< the assigned expression; null when the binding has none to read
    /// How it was declared ("const", "let", "var"), or empty in a language without keywords.
    std::string_view keyword;
    int assignments = 0;      ///< assignments and declarations; a constant has exactly one
    bool evaluating = false;  ///< guards `A = A`
    /// Evaluated once, at the first use, so problems in the definition are reported once; every
    /// use copies `result` and is charged its size (`values`, `bytes`) against the budget.
    bool evaluated = false;
    StaticValue result;
    int64_t values = 0;
    int64_t bytes = 0;
    int nesting = 0;  ///< how deep `result` nests
  };

  // What each language supplies.
  virtual StaticValue EvaluateString(TSNode node) = 0;
  virtual StaticValue EvaluateNumber(TSNode node) = 0;
  virtual StaticValue EvaluateList(TSNode node, int depth) = 0;
  virtual StaticValue EvaluateDict(TSNode node, int depth) = 0;
  virtual StaticValue EvaluateUnary(TSNode node, int depth) = 0;
  /// The expression a NodeKind::kGroup node holds, or a null node.
  virtual TSNode GroupedExpression(TSNode node) const = 0;
  /// A node of kind kOther (or an empty group): non-static, with the language's hints.
  virtual StaticValue EvaluateOther(TSNode node, int depth) = 0;
  /// Fills positional `items` and named `keys` / `values` from a call's arguments; false after
  /// reporting when the call cannot be read (an unpacked or spread argument). In a `@workload`'s
  /// arguments (`workload_call`), `secrets` is read with EvaluateSecretEntry.
  virtual bool ReadArguments(TSNode arguments, int depth, std::vector<StaticValue>& items,
                             std::vector<Named>& keys, std::vector<StaticValue>& values,
                             bool workload_call) = 0;

  std::string_view Text(TSNode n) const { return NodeText(n, file_); }
  SourceLoc Loc(TSNode n) const { return NodeLoc(n, file_); }
  /// An already-reported (kInvalid) value located at `node`.
  StaticValue Invalid(TSNode node) const;
  /// An empty value of `kind` located at `node`, for a language's reader to fill.
  StaticValue Value(StaticValue::Kind kind, TSNode node) const;
  /// The value of the string literal `node`, its text left for the language to decode; noted as
  /// read (NoteStringLiteral).
  StaticValue StringLiteral(TSNode node);

  /// Evaluates `node` at nesting `depth`: bounded by kMaxValueDepth and by the file's budget.
  StaticValue Evaluate(TSNode node, int depth);
  /// Reports `what` as non-static at `node` and returns an invalid value located there. In a
  /// secret's place `what` becomes "this expression" and every string literal in `node` is masked.
  StaticValue NonStatic(TSNode node, std::string what, std::string hint = "");
  /// Charges `values` evaluations and `bytes` string bytes to the file's budget; false (reported
  /// once, at `node`) when it is spent.
  bool Spend(TSNode node, int64_t values, int64_t bytes);
  /// Records that the string literal at `loc` was read: masked when it is in a secret's place.
  void NoteStringLiteral(const SourceLoc& loc);
  /// `quoted` for a message, or "this expression" while a secret's value is read (any source text
  /// could be the secret itself).
  std::string Quote(std::string quoted) const;
  bool sensitive() const { return sensitive_ > 0; }

  /// The SDK export an expression names (`workload`, `mvm.SecretRef`), or "".
  std::string ResolveSdkName(TSNode node) const;

  /// The value of the name `node`: a module-level constant, an SDK export (static, but of no use
  /// as a value), or non-static.
  StaticValue EvaluateIdentifier(TSNode node, int depth);
  /// Folds `+ - *` (and the floor division of `syntax`) on integers and `+` on strings.
  StaticValue EvaluateBinary(TSNode node, int depth);
  /// An SDK helper call: `SecretRef(...)`, `Volume.local(...)`, `NetworkPolicy.x()`, or a call
  /// chained on one; anything else is non-static.
  StaticValue EvaluateCall(TSNode node, int depth);
  /// Evaluates a value that may hold a secret: diagnostics quote no source and mask every string
  /// literal the value reads (constants included), and the result is marked `sensitive`.
  StaticValue EvaluateSensitive(TSNode node, int depth);
  /// Masks every string literal written in `node` on the lines of the diagnostics reported since
  /// the sink held `first_new`: for a secret's value that could not be read at all.
  void RedactStringLiterals(TSNode node, size_t first_new);
  /// The value of one entry of `secrets`: a `SecretRef(...)` call is read as is, anything else as
  /// a secret (EvaluateSensitive).
  StaticValue EvaluateSecretEntry(TSNode value, int depth);

  const SourceFile& file_;
  DiagnosticSink& sink_;
  const EvaluatorSyntax& syntax_;
  std::unordered_map<std::string, std::string> sdk_names_;  ///< local name -> SDK export
  std::unordered_set<std::string> module_aliases_;          ///< names bound to the SDK module
  std::unordered_map<std::string, Constant> constants_;     ///< module-level bindings by name

 private:
  NodeKind KindOf(std::string_view type) const;
  /// Appends the location of every string literal in `node` (iteratively) to sensitive_strings_.
  void MaskStringLiterals(TSNode node);
  /// Adds sensitive_strings_ to the redactions of the diagnostics since `first_new`, then makes
  /// them part of `outer` (the strings of an enclosing sensitive value), which becomes
  /// sensitive_strings_.
  void RedactSince(size_t first_new, std::vector<SourceLoc> outer);

  std::unordered_set<std::string> names_looked_up_;  // by EvaluateIdentifier
  int sensitive_ = 0;                         // > 0 while evaluating a value that may hold a secret
  std::vector<SourceLoc> sensitive_strings_;  // string literals read while sensitive
  EvaluationBudget budget_{file_.contents().size()};
};

/// Whether the SDK exports `name` as something a declaration may use (the same six names in both
/// languages).
bool IsSdkExport(std::string_view name);

/// The SDK's exports, for `from mvm import *`.
std::span<const std::string_view> SdkExports();

/// Calls `visit` on the nodes of `root`'s tree (whose source is `text`) that may be or hold a
/// decorator, parents first: subtrees without an `@` are not entered, so most of a file is skipped.
/// Iterative: the tree can nest deeper than the stack allows.
void VisitNodesWithDecorators(TSNode root, std::string_view text,
                              const std::function<void(TSNode)>& visit);

}  // namespace mvm::frontend

#endif  // MVM_FRONTEND_COMMON_EVALUATOR_H_
