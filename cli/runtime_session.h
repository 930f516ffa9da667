#ifndef MVM_CLI_RUNTIME_SESSION_H_
#define MVM_CLI_RUNTIME_SESSION_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/args.h"
#include "cli/compilation.h"
#include "ir/support/error_or.h"
#include "runtime/launcher/builder.h"
#include "runtime/launcher/launcher.h"

namespace mvm::cli {

/// Flags every sandbox command takes: `--state-dir`, `-v`, `--backend`, `--trust-dir`, `--trust`.
std::vector<FlagSpec> RuntimeFlags();

/// What a sandbox command works with: the launcher's options and the open audit log.
struct RuntimeSession {
  runtime::LauncherOptions options;
  std::unique_ptr<runtime::AuditSession> audit;
  runtime::audit::Log& log() { return *audit->log; }
};

/// Resolves the runtime flags; `with_trust` also loads the trust store (only `run` and `up` admit
/// plans). Notes go to stderr as `mvmctl <command>: …`; when stderr is a terminal and the output is
/// not --format=json, so do the progress of long steps and the terminal notes
/// (LauncherOptions::progress, cli/terminal_progress.h). Errors are environment failures.
ErrorOr<RuntimeSession> OpenRuntime(const Args& args, bool with_trust, std::string_view command);

/// The builder's backend for `build` and `builder start|status`: `--builder-backend`, else
/// $MVM_BUILDER_BACKEND, else the KVM probe's choice (runtime::ChooseBuilderBackend). An unknown
/// name is a usage error.
ErrorOr<runtime::BuilderBackendChoice> BuilderBackendFromArgs(
    const Args& args, const runtime::LauncherOptions& options);

/// A plan ready for admission, from a plan file or compiled from a source file.
struct PlanInput {
  std::string bytes;  ///< the DSSE envelope
  /// Host files copied to the sandbox besides the plan's own (none today from a plan or a source).
  std::vector<std::pair<std::string, std::filesystem::path>> app_files;
  std::filesystem::path project_root;
  /// Where the contents of the plan's project files are: its bundle (a plan file), or the
  /// project's files (a source file compiled just now).
  plan::BlobSource blobs;
};

/// Says on stderr, once, that stdin held input the command never passed on (`run` and `exec`
/// without `-i`): data waiting in a pipe, or a file not read to its end. A terminal, an empty or
/// closed pipe and /dev/null say nothing.
void NoteUnreadStdin(std::string_view command);

/// Signs the one workload of `one` for this machine only, as `run` signs a source file's: an `oci:`
/// image is pulled first so that the plan pins what its tag resolved to, the key is the local dev
/// key (`<state>/keys/dev.key`, made on first use and trusted in `session` from then on), the plan
/// is valid from a minute ago to `validity_seconds` from now, and its epoch is the current second
/// or one past the workload's last admitted epoch. Returns the DSSE envelope.
ErrorOr<std::string> SignWithDevKey(
    ir::Module& one, RuntimeSession& session, std::string_view command, std::string_view profile,
    int64_t validity_seconds,
    const std::map<std::string, std::vector<plan::ProjectFile>>& project_files = {});

/// `run` and `up` take a plan (`*.json`) or a source file. A source file is compiled with the given
/// profile (diagnostics printed, errors stop here with exit 1), its workload chosen by `--workload`
/// (needed when the file declares several), and its plan signed with the local dev key
/// (`<state>/keys/dev.key`, made on first use). `exit_code` is set when it fails.
/// A source file's plan is valid for `validity_seconds` from now.
std::optional<PlanInput> ReadPlanInput(const Args& args, RuntimeSession& session,
                                       std::string_view command, int& exit_code,
                                       int64_t validity_seconds = 600);

/// A sandbox's published ports as `up` and `ps` print them in --format=json:
/// [{"guest":8080,"host":18080,"address":"127.0.0.1"}], in guest port order.
nlohmann::json PortsJson(const runtime::SandboxRecord& record);
/// The same for a table: "127.0.0.1:18080->8080, …", or "-" for none.
std::string DescribePorts(const runtime::SandboxRecord& record);

}  // namespace mvm::cli

#endif  // MVM_CLI_RUNTIME_SESSION_H_
