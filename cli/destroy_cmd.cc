// `mvmctl destroy NAME`: stop a sandbox if it runs and remove everything it left.

#include "cli/commands.h"
#include "cli/runtime_session.h"

namespace mvm::cli {

int RunDestroy(const std::vector<std::string>& argv) {
  const Command& self = FindCommand("destroy");
  if (WantsHelp(argv, self.usage)) {
    return kExitOk;
  }
  std::string error;
  auto args = ParseArgs(argv, {{"state-dir", true}}, error);
  if (!args) {
    return Fail("destroy", error, kExitUsage);
  }
  if (args->positional.empty()) {
    return Fail("destroy", "give the names of the sandboxes to destroy", kExitUsage);
  }
  // Every name is checked before anything is opened, locked or removed: a name is a path below
  // the state directory.
  for (const std::string& name : args->positional) {
    if (auto valid = runtime::CheckSandboxName(name); !valid) {
      return Fail("destroy", valid.error().message, kExitUsage);
    }
  }
  auto session = OpenRuntime(*args, /*with_trust=*/false, "destroy");
  if (!session) {
    return Fail("destroy", session.error().message, kExitEnvironment);
  }
  int status = kExitOk;
  for (const std::string& name : args->positional) {
    auto destroyed = runtime::StopByName(session->options, name, /*remove_state=*/true,
                                         session->log(), "mvmctl destroy");
    if (!destroyed) {
      status = Fail("destroy", destroyed.error().message, kExitEnvironment);
    }
  }
  return status;
}

}  // namespace mvm::cli
