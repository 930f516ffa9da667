// `mvmctl up FILE|PLAN --name N [--detach] [--publish GUEST:HOST]... [--from-ir]`: start a sandbox,
// its services and published ports (docs/services.md), and keep it until stopped. Without
// --detach it lives as long as this command (Ctrl-C, SIGTERM or its parent's death end it), which
// audits its services' restarts and exits meanwhile.
// `--from-ir` takes Workload IR (what the SDKs write) instead of source, compiled like source.

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/runtime_session.h"

namespace mvm::cli {

int RunUp(Args& args) {
  if (args.positional.size() != 1) {
    return Fail("up", MakeError(ErrorKind::kUsage, "give one source file or plan"));
  }
  if (!args.Has("name")) {
    return Fail("up",
                MakeError(ErrorKind::kUsage,
                          "`--name NAME` is required: later commands (`exec`, `stop`) use it"));
  }
  std::string format = args.Get("format", "human");
  if (format != "human" && format != "json") {
    return Fail("up", MakeError(ErrorKind::kUsage,
                                "unknown format `" + format + "`; use `human` or `json`"));
  }
  std::vector<std::string> publish_flags;
  if (auto it = args.flags.find("publish"); it != args.flags.end()) {
    publish_flags = it->second;
  }
  auto publish = runtime::ParsePublish(publish_flags);
  if (!publish) {
    return Fail("up", publish.error());
  }
  auto session = OpenRuntime(args, /*with_trust=*/true, "up");
  if (!session) {
    return FailRun("up", session.error());
  }
  int exit_code = 0;
  auto input = ReadPlanInput(args, *session, "up", exit_code);
  if (!input) {
    return exit_code;
  }
  auto admitted = runtime::Admit(session->options, input->bytes, session->log(), nullptr);
  if (!admitted) {
    return FailRun("up", admitted.error());
  }
  // Before the sandbox starts: a chosen host port someone else holds stops `up` with nothing begun.
  auto ports = runtime::BindPorts(admitted->verified.plan, *publish);
  if (!ports) {
    return FailRun("up", ports.error());
  }
  runtime::StartOptions start;
  start.name = args.Get("name");
  start.detached = args.Has("detach");
  start.app_files = input->app_files;
  start.project_root = input->project_root;
  start.blobs = input->blobs;
  start.use_pool = !args.Has("no-pool");

  // Block the stop signals before the sandbox exists, so none is lost between start and wait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  if (!start.detached) {
    sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
  }
  auto sandbox = runtime::Start(session->options, *admitted, start, session->log(), nullptr);
  if (!sandbox) {
    return FailRun("up", sandbox.error());
  }
  if (auto served =
          runtime::Serve(session->options, *sandbox, *admitted, std::move(*ports), session->log());
      !served) {
    (void)runtime::Destroy(session->options, *sandbox, session->log(), "services failed to start");
    return FailRun("up", served.error());
  }
  const runtime::SandboxRecord& r = sandbox->record();
  if (format == "json") {
    nlohmann::json out = {{"name", r.name},
                          {"workload", r.workload_id},
                          {"pid", r.pid},
                          {"detached", r.detached},
                          {"audit_id", admitted->audit_id},
                          {"ports", PortsJson(r)},
                          {"services", nlohmann::json::array()}};
    for (const auto& s : r.services) {
      out["services"].push_back({{"name", s.name}, {"restart", s.restart}});
    }
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf("sandbox %s is up (workload %s, pid %d%s)\n", r.name.c_str(), r.workload_id.c_str(),
                r.pid, r.detached ? ", detached" : "");
    for (const auto& s : r.services) {
      std::printf("  service %s started (restart=%s)\n", s.name.c_str(), s.restart.c_str());
    }
    for (const auto& p : r.ports) {
      std::printf("  port %d published on %s:%d\n", p.guest_port, p.host_address.c_str(),
                  p.host_port);
    }
  }
  std::fflush(stdout);
  if (start.detached) {
    sandbox->Release();
    return kExitOk;
  }

  // Wait for a stop signal or for the sandbox to end by itself (`mvmctl stop` from elsewhere).
  int sfd = signalfd(-1, &stop_signals, SFD_CLOEXEC);
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, r.pid, 0));
  pollfd fds[2] = {{sfd, POLLIN, 0}, {pidfd, POLLIN, 0}};
  // Meanwhile the services' restarts and exits go to the audit log, as the agent reports them.
  std::vector<runtime::agent::ServiceStatus> seen;
  const int interval_ms = r.services.empty() ? -1 : 1000;
  for (;;) {
    const int ready = ::poll(fds, 2, interval_ms);
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready != 0) {
      break;
    }
    if (auto now = sandbox->agent().ListServices()) {
      runtime::AuditServiceChanges(r.name, seen, *now, session->log());
      seen = std::move(*now);
    }
  }
  std::string reason = (fds[1].revents & POLLIN) != 0 ? "sandbox exited" : "stopped by signal";
  ::close(sfd);
  ::close(pidfd);
  auto destroyed = runtime::Destroy(session->options, *sandbox, session->log(), reason);
  if (!destroyed) {
    return FailRun("up", destroyed.error());
  }
  std::fprintf(stderr, "mvmctl up: sandbox %s stopped (%s)\n", r.name.c_str(), reason.c_str());
  return kExitOk;
}

}  // namespace mvm::cli
