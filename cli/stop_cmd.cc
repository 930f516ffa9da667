// `mvmctl stop NAME`: stop a sandbox (its processes and cgroups go; its record stays for `ps`).

#include "cli/commands.h"
#include "cli/runtime_session.h"

namespace mvm::cli {

int RunStop(const std::vector<std::string>& argv) {
  const Command& self = FindCommand("stop");
  if (WantsHelp(argv, self.usage)) {
    return kExitOk;
  }
  std::string error;
  auto args = ParseArgs(argv, {{"state-dir", true}}, error);
  if (!args) {
    return Fail("stop", error, kExitUsage);
  }
  if (args->positional.empty()) {
    return Fail("stop", "give the names of the sandboxes to stop", kExitUsage);
  }
  // Every name is checked before anything is opened, locked or removed: a name is a path below
  // the state directory.
  for (const std::string& name : args->positional) {
    if (auto valid = runtime::CheckSandboxName(name); !valid) {
      return Fail("stop", valid.error().message, kExitUsage);
    }
  }
  auto session = OpenRuntime(*args, /*with_trust=*/false, "stop");
  if (!session) {
    return Fail("stop", session.error().message, kExitEnvironment);
  }
  int status = kExitOk;
  for (const std::string& name : args->positional) {
    auto stopped = runtime::StopByName(session->options, name, /*remove_state=*/false,
                                       session->log(), "mvmctl stop");
    if (!stopped) {
      status = Fail("stop", stopped.error().message, kExitEnvironment);
    }
  }
  return status;
}

}  // namespace mvm::cli
