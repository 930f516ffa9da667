// `mvmctl pause NAME...` / `mvmctl resume NAME...`: stop a sandbox's processes where they are, and
// let them run on. The work is in runtime/launcher/pause.cc.

#include "cli/commands.h"
#include "cli/runtime_session.h"

namespace mvm::cli {
namespace {

int SetPaused(Args& args, std::string_view command, bool pause) {
  if (args.positional.empty()) {
    return Fail(command, MakeError(ErrorKind::kUsage,
                                   "give the names of the sandboxes to " + std::string(command)));
  }
  // Every name is checked before anything is opened or locked: a name is a path below the state
  // directory.
  for (const std::string& name : args.positional) {
    if (auto valid = runtime::CheckSandboxName(name); !valid) {
      return Fail(command, WithKind(valid.error(), ErrorKind::kUsage));
    }
  }
  auto session = OpenRuntime(args, /*with_trust=*/false, command);
  if (!session) {
    return Fail(command, session.error());
  }
  int status = kExitOk;
  for (const std::string& name : args.positional) {
    auto done = pause ? runtime::PauseByName(session->options, name, session->log())
                      : runtime::ResumeByName(session->options, name, session->log());
    if (!done) {
      status = Fail(command, done.error());
    }
  }
  return status;
}

}  // namespace

int RunPause(Args& args) { return SetPaused(args, "pause", true); }

int RunResume(Args& args) { return SetPaused(args, "resume", false); }

}  // namespace mvm::cli
