#ifndef MVM_IR_VERIFY_H_
#define MVM_IR_VERIFY_H_

#include <string>
#include <vector>

#include "ir/module.h"

namespace mvm::ir {

/// How far through the pipeline the module is; later stages guarantee more.
enum class VerifyLevel {
  kStructural,  ///< any module: schema version, one LocTable per workload, sane SourceLocs
  kNormalized,  ///< after `normalize`: hosts lowercase, rules sorted/deduplicated, secrets sorted,
                ///< each secret's hosts sorted/deduplicated
};

/// Checks the invariants the pipeline itself guarantees (not user mistakes: those are diagnostics
/// of the validate/policy passes). Returns one line per broken invariant; empty means the module is
/// sound. The pass manager runs this between passes in test builds and treats a finding as an
/// internal error.
std::vector<std::string> Verify(const Module& module, VerifyLevel level = VerifyLevel::kStructural);

/// Why `loc` is not a usable location, or empty when it is: line and column must be >= 1, and the
/// end, unless left unset as 0:0, must not come before the start. Shared with the IR JSON reader so
/// that everything FromJson accepts passes Verify.
std::string SourceLocProblem(const v1::SourceLoc& loc);

}  // namespace mvm::ir

#endif  // MVM_IR_VERIFY_H_
