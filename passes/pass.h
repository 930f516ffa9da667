#ifndef MVM_PASSES_PASS_H_
#define MVM_PASSES_PASS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ir/module.h"
#include "ir/support/diagnostic.h"
#include "ir/support/error_or.h"

namespace mvm::passes {

enum class Profile { kDev, kProduction };

/// An organisation policy (`--policy mvm-policy.json`). Every field only adds a restriction on top
/// of the profile, so a policy can tighten a profile and never loosen it. Unset fields restrict
/// nothing.
struct OrgPolicy {
  std::string path;  ///< the policy file as given, for messages
  /// Registries (`host[:port]`, optionally with a path prefix `ghcr.io/acme`) that `oci:` images
  /// may come from; Docker Hub is `docker.io`. Set but empty: no oci image at all.
  std::optional<std::vector<std::string>> allowed_registries;
  /// Egress hosts (`api.example.com`, `*.example.com`) the network rules must stay within.
  std::optional<std::vector<std::string>> egress_allow;
  std::optional<int32_t> max_cpu;
  std::optional<int32_t> max_memory_mb;
  std::optional<int32_t> max_disk_mb;
  std::optional<int32_t> max_timeout_seconds;
  /// "microvm" when set; nothing looser can be required.
  std::string required_isolation;
};

/// Everything a pass may read besides the module. Passes keep no state between runs and use no
/// globals.
struct PassOptions {
  Profile profile = Profile::kDev;
  /// Directory local volume sources must stay inside in the production profile; empty means "the
  /// directory of the declaring file" (taken from the workload's source location).
  std::string project_root;
  /// Checked by the `org-policy` pass when present.
  std::optional<OrgPolicy> org_policy = std::nullopt;
};

/// Where each workload id was first declared. Owned by the caller, so an invocation that runs the
/// pipeline file by file (to keep memory flat) still finds duplicate ids across files.
using WorkloadIdIndex = std::map<std::string, SourceLoc, std::less<>>;

struct PassContext {
  const PassOptions& options;
  DiagnosticSink& sink;
  /// Ids seen by earlier runs of this invocation; null means this module is the whole invocation.
  WorkloadIdIndex* seen_ids = nullptr;
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

inline constexpr std::string_view kDefaultPipeline = "validate,policy,org-policy,normalize";

/// Parses a textual pipeline ("validate,policy,org-policy,normalize"). Unknown or repeated names
/// are an Error whose message lists the known passes.
ErrorOr<std::vector<const PassInfo*>> ParsePipeline(std::string_view text);

/// Runs `pipeline` in order over `module`. Every pass runs even after errors (so one invocation
/// reports as much as it can). When built with MVM_VERIFY_BETWEEN_PASSES, ir::Verify runs after
/// each pass and a finding aborts with the pass name (a bug in mvm, not in the input).
void RunPipeline(std::span<const PassInfo* const> pipeline, ir::Module& module,
                 PassContext& context);

}  // namespace mvm::passes

#endif  // MVM_PASSES_PASS_H_
