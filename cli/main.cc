// mvmctl: the command-line driver. Dispatch only; each subcommand lives in its own file.

#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "ir/module.h"
#include "ir/support/suggest.h"
#include "runtime/launcher/launcher.h"

namespace {

void PrintHelp() {
  std::printf("usage: mvmctl <command> [options]\n\ncommands:\n");
  for (const mvm::cli::Command& c : mvm::cli::AllCommands()) {
    std::printf("  %-10.*s %.*s\n", static_cast<int>(c.name.size()), c.name.data(),
                static_cast<int>(c.summary.size()), c.summary.data());
  }
  std::printf(
      "\nrun `mvmctl help <command>` (or `mvmctl <command> --help`) for a command's options\n"
      "\nexit status: 0 ok, 1 errors in the input, 2 usage error, 3 environment failure, 4 "
      "verification\nrefused; run, up and exec exit with the workload's own status, 124 on "
      "timeout, "
      "125 when\nmvmctl refused or failed (each command's help has its own)\n");
}

}  // namespace

int main(int argc, char** argv) {
  // A sandbox's helper processes are this executable again (runtime/launcher/launcher.h).
  if (auto helper = mvm::runtime::RunHelperIfAsked(argc, argv)) {
    return *helper;
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  // `help CMD` is `CMD --help`, as git and cargo have it; so is `help plan diff` (a command's help
  // covers its actions).
  if (args.size() >= 2 && args[0] == "help") {
    args = {args[1], "--help"};
  }
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    PrintHelp();
    return args.empty() ? mvm::cli::kExitUsage : mvm::cli::kExitOk;
  }
  if (args[0] == "--version") {
    std::printf("mvmctl %s (IR schema %.*s)\n", MVM_VERSION,
                static_cast<int>(mvm::ir::kSchemaVersion.size()), mvm::ir::kSchemaVersion.data());
    return mvm::cli::kExitOk;
  }
  std::vector<std::string_view> names;
  for (const mvm::cli::Command& c : mvm::cli::AllCommands()) {
    if (c.name == args[0]) {
      return mvm::cli::RunCommand(c, std::vector<std::string>(args.begin() + 1, args.end()));
    }
    names.push_back(c.name);
  }
  std::fprintf(stderr, "mvmctl: error: unknown command `%s`", args[0].c_str());
  if (auto suggestion = mvm::DidYouMean(args[0], names)) {
    std::fprintf(stderr, "; did you mean `%s`?", suggestion->c_str());
  }
  std::fprintf(stderr, "\nrun `mvmctl --help` for the list of commands\n");
  return mvm::cli::kExitUsage;
}
