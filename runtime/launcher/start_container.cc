// The container backend's half of Start: the namespace sandbox with the guest agent as PID 1.

#include <fcntl.h>
#include <grp.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <system_error>

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
  spec.init_args = {"--socket", "/run/mvm/agent.sock"};
  spec.run_dir = options.state.RunDir(name);
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
  for (const auto& [guest, host] : start.app_files) {
    // A copy, not a bind mount of the user's file: the sandbox sees the file as it was when the
    // plan was admitted, and nothing of the host directory around it.
    fs::path copy = options.state.Sandbox(name) / "app" / fs::path(guest).filename();
    fs::create_directories(copy.parent_path(), ec);
    fs::copy_file(host, copy, fs::copy_options::overwrite_existing, ec);
    if (ec) {
      return fail("cannot copy `" + host.string() + "` into the sandbox: " + ec.message());
    }
    fs::permissions(copy, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read,
                    ec);
    spec.mounts.push_back({container::Mount::Kind::kBind, copy, guest, true, 0});
  }
  if (!start.app_files.empty()) {
    spec.mounts.push_back(
        {container::Mount::Kind::kBind, options.python_sdk, std::string(kSdkMount), true, 0});
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
  fs::path agent_log = options.state.Sandbox(name) / "agent.log";
  int log_fd = ::open(agent_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) {
    return fail("cannot create `" + agent_log.string() + "`: " + std::strerror(errno));
  }
  std::fflush(stdout);
  std::fflush(stderr);
  int saved_out = ::dup(1);
  int saved_err = ::dup(2);
  ::dup2(log_fd, 1);
  ::dup2(log_fd, 2);
  ::close(log_fd);
  // The backend maps only uid/gid 0 and denies setgroups in the sandbox, so PID 1 would keep this
  // process's supplementary groups (under sudo, host group 0). Drop them here: the launcher needs
  // none.
  if (::geteuid() == 0 && ::setgroups(0, nullptr) != 0) {
    return fail(std::string("cannot drop supplementary groups: ") + std::strerror(errno));
  }
  container::Timings ct{};
  auto t = Clock::now();
  auto started = container::Start(spec, &ct);
  ::dup2(saved_out, 1);
  ::dup2(saved_err, 2);
  ::close(saved_out);
  ::close(saved_err);
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
