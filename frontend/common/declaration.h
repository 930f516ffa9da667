#ifndef MVM_FRONTEND_COMMON_DECLARATION_H_
#define MVM_FRONTEND_COMMON_DECLARATION_H_

#include <string>
#include <vector>

#include "frontend/common/static_value.h"
#include "ir/module.h"
#include "ir/support/diagnostic.h"

namespace mvm::frontend {

/// Which language a declaration was written in: decides option spellings (memory_mb / memoryMb) in
/// lookups and messages. The IR is the same for both.
enum class Language { kPython, kTypeScript };

/// One mvm decorator as written: `@workload("id", image=...)`, `@entrypoint(...)`, `@service(...)`.
struct DecoratorCall {
  std::string sdk_name;  ///< "workload", "entrypoint" or "service"
  SourceLoc loc;         ///< the whole decorator, `@` included
  bool called = false;   ///< `@workload(...)` rather than bare `@workload`
  std::vector<StaticValue> args;
  std::vector<Named> keys;  ///< keyword arguments / options-object keys, in source order
  std::vector<StaticValue> values;
};

/// An `@entrypoint` / `@service` on a method of a workload class.
struct MemberDecl {
  DecoratorCall call;
  std::string method_name;
};

/// A `@workload` on a class or (Python) a function.
struct WorkloadDecl {
  DecoratorCall call;
  bool function_form = false;
  std::string target_name;  ///< class or function name
  std::vector<MemberDecl> members;
  /// The language module reported errors in this declaration and dropped what they concerned.
  bool incomplete = false;
};

/// Lowers the declarations of one file to IR, recording value locations under JSON pointers.
/// Reports option-level mistakes (unknown-option with did-you-mean, type-mismatch, missing-option,
/// plaintext-secret, duplicate-option); range, id and image checks belong to the validate pass.
/// `file_name` is the declaring file's base name (function-form entrypoints run
/// `/app/<file_name>`).
void LowerDeclarations(Language language, const std::vector<WorkloadDecl>& decls,
                       const std::string& file_name, ir::Module& out, DiagnosticSink& sink);

}  // namespace mvm::frontend

#endif  // MVM_FRONTEND_COMMON_DECLARATION_H_
