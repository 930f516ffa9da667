// The qemu-microvm backend's half of Start: a microVM booted to its agent
// (runtime/backends/qemu_microvm).

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "runtime/launcher/internal.h"

namespace mvm::runtime {

namespace fs = std::filesystem;
using namespace internal;  // NOLINT(google-build-using-namespace)

ErrorOr<Sandbox> SandboxAccess::StartMicrovm(const LauncherOptions& options,
                                             const AdmittedPlan& admitted,
                                             const StartOptions& start, audit::Log& audit,
                                             PhaseTimings* timings, const std::string& name,
                                             const fs::path& rootfs_dir,
                                             const std::string& rootfs_digest) {
  const plan::v1::ExecutionPlan& p = admitted.verified.plan;
  if (auto made = MakeSandboxDirs(options.state, name); !made) {
    return made.error();
  }
  auto fail = [&](const std::string& message) -> Error {
    RemoveTraces(options.state, name, name);
    return Error{message};
  };
  qemu_microvm::LaunchInput in;
  in.name = name;
  in.guest_cache = options.state.GuestCache();
  in.sandbox_dir = options.state.Sandbox(name);
  in.agent_socket = options.state.AgentSocket(name);
  in.agent_binary = options.agent_binary;
  in.rootfs_tree = rootfs_dir;
  in.rootfs_digest = rootfs_digest;
  using Extra = guest::ExtraMount;
  // Read-only files reach the guest as copies in a read-only image, which is what the container
  // backend's read-only binds show too, as of the moment of the start. Read-write volumes are
  // shared live over virtio-fs; read-only ones stay copies because then the guest reaches no host
  // daemon at all, and qemu attaches their image read-only, which no guest root undoes
  // (docs/microvm.md).
  for (const auto& [guest_path, host] : start.app_files) {
    in.mounts.push_back({Extra::Kind::kCopy, host, guest_path, 0});
  }
  if (!start.app_files.empty()) {
    in.mounts.push_back({Extra::Kind::kCopy, options.python_sdk, std::string(kSdkMount), 0});
  }
  for (const plan::v1::Mount& m : p.mounts()) {
    if (m.kind() == "memory") {
      in.mounts.push_back(
          {Extra::Kind::kTmpfs, {}, m.target(), static_cast<uint32_t>(m.size_mb())});
      continue;
    }
    auto source = ResolveVolumeSource(m, start.project_root);
    if (!source) {
      return fail(source.error().message);
    }
    in.mounts.push_back(
        {m.mode() == "rw" ? Extra::Kind::kVirtiofs : Extra::Kind::kCopy, *source, m.target(), 0});
  }
  in.cpus = static_cast<uint32_t>(p.lifecycle().cpu());
  in.memory_mb = static_cast<uint32_t>(p.lifecycle().memory_mb());
  in.pids_max = kPidsMax;
  in.detached = start.detached || !start.pool.empty();
  in.note = [&](std::string_view line) {
    if (options.note) {
      options.note(line);
    }
  };
  in.on_exit = [state = options.state, name](const qemu_microvm::VmExit& exit) {
    auto session = OpenAudit(state);
    if (!session) {
      return;
    }
    const int status = exit.qemu_wait_status;
    std::string qemu = WIFSIGNALED(status)
                           ? "killed by signal " + std::to_string(WTERMSIG(status))
                           : "exited with status " + std::to_string(WEXITSTATUS(status));
    (void)(*session)->log->Append(
        "vm-exit", {{"sandbox", name},
                    {"qemu", qemu},
                    {"port", exit.protocol_broken ? "the guest broke the agent port's protocol (" +
                                                        exit.protocol_error + "); the VM was killed"
                                                  : std::string("closed")}});
  };

  Sandbox sandbox;
  if (!start.detached) {
    auto watchdog = StartWatchdog(options.state, name);
    if (!watchdog) {
      return fail(watchdog.error().message);
    }
    sandbox.watchdog_fd_ = watchdog->first;
    sandbox.watchdog_pid_ = watchdog->second;
  }
  auto launched = qemu_microvm::Launch(in);
  if (!launched) {
    DisarmWatchdog(sandbox.watchdog_fd_, sandbox.watchdog_pid_);
    (void)audit.Append("refuse", {{"stage", "launch"},
                                  {"workload", p.workload().id()},
                                  {"backend", options.backend},
                                  {"message", launched.error().message}});
    return fail("cannot start the microVM: " + launched.error().message);
  }
  qemu_microvm::Vm& vm = launched->booted.vm;
  sandbox.container_.pid = vm.supervisor_pid;
  sandbox.container_.pidfd = vm.supervisor_pidfd;
  sandbox.container_.name = name;

  SandboxRecord& r = sandbox.record_;
  r = NewRecord(options, admitted, start, name, vm.qemu_pid, rootfs_digest);
  if (auto written = WriteRecord(options.state, r); !written) {
    (void)container::Kill(sandbox.container_, SIGKILL);
    (void)sandbox.Wait(std::chrono::seconds(5));
    return fail(written.error().message);
  }
  sandbox.agent_.emplace(std::move(launched->booted.agent));
  const qemu_microvm::BootTimings& bt = launched->timings;
  if (timings != nullptr) {
    timings->materialize_ms += launched->prepare_ms;
    timings->namespaces_ms = bt.process_spawned_ms;
    timings->agent_ready_ms = bt.agent_ready_ms;
    timings->process_spawned_ms = bt.process_spawned_ms;
    timings->kernel_entered_ms = bt.kernel_entered_ms;
    timings->boot_attempts = bt.attempts;
    timings->acceleration = launched->acceleration.name;
  }
  (void)audit.Append("launch", {{"sandbox", name},
                                {"workload", p.workload().id()},
                                {"backend", options.backend},
                                {"acceleration", launched->acceleration.name},
                                {"acceleration_reason", launched->acceleration.reason},
                                {"kernel", launched->kernel_release},
                                {"boot_attempts", bt.attempts},
                                {"rootfs", rootfs_digest},
                                {"pid", r.pid},
                                {"detached", start.detached}});
  if (options.verbose && options.note) {
    char phases[256];
    std::snprintf(phases, sizeof phases,
                  "boot phases (ms from the start of the boot): process spawned %.1f, kernel "
                  "entered %.1f, guest agent ready %.1f%s",
                  bt.process_spawned_ms, bt.kernel_entered_ms, bt.agent_ready_ms,
                  bt.attempts > 1 ? " (second attempt)" : "");
    options.note("backend qemu-microvm, acceleration " + launched->acceleration.name + " (" +
                 launched->acceleration.reason + "), kernel " + launched->kernel_release +
                 ", rootfs " + rootfs_digest.substr(0, 19) + "…, sandbox " + name);
    options.note(phases);
  }
  return sandbox;
}

}  // namespace mvm::runtime
