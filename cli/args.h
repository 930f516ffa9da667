#ifndef MVM_CLI_ARGS_H_
#define MVM_CLI_ARGS_H_

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mvm::cli {

/// One flag a subcommand accepts.
struct FlagSpec {
  std::string_view name;  ///< without dashes: "format", "o"
  bool takes_value;       ///< `--name VALUE` / `--name=VALUE`
  bool repeatable = false;
};

/// Parsed command line of one subcommand.
struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>, std::less<>> flags;
  std::vector<std::string> after_dashdash;

  bool Has(std::string_view name) const { return flags.find(name) != flags.end(); }
  /// The last value given for `name`, or `fallback`.
  std::string Get(std::string_view name, std::string_view fallback = "") const;
  /// Every value given for `name` (a repeatable flag), as paths.
  std::vector<std::filesystem::path> Paths(std::string_view name) const;
};

/// Why ParseArgs refused a command line.
struct ArgsError {
  std::string message;  ///< the whole message, with the did-you-mean where one fits
  /// For an unknown flag: the flag as given (`-c`, `--fromat=json`), the suggestion (spelt with
  /// its dashes) and the positional arguments before it, so a command that passes a command line
  /// through `--` can tell a misplaced command from a typo.
  std::string unknown_flag;
  std::optional<std::string> suggestion;
  std::vector<std::string> positionals_before;
};

/// Parses `argv` against `specs`. Unknown flags, missing values and repeats of non-repeatable flags
/// are reported in `error` (with a did-you-mean where one fits) and yield nullopt. A did-you-mean
/// needs a flag of two or more letters within the edit distance suggest.h allows for its length:
/// a one-letter flag is one edit from every other one-letter flag, so none is suggested for it.
std::optional<Args> ParseArgs(const std::vector<std::string>& argv,
                              const std::vector<FlagSpec>& specs, ArgsError& error);

/// ParseArgs with only the message.
std::optional<Args> ParseArgs(const std::vector<std::string>& argv,
                              const std::vector<FlagSpec>& specs, std::string& error);

/// Exit codes of docs/cli.md.
enum ExitCode : int {
  kExitOk = 0,
  kExitInputErrors = 1,
  kExitUsage = 2,
  kExitEnvironment = 3,
  kExitVerification = 4,
};

}  // namespace mvm::cli

#endif  // MVM_CLI_ARGS_H_
