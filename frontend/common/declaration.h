#ifndef MVM_FRONTEND_COMMON_DECLARATION_H_
#define MVM_FRONTEND_COMMON_DECLARATION_H_

#include <string>
#include <string_view>
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
  /// Its arguments had errors, already reported: it is neither lowered nor reported as misplaced,
  /// but a `@workload` still owns its class's methods (their decorators are not misplaced).
  bool reported = false;
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

/// Whether `calls` holds a `@workload`.
bool HasWorkload(const std::vector<DecoratorCall>& calls);

/// Files the mvm decorators of one method of a workload class: each `@entrypoint` / `@service`
/// becomes a member running `method`; a `@workload` there is reported as misplaced with
/// `workload_message`.
void AddMemberDecorators(std::vector<DecoratorCall> calls, const std::string& method,
                         std::string_view workload_message, std::vector<MemberDecl>& members,
                         DiagnosticSink& sink);

/// Files the mvm decorators of a module-level class or function: each `@workload` becomes a
/// declaration of `target_name` with `members`, marked incomplete when errors were reported since
/// the sink counted `errors_before`; an `@entrypoint` / `@service` there is reported as misplaced.
void AddWorkloadDecorators(std::vector<DecoratorCall> calls, const std::string& target_name,
                           bool function_form, const std::vector<MemberDecl>& members,
                           size_t errors_before, std::vector<WorkloadDecl>& out,
                           DiagnosticSink& sink);

/// Lowers the declarations of one file to IR, recording value locations under JSON pointers.
/// Reports option-level mistakes (unknown-option with did-you-mean, type-mismatch, missing-option,
/// plaintext-secret, duplicate-option); range, id and image checks belong to the validate pass.
/// `file_name` is the declaring file's base name (function-form entrypoints run
/// `/app/<file_name>`).
void LowerDeclarations(Language language, const std::vector<WorkloadDecl>& decls,
                       const std::string& file_name, ir::Module& out, DiagnosticSink& sink);

}  // namespace mvm::frontend

#endif  // MVM_FRONTEND_COMMON_DECLARATION_H_
