#ifndef MVM_CLI_COMMANDS_H_
#define MVM_CLI_COMMANDS_H_

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cli/args.h"
#include "cli/compilation.h"

namespace mvm::cli {

/// A subcommand: `mvmctl <name> ...`, one row of the table AllCommands() holds. RunCommand answers
/// `--help` with `usage`, parses the arguments against `flags` (a bad flag is a usage error) and
/// hands them to `run`, so a command provides only its row and its handler (in its own file).
struct Command {
  std::string_view name;
  std::string_view summary;
  std::string_view usage;  ///< full `--help` text
  /// The flags it takes; nullopt for a command that reads its arguments itself: they arrive in
  /// `positional` as given.
  std::optional<std::vector<FlagSpec>> flags;
  int (*run)(Args& args);
};

int RunCheck(Args& args);
int RunCompile(Args& args);
int RunBuild(Args& args);
int RunBuilder(Args& args);
int RunIr(Args& args);
int RunKey(Args& args);
int RunPlan(Args& args);
int RunAudit(Args& args);
int RunRun(Args& args);
int RunUp(Args& args);
int RunExec(Args& args);
int RunPs(Args& args);
int RunLogs(Args& args);
int RunFs(Args& args);
/// `mvmctl fs s3://…` and `mvmctl fs encrypted:NAME`: RunFs on an API-only volume rather than a
/// sandbox (fs_volume.cc).
int RunFsOnVolume(Args& args);
/// Whether `mvmctl fs`'s first argument names an API-only volume (`s3://…`, `encrypted:NAME`)
/// rather than a sandbox.
bool IsVolumeAddress(std::string_view target);
int RunSnapshot(Args& args);
int RunRestore(Args& args);
int RunPool(Args& args);
int RunPause(Args& args);
int RunResume(Args& args);
int RunRestore(Args& args);
int RunStop(Args& args);
int RunDestroy(Args& args);
int RunGc(Args& args);
int RunTemplates(Args& args);
int RunSecret(Args& args);
int RunImage(Args& args);
int RunLsp(Args& args);

/// Runs `command` with the arguments after its name: `--help`, parsing, then its handler.
int RunCommand(const Command& command, const std::vector<std::string>& argv);

/// All subcommands, for dispatch and `mvmctl --help`.
const std::vector<Command>& AllCommands();

/// The subcommand called `name`; CHECKs that it exists.
const Command& FindCommand(std::string_view name);

/// Flags shared by the compiler commands (check, compile).
std::vector<FlagSpec> CompilerFlags();

/// Applies the shared compiler flags to `request` and `format`; false with `error` set on bad
/// values.
bool ApplyCompilerFlags(const Args& args, CompileRequest& request, DiagnosticFormat& format,
                        std::string& error);

/// `check`'s flags: CompilerFlags() and the project-file bounds (`--max-files`, `--max-files-mb`).
std::vector<FlagSpec> CheckFlags();

/// What `check` asks of Compile beyond the compiler flags: no IR kept, and each workload's project
/// files listed (not read). A `usage` Error for a bad bound.
std::optional<Error> ApplyCheckFlags(const Args& args, CompileRequest& request);

/// The exit code of an error of `kind`, from ir/support/errors.def.
int ExitCodeOf(ErrorKind kind);

/// Prints `mvmctl <command>: error: <message>` (and a `--help` pointer for a usage error) to
/// stderr and returns the exit code of the error's kind.
int Fail(std::string_view command, const Error& error);

/// The exit code of an error of `kind` in the commands that run workloads (`run`, `up`, `exec`,
/// `pool start`), which use the codes of other container runtimes (docs/cli.md, exit status): a
/// usage error or an error in the input keeps its code, every other failure of mvmctl's own counts
/// as `runtime-failed` (125).
int RunExitCodeOf(ErrorKind kind);

/// Fail, leaving with RunExitCodeOf the error's kind.
int FailRun(std::string_view command, const Error& error);

/// The action of a command that has actions (`secret set`, `image pull`): `args.positional[0]`
/// when it is one of `actions`, else a usage Error that lists them (and suggests the closest one
/// to a misspelt action).
ErrorOr<std::string> ActionOf(const Args& args, std::span<const std::string_view> actions);

}  // namespace mvm::cli

#endif  // MVM_CLI_COMMANDS_H_
