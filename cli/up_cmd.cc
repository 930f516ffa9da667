// `mvmctl up FILE|PLAN --name N [--detach] [--from-ir]`: start a sandbox and keep it until stopped.
// Without --detach it lives as long as this command (Ctrl-C, SIGTERM or its parent's death end it).
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
  const runtime::SandboxRecord& r = sandbox->record();
  if (format == "json") {
    nlohmann::json out = {{"name", r.name},
                          {"workload", r.workload_id},
                          {"pid", r.pid},
                          {"detached", r.detached},
                          {"audit_id", admitted->audit_id}};
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf("sandbox %s is up (workload %s, pid %d%s)\n", r.name.c_str(), r.workload_id.c_str(),
                r.pid, r.detached ? ", detached" : "");
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
  while (::poll(fds, 2, -1) < 0 && errno == EINTR) {
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
