// The container backend's half of Start: the namespace sandbox with the guest agent as PID 1.

#include <fcntl.h>
#include <grp.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <system_error>

#include "ir/support/os/unique_fd.h"
#include "runtime/agent/framing.h"
#include "runtime/launcher/internal.h"

namespace mvm::runtime {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace internal;  // NOLINT(google-build-using-namespace)

ErrorOr<Sandbox> SandboxAccess::StartContainer(const LauncherOptions& options,
                                               const AdmittedPlan& admitted,
                                               const StartOptions& start, audit::Log& audit,
                                               PhaseTimings* timings, const std::string& name,
                                               const fs::path& rootfs_dir,
                                               const std::string& rootfs_digest) {
  const plan::v1::ExecutionPlan& p = admitted.verified.plan;
  container::Spec spec;
  spec.name = name;
  spec.rootfs = rootfs_dir;
  spec.init = options.agent_binary;
  spec.limits.cpu = static_cast<uint32_t>(p.lifecycle().cpu());
  spec.limits.memory_mb = static_cast<uint32_t>(p.lifecycle().memory_mb());
  spec.limits.pids_max = kPidsMax;
  // A pool's sandboxes are handed to other processes, so they must not die with this one by the
  // kernel's hand; until then the watchdog removes them if this process dies.
  spec.parent_death_signal = start.detached || !start.pool.empty() ? 0 : SIGKILL;

  if (auto made = MakeSandboxDirs(options.state, name); !made) {
    return made.error();
  }
  std::error_code ec;
  auto fail = [&](const std::string& message) -> Error {
    RemoveTraces(options.state, name, name);
    return Error{message};
  };
  // Staged copies, not binds of the user's file or of the SDK: the sandbox sees them as they were
  // at the start, and neither their host paths nor anything of the directories around them.
  for (const auto& [guest, host] : start.app_files) {
    spec.mounts.push_back({container::Mount::Kind::kBind, host, guest, true, 0, true});
  }
  if (!start.app_files.empty()) {
    spec.mounts.push_back(
        {container::Mount::Kind::kBind, options.python_sdk, std::string(kSdkMount), true, 0, true});
  }
  for (const plan::v1::Mount& m : p.mounts()) {
    if (m.kind() == "memory") {
      spec.mounts.push_back({container::Mount::Kind::kTmpfs,
                             {},
                             m.target(),
                             false,
                             static_cast<uint32_t>(m.size_mb())});
      continue;
    }
    auto source = ResolveVolumeSource(m, start.project_root);
    if (!source) {
      return fail(source.error().message);
    }
    spec.mounts.push_back(
        {container::Mount::Kind::kBind, *source, m.target(), m.mode() != "rw", 0});
  }

  Sandbox sandbox;
  if (!start.detached) {
    auto watchdog = StartWatchdog(options.state, name);
    if (!watchdog) {
      return fail(watchdog.error().message);
    }
    sandbox.watchdog_fd_ = watchdog->first;
    sandbox.watchdog_pid_ = watchdog->second;
  }

  // The agent's own stdout/stderr go to a file in the sandbox's state, not to this terminal: a
  // detached sandbox must not hold it, and the workload's output reaches us through the agent.
  // Only the agent writes it (workloads get pipes of their own), and it bounds what it writes.
  fs::path agent_log = options.state.Sandbox(name) / "agent.log";
  os::UniqueFd log_fd(
      ::open(agent_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!log_fd.valid()) {
    return fail("cannot create `" + agent_log.string() + "`: " + std::strerror(errno));
  }
  spec.stdout_fd = log_fd.get();
  // The agent's socket is made here, in the sandbox's owner-only state directory that nothing
  // mounts into the sandbox, and PID 1 gets only the listening fd: the workload can neither reach
  // the socket's name nor put something else in its place.
  auto listener = agent::ListenUnix(options.state.AgentSocket(name));
  if (!listener) {
    return fail(listener.error().message);
  }
  spec.inherit_fds = {listener->get()};
  spec.init_args = {"--listen-fd=" + std::to_string(listener->get())};
  // The backend maps only uid/gid 0 and denies setgroups in the sandbox, so PID 1 would keep this
  // process's supplementary groups (under sudo, host group 0). Drop them here: the launcher needs
  // none.
  if (::geteuid() == 0 && ::setgroups(0, nullptr) != 0) {
    return fail(std::string("cannot drop supplementary groups: ") + std::strerror(errno));
  }
  container::Timings ct{};
  auto t = Clock::now();
  auto started = container::Start(spec, &ct);
  log_fd.Reset();
  listener->Reset();
  if (!started) {
    (void)audit.Append("refuse", {{"stage", "launch"},
                                  {"workload", p.workload().id()},
                                  {"message", started.error().message}});
    return fail("cannot start the sandbox: " + started.error().message);
  }
  sandbox.container_ = std::move(*started);
  if (timings != nullptr) {
    timings->namespaces_ms = MillisSince(t);
  }

  SandboxRecord& r = sandbox.record_;
  r = NewRecord(options, admitted, start, name, sandbox.container_.pid, rootfs_digest);
  if (auto written = WriteRecord(options.state, r); !written) {
    (void)container::Kill(sandbox.container_, SIGKILL);
    (void)sandbox.Wait(std::chrono::seconds(5));
    return fail(written.error().message);
  }

  t = Clock::now();
  auto client = agent::Client::Connect(options.state.AgentSocket(name), kAgentWait);
  if (!client) {
    (void)container::Kill(sandbox.container_, SIGKILL);
    (void)sandbox.Wait(std::chrono::seconds(5));
    std::string tail;
    if (std::FILE* f = std::fopen(agent_log.c_str(), "r")) {
      char buf[2048];
      size_t n = std::fread(buf, 1, sizeof buf, f);
      tail.assign(buf, n);
      std::fclose(f);
    }
    return fail("the guest agent did not come up: " + client.error().message +
                (tail.empty() ? "" : "\nagent output:\n" + tail));
  }
  sandbox.agent_.emplace(std::move(*client));
  if (timings != nullptr) {
    timings->agent_ready_ms = MillisSince(t);
  }
  (void)audit.Append("launch", {{"sandbox", name},
                                {"workload", p.workload().id()},
                                {"backend", options.backend},
                                {"rootfs", rootfs_digest},
                                {"pid", r.pid},
                                {"detached", start.detached}});
  if (options.verbose && options.note) {
    auto support = container::Probe();
    options.note("backend container (namespaces + seccomp, cgroup " + support.cgroup_mode +
                 "), rootfs " + rootfs_digest.substr(0, 19) + "…, sandbox " + name);
  }
  return sandbox;
}

}  // namespace mvm::runtime
