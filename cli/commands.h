#ifndef MVM_CLI_COMMANDS_H_
#define MVM_CLI_COMMANDS_H_

#include <string>
#include <string_view>
#include <vector>

#include "cli/args.h"
#include "cli/compilation.h"

namespace mvm::cli {

/// A subcommand: `mvmctl <name> ...`. Each lives in its own file.
struct Command {
  std::string_view name;
  std::string_view summary;
  std::string_view usage;  ///< full `--help` text
  int (*run)(const std::vector<std::string>& argv);
};

int RunCheck(const std::vector<std::string>& argv);
int RunCompile(const std::vector<std::string>& argv);
int RunBuild(const std::vector<std::string>& argv);
int RunIr(const std::vector<std::string>& argv);
int RunKey(const std::vector<std::string>& argv);
int RunPlan(const std::vector<std::string>& argv);
int RunAudit(const std::vector<std::string>& argv);
int RunRun(const std::vector<std::string>& argv);
int RunUp(const std::vector<std::string>& argv);
int RunExec(const std::vector<std::string>& argv);
int RunPs(const std::vector<std::string>& argv);
int RunLogs(const std::vector<std::string>& argv);
int RunFs(const std::vector<std::string>& argv);
int RunSnapshot(const std::vector<std::string>& argv);
int RunPool(const std::vector<std::string>& argv);
int RunStop(const std::vector<std::string>& argv);
int RunDestroy(const std::vector<std::string>& argv);
int RunGc(const std::vector<std::string>& argv);
int RunLsp(const std::vector<std::string>& argv);

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

/// True (after printing `usage`) when argv asks for help.
bool WantsHelp(const std::vector<std::string>& argv, std::string_view usage);

}  // namespace mvm::cli

#endif  // MVM_CLI_COMMANDS_H_
