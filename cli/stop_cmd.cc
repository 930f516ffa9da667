// `mvmctl stop NAME`: stop a sandbox (its processes and cgroups go; its record stays for `ps`).

#include "cli/commands.h"
#include "cli/runtime_session.h"

namespace mvm::cli {

int RunStop(Args& args) {
  if (args.positional.empty()) {
    return Fail("stop", MakeError(ErrorKind::kUsage, "give the names of the sandboxes to stop"));
  }
  // Every name is checked before anything is opened, locked or removed: a name is a path below
  // the state directory.
  for (const std::string& name : args.positional) {
    if (auto valid = runtime::CheckSandboxName(name); !valid) {
      return Fail("stop", WithKind(valid.error(), ErrorKind::kUsage));
    }
  }
  auto session = OpenRuntime(args, /*with_trust=*/false, "stop");
  if (!session) {
    return Fail("stop", session.error());
  }
  int status = kExitOk;
  for (const std::string& name : args.positional) {
    auto stopped = runtime::StopByName(session->options, name, /*remove_state=*/false,
                                       session->log(), "mvmctl stop");
    if (!stopped) {
      status = Fail("stop", stopped.error());
    }
  }
  return status;
}

}  // namespace mvm::cli
