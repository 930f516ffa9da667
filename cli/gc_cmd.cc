// `mvmctl gc`: remove what stopped sandboxes left behind (records, cgroups).

#include <cstdio>

#include "cli/commands.h"
#include "cli/runtime_session.h"

namespace mvm::cli {

int RunGc(Args& args) {
  auto session = OpenRuntime(args, /*with_trust=*/false, "gc");
  if (!session) {
    return Fail("gc", session.error());
  }
  std::vector<std::string> problems;
  int removed = 0;
  for (const runtime::SandboxRecord& r : runtime::ListRecords(session->options.state, problems)) {
    if (runtime::IsRunning(r)) {
      continue;
    }
    auto done = runtime::StopByName(session->options, r.name, /*remove_state=*/true, session->log(),
                                    "mvmctl gc");
    if (!done) {
      std::fprintf(stderr, "mvmctl gc: %s\n", done.error().message.c_str());
      continue;
    }
    ++removed;
  }
  std::printf("removed %d stopped sandbox%s\n", removed, removed == 1 ? "" : "es");
  return kExitOk;
}

}  // namespace mvm::cli
