#ifndef MVM_CLI_PLAN_EMIT_H_
#define MVM_CLI_PLAN_EMIT_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "backend-emit/nix/request.h"
#include "backend-emit/plan/keys.h"
#include "backend-emit/plan/project_files.h"
#include "backend-emit/plan/time.h"
#include "cli/args.h"
#include "ir/module.h"
#include "ir/support/error_or.h"
#include "passes/pass.h"

namespace mvm::cli {

/// How `mvmctl compile` makes plans: the flags `--sign`, `--expires-in`, `--expires-at`,
/// `--not-before` and `--epoch` resolved against the clock.
struct PlanSettings {
  std::optional<plan::SecretKey> key;  ///< unset: unsigned plans
  std::string profile;                 ///< "dev" | "production"
  int64_t not_before = 0;
  int64_t expires_at = 0;
  uint32_t epoch = 0;
};

/// The flags above, for ParseArgs.
std::vector<FlagSpec> PlanFlags();

/// Resolves the plan flags. Defaults: `--expires-in 24h`; not_before one minute before now, so a
/// launcher whose clock is slightly behind the signer's still accepts a fresh plan; epoch = the
/// current Unix time, so plans compiled later carry higher epochs without bookkeeping. A past
/// `--expires-at` is allowed (tests need expired plans) and prints a warning to stderr. The
/// problem, if any, is a `usage` error, or the key's own error when `--sign` names an unusable key
/// file.
std::optional<Error> ReadPlanSettings(const Args& args, passes::Profile profile,
                                      const plan::Clock& clock, PlanSettings& out);

/// One workload's plan file.
struct PlanFile {
  std::string workload_id;
  std::string payload;  ///< canonical JSON payload (what `--dump plan` prints)
  std::string file;     ///< the DSSE envelope bytes written to DIR/<id>.plan.json
};

/// Lowers every workload of the checked `module` to its plan and envelope, signed when
/// `settings.key` is set; the plan of a workload with an entry in `project_files` lists those
/// files. Nothing is written; an Error when a plan cannot be made.
ErrorOr<std::vector<PlanFile>> MakePlans(
    const ir::Module& module, const PlanSettings& settings,
    const std::map<std::string, std::vector<plan::ProjectFile>>& project_files = {});

/// `--max-files N` and `--max-files-mb N`, for ParseArgs.
std::vector<FlagSpec> FileLimitFlags();

/// Reads the flags above; a `usage` Error for a value that is not a positive integer.
ErrorOr<plan::FileLimits> ReadFileLimits(const Args& args);

/// Where Nix build requests point: the template flake (`--templates-dir`, else
/// `$MVM_TEMPLATES_DIR`, else the shipped one) and the local store (`<state-dir>/nix`).
struct NixSettings {
  std::filesystem::path templates_dir;
  std::filesystem::path store;
};

/// The flags above, for ParseArgs: `--templates-dir DIR`, `--state-dir DIR`.
std::vector<FlagSpec> NixFlags();

/// Resolves the Nix flags; every path made absolute.
NixSettings ReadNixSettings(const Args& args);

/// One workload's Nix build request (DIR/<id>.nix.json), or why it has none.
struct NixRequestFile {
  std::string workload_id;
  std::optional<nix::NixBuildRequest> request;
  std::string json;  ///< the request's canonical JSON (what `--dump nix` prints)
  std::string
      not_built;  ///< without a request: why (an `oci:` image, a template Nix does not build)
};

/// Lowers every workload of the checked `module` to its Nix build request. Relative flake
/// references are resolved against the directory of the file that declared the workload (the
/// current directory when the IR names none). An Error when a template needs the flake and
/// `settings.templates_dir` holds no flake.nix.
ErrorOr<std::vector<NixRequestFile>> MakeNixRequests(const ir::Module& module,
                                                     const NixSettings& settings);

}  // namespace mvm::cli

#endif  // MVM_CLI_PLAN_EMIT_H_
