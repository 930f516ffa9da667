// `mvmctl destroy NAME`: stop a sandbox if it runs and remove everything it left.

#include "cli/commands.h"
#include "cli/runtime_session.h"

namespace mvm::cli {

int RunDestroy(Args& args) {
  if (args.positional.empty()) {
    return Fail("destroy",
                MakeError(ErrorKind::kUsage, "give the names of the sandboxes to destroy"));
  }
  // Every name is checked before anything is opened, locked or removed: a name is a path below
  // the state directory.
  for (const std::string& name : args.positional) {
    if (auto valid = runtime::CheckSandboxName(name); !valid) {
      return Fail("destroy", WithKind(valid.error(), ErrorKind::kUsage));
    }
  }
  auto session = OpenRuntime(args, /*with_trust=*/false, "destroy");
  if (!session) {
    return Fail("destroy", session.error());
  }
  int status = kExitOk;
  for (const std::string& name : args.positional) {
    auto destroyed = runtime::StopByName(session->options, name, /*remove_state=*/true,
                                         session->log(), "mvmctl destroy");
    if (!destroyed) {
      status = Fail("destroy", destroyed.error());
    }
  }
  return status;
}

}  // namespace mvm::cli
