#ifndef MVM_FRONTEND_TYPESCRIPT_TYPESCRIPT_READER_H_
#define MVM_FRONTEND_TYPESCRIPT_TYPESCRIPT_READER_H_

#include <tree_sitter/api.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "frontend/common/declaration.h"
#include "frontend/common/evaluation.h"
#include "frontend/common/static_value.h"
#include "frontend/common/tree.h"
#include "ir/support/diagnostic.h"
#include "ir/support/source_file.h"

namespace mvm::frontend::typescript {

/// Reads the mvm declarations of one TypeScript (.ts / .tsx) syntax tree: imports from `@mvm/sdk`,
/// module-level constants, decorators and their statically evaluated arguments. Borrows `file` and
/// `sink` for its lifetime, which is one ReadDeclarations call; it keeps nothing afterwards.
///
/// Declarations (imports, constants, decorators) live in typescript_language.cc; evaluation of
/// expressions in typescript_evaluate.cc.
class Reader {
 public:
  Reader(const SourceFile& file, DiagnosticSink& sink) : file_(file), sink_(sink) {}

  /// Appends the workload declarations of the syntax-error-free tree `root` to `out`.
  void Read(TSNode root, std::vector<WorkloadDecl>& out);

 private:
  /// A module-level binding that may be a constant.
  struct Binding {
    TSNode value{};            ///< initializer; null for `let x;` and for `var` in a block
    std::string_view keyword;  ///< "const", "let" or "var"
    int assignments = 0;       ///< declarations plus reassignments; a constant has exactly one
    bool evaluating = false;   ///< guards `const A = A`
    /// Evaluated once, at the first use, so problems in the definition are reported once; every
    /// use copies `result` and is charged its size (`values`, `bytes`) against the budget.
    bool evaluated = false;
    StaticValue result;
    int64_t values = 0;
    int64_t bytes = 0;
    int nesting = 0;  ///< how deep `result` nests
  };

  std::string_view Text(TSNode n) const { return NodeText(n, file_); }
  SourceLoc Loc(TSNode n) const { return NodeLoc(n, file_); }

  // typescript_language.cc
  void CollectImport(TSNode statement);
  void CollectBindings(TSNode root);
  void ReadClass(TSNode cls, const std::vector<TSNode>& decorators, std::vector<WorkloadDecl>& out);
  /// The mvm decorators among `decorators`, read; each is marked consumed. A decorator whose
  /// arguments could not be read (a spread) comes back with an empty `sdk_name`.
  std::vector<DecoratorCall> ReadDecorators(const std::vector<TSNode>& decorators);
  void ReportMisplaced(TSNode root);
  std::string MethodName(TSNode method);

  // typescript_evaluate.cc
  /// The SDK export an expression names (`workload`, `mvm.SecretRef`), or "".
  std::string ResolveSdkName(TSNode node) const;
  /// Reports `what` as non-static at `node` and returns an invalid value located there.
  StaticValue NonStatic(TSNode node, std::string what, std::string hint = "");
  /// Charges `values` evaluations and `bytes` string bytes to the file's budget; false (reported
  /// once, at `node`) when it is spent.
  bool Spend(TSNode node, int64_t values, int64_t bytes);
  StaticValue Evaluate(TSNode node, int depth);
  StaticValue EvaluateString(TSNode node);
  StaticValue EvaluateNumber(TSNode node);
  StaticValue EvaluateIdentifier(TSNode node, int depth);
  StaticValue EvaluateArray(TSNode node, int depth);
  StaticValue EvaluateObject(TSNode node, int depth);
  StaticValue EvaluateCall(TSNode node, int depth);
  StaticValue EvaluateBinary(TSNode node, int depth);
  StaticValue EvaluateUnary(TSNode node, int depth);
  StaticValue EvaluateMember(TSNode node);
  /// The name an object key spells, or false after reporting (computed and numeric keys).
  bool KeyName(TSNode key, std::string& name);
  /// Reads call arguments the way Python reads positional and keyword arguments: a trailing
  /// object (literal, or constant holding one) becomes `keys` / `values`. False when a spread or a
  /// computed key makes the call unreadable (reported).
  bool ReadArguments(TSNode arguments, int depth, std::vector<StaticValue>& items,
                     std::vector<Named>& keys, std::vector<StaticValue>& values,
                     bool workload_call = false);
  /// Reads the entries of an options object literal into `keys` / `values`. In a `@workload`'s
  /// options (`workload_call`), `secrets` is read by EvaluateSecrets.
  bool ReadOptionsObject(TSNode object, int depth, std::vector<Named>& keys,
                         std::vector<StaticValue>& values, bool workload_call);
  /// A `secrets` value: each entry that is not a `SecretRef(...)` call is evaluated as sensitive.
  StaticValue EvaluateSecrets(TSNode node, int depth);
  /// Evaluates a value that may hold a secret: diagnostics quote no source and mask every string
  /// literal the value reads (constants included), and the result is marked `sensitive`.
  StaticValue EvaluateSensitive(TSNode node, int depth);
  /// `quoted` for a message, or "this expression" while a secret's value is read (any source text
  /// could be the secret itself).
  std::string Quote(std::string quoted) const;

  const SourceFile& file_;
  DiagnosticSink& sink_;
  std::unordered_map<std::string, std::string> sdk_names_;  // local name -> SDK export
  std::unordered_set<std::string> namespace_aliases_;       // `import * as mvm from "@mvm/sdk"`
  std::unordered_map<std::string, Binding> bindings_;
  std::unordered_set<uint32_t> consumed_;     // start bytes of decorators already read
  int sensitive_ = 0;                         // > 0 while evaluating a value that may hold a secret
  std::vector<SourceLoc> sensitive_strings_;  // string literals read while sensitive
  EvaluationBudget budget_{file_.contents().size()};
};

/// Strips wrappers that do not change a value: parentheses, `as T`, `satisfies T`, `<T>x`, `x!`.
/// Iterative, so deeply nested wrappers cannot overflow the stack.
TSNode Unwrap(TSNode node);

/// Whether `@mvm/sdk` exports `name` as something a declaration may use.
bool IsSdkExport(std::string_view name);

/// The first named child of `node` whose type is `type` (any type but `comment` when `type` is
/// empty), or a null node.
TSNode FirstNamedChildOfType(TSNode node, std::string_view type);

}  // namespace mvm::frontend::typescript

#endif  // MVM_FRONTEND_TYPESCRIPT_TYPESCRIPT_READER_H_
