#ifndef MVM_FRONTEND_TYPESCRIPT_TYPESCRIPT_READER_H_
#define MVM_FRONTEND_TYPESCRIPT_TYPESCRIPT_READER_H_

#include <tree_sitter/api.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "frontend/common/declaration.h"
#include "frontend/common/evaluator.h"
#include "frontend/common/static_value.h"
#include "frontend/common/tree.h"
#include "ir/support/diagnostic.h"
#include "ir/support/source_file.h"

namespace mvm::frontend::typescript {

/// Reads the mvm declarations of one TypeScript (.ts / .tsx) syntax tree: imports from `@mvm/sdk`,
/// module-level constants, decorators and their statically evaluated arguments. Borrows `file` and
/// `sink` for its lifetime, which is one ReadDeclarations call; it keeps nothing afterwards.
///
/// Declarations (imports, constants, decorators) live in typescript_language.cc; what evaluating
/// TypeScript adds to the shared Evaluator (frontend/common/evaluator.h) in
/// typescript_evaluate.cc.
class Reader final : public Evaluator {
 public:
  Reader(const SourceFile& file, DiagnosticSink& sink);

  /// Appends the workload declarations of `root` (syntax errors passed over) to `out`.
  void Read(TSNode root, std::vector<WorkloadDecl>& out);

 private:
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
  StaticValue EvaluateString(TSNode node) override;
  StaticValue EvaluateNumber(TSNode node) override;
  StaticValue EvaluateList(TSNode node, int depth) override;
  StaticValue EvaluateDict(TSNode node, int depth) override;
  StaticValue EvaluateUnary(TSNode node, int depth) override;
  TSNode GroupedExpression(TSNode node) const override;
  StaticValue EvaluateOther(TSNode node, int depth) override;
  /// Reads call arguments the way Python reads positional and keyword arguments: a trailing
  /// object (literal, or constant holding one) becomes `keys` / `values`. False when a spread or a
  /// computed key makes the call unreadable (reported).
  bool ReadArguments(TSNode arguments, int depth, std::vector<StaticValue>& items,
                     std::vector<Named>& keys, std::vector<StaticValue>& values,
                     bool workload_call) override;
  /// The name an object key spells, or false after reporting (computed and numeric keys).
  bool KeyName(TSNode key, std::string& name);
  /// Reads the entries of an options object literal into `keys` / `values`. In a `@workload`'s
  /// options (`workload_call`), `secrets` is read by EvaluateSecrets.
  bool ReadOptionsObject(TSNode object, int depth, std::vector<Named>& keys,
                         std::vector<StaticValue>& values, bool workload_call);
  /// A `secrets` value: each entry that is not a `SecretRef(...)` call is evaluated as sensitive.
  StaticValue EvaluateSecrets(TSNode node, int depth);

  std::unordered_set<uint32_t> consumed_;  // start bytes of decorators already read
};

/// Strips wrappers that do not change a value: parentheses, `as T`, `satisfies T`, `<T>x`, `x!`.
/// Iterative, so deeply nested wrappers cannot overflow the stack.
TSNode Unwrap(TSNode node);

/// The first named child of `node` whose type is `type` (any type but `comment` when `type` is
/// empty), or a null node.
TSNode FirstNamedChildOfType(TSNode node, std::string_view type);

}  // namespace mvm::frontend::typescript

#endif  // MVM_FRONTEND_TYPESCRIPT_TYPESCRIPT_READER_H_
