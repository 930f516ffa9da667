// Running a program, mvmctl above all, from a test and keeping its exit status and output. Shared
// by every test binary that links mvm_os (tests/support/); built on os::RunProcess.
#ifndef MVM_TESTS_SUPPORT_COMMAND_H_
#define MVM_TESTS_SUPPORT_COMMAND_H_

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "ir/support/os/process.h"

namespace mvm::testing {

/// How a command ended and what it printed.
struct CommandResult {
  int status = -1;  ///< the exit status, 128 + the signal that killed it, or -1 when it never ran
  std::string out;  ///< stdout (and stderr too, with CommandOptions::merge_stderr)
  std::string err;  ///< stderr; why it never ran, when status is -1

  /// Status and output, cut short, for a failed expectation's message.
  std::string Describe() const {
    return "exit " + std::to_string(status) + "\nstdout:\n" + out.substr(0, 4000) + "\nstderr:\n" +
           err.substr(0, 4000);
  }
};

struct CommandOptions {
  std::optional<std::string> stdin_data;  ///< /dev/null when unset
  bool merge_stderr = false;
  std::vector<std::string> env;  ///< "NAME=value"s set on top of the test's environment
  std::filesystem::path cwd;     ///< the test's working directory when empty
};

/// Options for stdout and stderr together in CommandResult::out, as a person at a terminal sees
/// them.
inline CommandOptions MergedOutput() {
  CommandOptions options;
  options.merge_stderr = true;
  return options;
}

/// Runs `argv` (argv[0] looked up on PATH) to its end.
inline CommandResult RunCommand(const std::vector<std::string>& argv,
                                const CommandOptions& options = {}) {
  os::RunOptions run;
  run.spawn.argv = argv;
  if (!options.env.empty()) {
    run.spawn.env = os::EnvironmentWith(options.env);
  }
  run.spawn.cwd = options.cwd;
  run.stdin_data = options.stdin_data;
  run.merge_stderr = options.merge_stderr;
  // Whole outputs: a test compares them, and no test prints gigabytes.
  run.max_captured = size_t{1} << 30;
  CommandResult result;
  auto ran = os::RunProcess(run);
  if (!ran) {
    result.err = ran.error().message;
    return result;
  }
  result.status = ran->status.signal != 0 ? 128 + ran->status.signal : ran->status.exit_code;
  result.out = std::move(ran->out);
  result.err = std::move(ran->err);
  return result;
}

#ifdef MVM_MVMCTL_PATH
/// Runs the mvmctl of this build tree (MVM_MVMCTL_PATH, set by the test's CMakeLists.txt) with
/// `args`; with `state_dir`, `--state-dir=<it>` goes right after the subcommand, which every
/// subcommand takes.
inline CommandResult RunMvmctl(std::vector<std::string> args,
                               const std::optional<std::filesystem::path>& state_dir = std::nullopt,
                               const CommandOptions& options = {}) {
  if (state_dir && !args.empty()) {
    args.insert(args.begin() + 1, "--state-dir=" + state_dir->string());
  }
  args.insert(args.begin(), MVM_MVMCTL_PATH);
  return RunCommand(args, options);
}
#endif

}  // namespace mvm::testing

#endif  // MVM_TESTS_SUPPORT_COMMAND_H_
