// `mvmctl restore NAME LABEL --as NEW`: start a new sandbox from a snapshot. The work is in
// runtime/launcher/restore.

#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/runtime_session.h"
#include "ir/support/terminal_text.h"
#include "runtime/launcher/restore.h"

namespace mvm::cli {

int RunRestore(Args& args) {
  const std::vector<std::string>& pos = args.positional;
  if (pos.size() != 2) {
    return Fail("restore", MakeError(ErrorKind::kUsage,
                                     "give the sandbox and the label of a snapshot "
                                     "(`mvmctl snapshot ls` lists them)"));
  }
  if (!args.Has("as")) {
    return Fail("restore", MakeError(ErrorKind::kUsage,
                                     "`--as NEW` is required: the name of the new sandbox"));
  }
  std::string format = args.Get("format", "human");
  if (format != "human" && format != "json") {
    return Fail("restore", MakeError(ErrorKind::kUsage,
                                     "unknown format `" + format + "`; use `human` or `json`"));
  }
  // Names become paths below the state directory: checked before anything is opened.
  for (const std::string& name : {pos[0], args.Get("as")}) {
    if (auto valid = runtime::CheckSandboxName(name); !valid) {
      return Fail("restore", WithKind(valid.error(), ErrorKind::kUsage));
    }
  }
  if (auto valid = runtime::CheckSnapshotLabel(pos[1]); !valid) {
    return Fail("restore", WithKind(valid.error(), ErrorKind::kUsage));
  }
  auto session = OpenRuntime(args, /*with_trust=*/true, "restore");
  if (!session) {
    return Fail("restore", session.error());
  }
  runtime::RestoreRequest request;
  request.sandbox = pos[0];
  request.label = pos[1];
  request.name = args.Get("as");
  // Without --backend, the snapshot's own backend.
  request.backend = args.Has("backend") ? session->options.backend : "";
  request.use_pool = !args.Has("no-pool");
  auto restored = runtime::RestoreSnapshot(session->options, request, session->log());
  if (!restored) {
    return Fail("restore", restored.error());
  }
  restored->sandbox.Release();
  const runtime::SandboxRecord& r = restored->sandbox.record();
  if (format == "json") {
    nlohmann::json out = {{"name", r.name},
                          {"workload", r.workload_id},
                          {"pid", r.pid},
                          {"backend", r.backend},
                          {"from", request.sandbox},
                          {"label", request.label},
                          {"sha256", restored->snapshot.sha256},
                          {"files", restored->files},
                          {"directories", restored->directories},
                          {"symlinks", restored->symlinks},
                          {"skipped", restored->skipped},
                          {"audit_id", restored->audit_id}};
    std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return kExitOk;
  }
  std::printf(
      "sandbox %s is up (workload %s, pid %d, detached), restored from snapshot %s of %s: %llu "
      "files, %llu directories, %llu symlinks\n",
      r.name.c_str(), r.workload_id.c_str(), r.pid, request.label.c_str(), request.sandbox.c_str(),
      static_cast<unsigned long long>(restored->files),
      static_cast<unsigned long long>(restored->directories),
      static_cast<unsigned long long>(restored->symlinks));
  const bool escape = IsTerminal(STDOUT_FILENO);
  for (const std::string& p : restored->skipped) {
    std::printf("  left out %s (not in a writable memory file system of the new sandbox)\n",
                (escape ? EscapeForTerminal(p, TerminalEscaper::Kind::kName) : p).c_str());
  }
  return kExitOk;
}

}  // namespace mvm::cli
