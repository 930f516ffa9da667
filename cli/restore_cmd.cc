// `mvmctl restore NAME LABEL --as NEW`: a new sandbox from a snapshot of NAME. The checks and the
// start are runtime/launcher/full_snapshot.h's; docs/snapshots.md says what is checked.

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/runtime_session.h"
#include "runtime/launcher/full_snapshot.h"
#include "runtime/launcher/snapshot.h"

namespace mvm::cli {

int RunRestore(Args& args) {
  const std::string format = args.Get("format", "human");
  if (format != "human" && format != "json") {
    return Fail("restore", MakeError(ErrorKind::kUsage,
                                     "unknown format `" + format + "`; use `human` or `json`"));
  }
  if (args.positional.size() != 2 || !args.Has("as")) {
    return Fail("restore", MakeError(ErrorKind::kUsage,
                                     "expected `restore NAME LABEL --as NEW`: the sandbox the "
                                     "snapshot is of, its label, and the new sandbox's name"));
  }
  const std::string& from = args.positional[0];
  const std::string& label = args.positional[1];
  const std::string as = args.Get("as");
  if (!runtime::IsSandboxName(from)) {
    return Fail("restore", MakeError(ErrorKind::kUsage, "`" + from + "` is not a sandbox name"));
  }
  if (auto ok = runtime::CheckSnapshotLabel(label); !ok) {
    return Fail("restore", WithKind(ok.error(), ErrorKind::kUsage));
  }
  auto session = OpenRuntime(args, /*with_trust=*/true, "restore");
  if (!session) {
    return Fail("restore", session.error());
  }
  runtime::RestoreTimings timings;
  auto sandbox =
      runtime::RestoreFullSnapshot(session->options, from, label, as, session->log(), &timings);
  if (!sandbox) {
    return Fail("restore", sandbox.error());
  }
  const runtime::SandboxRecord& r = sandbox->record();
  if (format == "json") {
    nlohmann::json out = {{"name", r.name},
                          {"workload", r.workload_id},
                          {"pid", r.pid},
                          {"from", from},
                          {"label", label},
                          {"verify_ms", timings.verify_ms},
                          {"agent_ready_ms", timings.agent_ready_ms},
                          {"refresh_ms", timings.refresh_ms}};
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf(
        "sandbox %s is up, restored from snapshot %s of %s (workload %s, pid %d, "
        "detached)\n",
        r.name.c_str(), label.c_str(), from.c_str(), r.workload_id.c_str(), r.pid);
  }
  if (session->options.verbose) {
    std::fprintf(stderr,
                 "restore: seal and files checked in %.1f ms, agent ready %.1f ms after qemu "
                 "started, new identity in %.1f ms\n",
                 timings.verify_ms, timings.agent_ready_ms, timings.refresh_ms);
  }
  return kExitOk;
}

}  // namespace mvm::cli
