#ifndef MVM_PASSES_PASS_H_
#define MVM_PASSES_PASS_H_

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ir/module.h"
#include "ir/support/diagnostic.h"
#include "ir/support/error_or.h"

namespace mvm::passes {

enum class Profile { kDev, kProduction };

/// Everything a pass may read besides the module. Passes keep no state between runs and use no
/// globals.
struct PassOptions {
  Profile profile = Profile::kDev;
  /// Directory local volume sources must stay inside in the production profile; empty means "the
  /// directory of the declaring file" (taken from the workload's source location).
  std::string project_root;
};

struct PassContext {
  const PassOptions& options;
  DiagnosticSink& sink;
};

using PassFn = void (*)(ir::Module& module, PassContext& context);

/// The entry point of each registered pass (see passes.def). Each reports user mistakes to
/// `context.sink` and may mutate `module` in place; none keeps state between calls.
#define MVM_PASS(ident, name, run, description) void run(ir::Module& module, PassContext& context);
#include "passes/passes.def"

/// One registered pass (see passes.def).
struct PassInfo {
  std::string_view name;
  PassFn run;
  std::string_view description;
};

/// All passes in registry order.
std::span<const PassInfo> AllPasses();

inline constexpr std::string_view kDefaultPipeline = "validate,policy,normalize";

/// Parses a textual pipeline ("validate,policy,normalize"). Unknown or repeated names are an Error
/// whose message lists the known passes.
ErrorOr<std::vector<const PassInfo*>> ParsePipeline(std::string_view text);

/// Runs `pipeline` in order over `module`. Every pass runs even after errors (so one invocation
/// reports as much as it can). When built with MVM_VERIFY_BETWEEN_PASSES, ir::Verify runs after
/// each pass and a finding aborts with the pass name (a bug in mvm, not in the input).
void RunPipeline(std::span<const PassInfo* const> pipeline, ir::Module& module,
                 PassContext& context);

}  // namespace mvm::passes

#endif  // MVM_PASSES_PASS_H_
