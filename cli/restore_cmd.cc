// `mvmctl restore NAME LABEL --as NEW`: start a new sandbox from a snapshot. The work is in
// runtime/launcher/restore (file snapshots) and runtime/launcher/full_snapshot (full snapshots of a
// microVM); docs/snapshots.md says what each checks.

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/runtime_session.h"
#include "ir/support/terminal_text.h"
#include "runtime/launcher/full_snapshot.h"
#include "runtime/launcher/restore.h"

namespace mvm::cli {
namespace {

// The services and ports a restored sandbox serves, for people.
void PrintServed(const runtime::SandboxRecord& r, const char* services_verb) {
  for (const auto& s : r.services) {
    std::printf("  service %s %s (restart=%s)\n", s.name.c_str(), services_verb, s.restart.c_str());
  }
  for (const auto& p : r.ports) {
    std::printf("  port %d published on %s:%d\n", p.guest_port, p.host_address.c_str(),
                p.host_port);
  }
}

nlohmann::json ServicesJson(const runtime::SandboxRecord& r) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& s : r.services) {
    out.push_back({{"name", s.name}, {"restart", s.restart}});
  }
  return out;
}

ErrorOr<std::vector<runtime::PublishRequest>> PublishFlags(const Args& args) {
  if (auto it = args.flags.find("publish"); it != args.flags.end()) {
    return runtime::ParsePublish(it->second);
  }
  return std::vector<runtime::PublishRequest>{};
}

int RestoreFull(const Args& args, RuntimeSession& session, const std::string& from,
                const std::string& label, const std::string& as, bool json) {
  if (args.Has("backend") || args.Has("no-pool")) {
    return Fail("restore", MakeError(ErrorKind::kUsage,
                                     "--backend and --no-pool are for file snapshots; a full "
                                     "snapshot restores on the backend it was taken on, with the "
                                     "processes and listeners it had"));
  }
  auto publish = PublishFlags(args);
  if (!publish) {
    return Fail("restore", publish.error());
  }
  runtime::RestoreTimings timings;
  auto sandbox = runtime::RestoreFullSnapshot(session.options, from, label, as, session.log(),
                                              &timings, *publish);
  if (!sandbox) {
    return Fail("restore", sandbox.error());
  }
  const runtime::SandboxRecord& r = sandbox->record();
  if (json) {
    nlohmann::json out = {{"name", r.name},
                          {"workload", r.workload_id},
                          {"pid", r.pid},
                          {"backend", r.backend},
                          {"kind", "full"},
                          {"from", from},
                          {"label", label},
                          {"verify_ms", timings.verify_ms},
                          {"agent_ready_ms", timings.agent_ready_ms},
                          {"refresh_ms", timings.refresh_ms},
                          {"ports", PortsJson(r)},
                          {"services", ServicesJson(r)}};
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf(
        "sandbox %s is up (workload %s, pid %d, detached), restored from full snapshot %s "
        "of %s\n",
        r.name.c_str(), r.workload_id.c_str(), r.pid, label.c_str(), from.c_str());
    PrintServed(r, "running again");
  }
  if (session.options.verbose) {
    std::fprintf(stderr,
                 "mvmctl restore: seal and files checked in %.1f ms, agent ready %.1f ms after "
                 "qemu started, new identity in %.1f ms\n",
                 timings.verify_ms, timings.agent_ready_ms, timings.refresh_ms);
  }
  return kExitOk;
}

}  // namespace

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
  if (std::filesystem::is_directory(session->options.state.root / "snapshots" / pos[0] /
                                    (pos[1] + ".full"))) {
    return RestoreFull(args, *session, pos[0], pos[1], args.Get("as"), format == "json");
  }
  runtime::RestoreRequest request;
  request.sandbox = pos[0];
  request.label = pos[1];
  request.name = args.Get("as");
  // Without --backend, the snapshot's own backend.
  request.backend = args.Has("backend") ? session->options.backend : "";
  request.use_pool = !args.Has("no-pool");
  auto publish = PublishFlags(args);
  if (!publish) {
    return Fail("restore", publish.error());
  }
  request.publish = std::move(*publish);
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
                          {"audit_id", restored->audit_id},
                          {"ports", PortsJson(r)},
                          {"services", ServicesJson(r)}};
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
  PrintServed(r, "started");
  const bool escape = IsTerminal(STDOUT_FILENO);
  for (const std::string& p : restored->skipped) {
    std::printf("  left out %s (not in a writable memory file system of the new sandbox)\n",
                (escape ? EscapeForTerminal(p, TerminalEscaper::Kind::kName) : p).c_str());
  }
  return kExitOk;
}

}  // namespace mvm::cli
