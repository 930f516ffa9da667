// The qemu-microvm backend behind the launcher's Backend interface (runtime/backends/backend.h):
// from a start request to a VM booted to its agent, with the boot files, images and accelerator
// it needs.

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <thread>

#include "ir/support/os/files.h"
#include "ir/support/os/unique_fd.h"
#include "runtime/backends/qemu_microvm/control.h"
#include "runtime/backends/qemu_microvm/qemu_microvm.h"

namespace mvm::runtime::qemu_microvm {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

/// The guest's count of OOM kills in its workload cgroup (runtime/agent/init.cc sets it up), read
/// through the agent: the limit is enforced inside the VM, so only the guest knows.
ErrorOr<uint64_t> GuestOomKills(agent::Client& agent) {
  auto text = agent.ReadFile("/sys/fs/cgroup/workload/memory.events", 64u << 10);
  if (!text) {
    return Error{text.error().message};
  }
  size_t at = text->find("oom_kill ");
  if (at == std::string::npos) {
    return Error{"the guest's memory.events has no oom_kill line"};
  }
  return std::strtoull(text->c_str() + at + 9, nullptr, 10);
}

std::vector<guest::ExtraMount> GuestMounts(const std::vector<backends::SandboxMount>& mounts) {
  using Extra = guest::ExtraMount;
  using Kind = backends::SandboxMount::Kind;
  // Read-only files reach the guest as copies in a read-only image, which is what the container
  // backend's read-only binds show too, as of the moment of the start. Read-write volumes are
  // shared live over virtio-fs; read-only ones stay copies because then the guest reaches no host
  // daemon at all, and qemu attaches their image read-only, which no guest root undoes
  // (docs/microvm.md), unless they must be live (the builder's /src): then virtio-fs through a
  // read-only mount the host locks.
  std::vector<Extra> out;
  for (const backends::SandboxMount& m : mounts) {
    if (m.kind == Kind::kMemory) {
      out.push_back({Extra::Kind::kTmpfs, {}, m.target, m.size_mb});
    } else if (m.kind == Kind::kVolume && (!m.read_only || m.owned_by_sandbox || m.live)) {
      out.push_back(
          {Extra::Kind::kVirtiofs, m.source, m.target, 0, m.owned_by_sandbox, m.read_only});
    } else {
      out.push_back({Extra::Kind::kCopy, m.source, m.target, 0});
    }
    // The host sees none of a tmpfs in guest memory or of a copy in the image, and only the host
    // directory of a shared local volume, the host's own changes included; the FUSE views of
    // encrypted and object volumes are the sandbox's alone and watched on the host
    // (runtime/launcher/volume_watch.cc).
    out.back().watched = backends::GuestWatches(m);
  }
  return out;
}

ErrorOr<Ok> Control(const backends::SandboxRef& sandbox, const std::string& op) {
  auto answer = ControlRequest(sandbox.sandbox_dir / kControlSocket, {{"op", op}}, -1,
                               std::chrono::seconds(10));
  if (!answer) {
    return answer.error();
  }
  return Ok{};
}

class QemuMicrovmBackend final : public backends::Backend {
 public:
  std::string_view name() const override { return "qemu-microvm"; }
  std::string_view summary() const override {
    return "qemu -M microvm: KVM where a test boot works, else TCG emulation";
  }
  backends::Capabilities capabilities() const override {
    backends::Capabilities caps;
    caps.microvm_isolation = true;
    caps.egress = true;
    caps.host_measures_oom = false;
    caps.full_snapshots = true;
    if (::geteuid() == 0) {
      // virtiofsd's root, as the guest's root reaches the host through it (virtiofsd.cc).
      caps.fuse_volume_owner = kVirtiofsdIdBase;
    } else {
      caps.read_write_volumes_refusal =
          "which the qemu-microvm backend serves with virtiofsd, and confining virtiofsd (mapped "
          "ids, an idmapped mount) needs root; run mvmctl as root, mount it read-only (copied "
          "into the VM at start), or use --backend container";
    }
    return caps;
  }
  ErrorOr<backends::Started> Start(const backends::StartRequest& request) const override;
  ErrorOr<uint64_t> OomKills(std::string_view, agent::Client& agent) const override {
    return GuestOomKills(agent);
  }
  // qemu, its supervisor and the virtiofsds die with the supervisor; nothing else is left.
  // qemu's `stop` and `cont`, through the VM's supervisor (control.h): the vCPUs halt, so the
  // whole guest stands still, its clocks included.
  ErrorOr<Ok> Pause(const backends::SandboxRef& sandbox) const override {
    return Control(sandbox, "pause");
  }
  ErrorOr<Ok> Resume(const backends::SandboxRef& sandbox) const override {
    return Control(sandbox, "resume");
  }
  void Cleanup(std::string_view) const override {}
};

ErrorOr<backends::Started> Launch(const backends::StartRequest& request) {
  const auto start = Clock::now();
  if (!QemuAvailable()) {
    return Error{
        "the qemu-microvm backend needs `qemu-system-x86_64`, which is not on PATH; install the "
        "Debian package qemu-system-x86 (scripts/bootstrap.sh does), or use --backend container"};
  }
  // A step only shows once it has taken a second (cli/terminal_progress.h): a cached kernel and
  // root image show nothing.
  // Ended on every way out, so that an error is not written under a step still being redrawn.
  struct Steps {
    const std::function<void(std::string_view)>& progress;
    void operator()(std::string_view what) const {
      if (progress) {
        progress(what);
      }
    }
    ~Steps() { (*this)({}); }
  } step{request.progress};
  step("preparing the guest kernel, initramfs and root image");
  auto boot_files = guest::EnsureBootFiles(request.guest_cache, request.agent_binary, request.note);
  if (!boot_files) {
    return boot_files.error();
  }
  auto image = guest::EnsureRootImage(request.rootfs_dir, request.rootfs_digest,
                                      request.guest_cache, request.note);
  step({});
  if (!image) {
    return image.error();
  }
  const std::vector<guest::ExtraMount> mounts = GuestMounts(request.mounts);
  Spec spec;
  spec.name = request.name;
  spec.kernel = boot_files->vmlinux;
  spec.initramfs = boot_files->initramfs;
  spec.root_image = *image;
  for (const guest::ExtraMount& m : mounts) {
    if (m.kind != guest::ExtraMount::Kind::kVirtiofs) {
      continue;
    }
    if (!fs::is_directory(m.source)) {
      return Error{"read-write volume `" + m.source.string() +
                   "` is not a directory: the qemu-microvm backend shares directories (over "
                   "virtio-fs); mount the directory that holds it, or use --backend container"};
    }
    const size_t n = spec.shared_dirs.size();
    spec.shared_dirs.push_back({m.source, guest::VirtiofsTag(n),
                                request.sandbox_dir / ("vfs" + std::to_string(n) + ".sock"),
                                !m.owned_by_sandbox, m.read_only});
  }
  if (request.incoming) {
    if (!spec.shared_dirs.empty()) {
      return Error{
          "a VM with read-write volumes has no full snapshot to start from: qemu cannot save the "
          "state of its virtio-fs devices"};
    }
    if (request.incoming->extras_fd >= 0) {
      // The sandbox keeps its own copy, as a booted one does, for a snapshot of it in turn.
      fs::path extras = request.sandbox_dir / "extras.img";
      os::UniqueFd copy(::open(extras.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
      if (!copy.valid()) {
        return Error{"cannot create `" + extras.string() + "`: " + std::strerror(errno)};
      }
      if (auto ok = os::CopyAll(request.incoming->extras_fd, copy.get()); !ok) {
        return Error{"cannot copy the snapshot's extras image: " + ok.error().message};
      }
      spec.extras_image = extras;
    }
    spec.incoming_fd = request.incoming->memory_fd;
  } else if (!mounts.empty()) {
    fs::path extras = request.sandbox_dir / "extras.img";
    if (auto ok = guest::BuildExtrasImage(mounts, request.sandbox_dir / "extras", extras); !ok) {
      return ok.error();
    }
    spec.extras_image = extras;
  }
  const uint32_t host_cpus = std::max(1u, std::thread::hardware_concurrency());
  spec.cpus = std::clamp(request.cpus, 1u, host_cpus);
  spec.memory_mb = request.memory_mb;
  spec.pids_max = request.pids_max;
  spec.agent_socket = request.agent_socket;
  spec.console_log = request.sandbox_dir / "console.log";
  spec.qemu_log = request.sandbox_dir / "qemu.log";
  spec.detached = !request.dies_with_caller;
  spec.control_socket = request.sandbox_dir / kControlSocket;
  if (spec.detached) {
    spec.process_file = request.sandbox_dir / backends::kProcessFile;
  }
  if (request.on_exit) {
    spec.on_exit = [on_exit = request.on_exit](const VmExit& exit) {
      const int status = exit.qemu_wait_status;
      on_exit({{"qemu", WIFSIGNALED(status)
                            ? "killed by signal " + std::to_string(WTERMSIG(status))
                            : "exited with status " + std::to_string(WEXITSTATUS(status))},
               {"port", exit.protocol_broken ? "the guest broke the agent port's protocol (" +
                                                   exit.protocol_error + "); the VM was killed"
                                             : std::string("closed")}});
    };
  }
  Acceleration accel = ChooseAcceleration(request.guest_cache / "kvm-probe", [&] {
    if (request.note) {
      request.note("probing KVM with a test boot (once per host kernel)");
    }
    step("probing KVM with a test boot");
    return ProbeBoot(spec.kernel, spec.initramfs, "kvm", request.guest_cache,
                     std::chrono::seconds(10));
  });
  step({});
  if (request.incoming) {
    // A saved state loads only under the accelerator it was saved under.
    if (request.incoming->acceleration == "kvm" && accel.name != "kvm") {
      return Error{"the snapshot was taken under KVM, which this host cannot use now (" +
                   accel.reason + ")"};
    }
    accel = {request.incoming->acceleration, "the accelerator the snapshot was taken under"};
  }
  spec.accel = accel.name;
  const double prepare_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();

  auto timeout = std::chrono::milliseconds(accel.name == "kvm" ? 15000 : 60000);
  if (const char* env = std::getenv("MVM_BOOT_TIMEOUT_MS"); env != nullptr && env[0] != '\0') {
    timeout = std::chrono::milliseconds(std::max(1000L, std::atol(env)));
  }
  // The way out exists before qemu does, so that the guest's NIC leads to it from its first
  // packet; the launcher's copy of the tap is closed once qemu holds its own (the device goes
  // when qemu does), and the sockets go to the sandbox's egress helper.
  std::optional<VmNetwork> network;
  if (request.egress) {
    auto opened = OpenVmNetwork();
    if (!opened) {
      return opened.error();
    }
    network = std::move(*opened);
    spec.tap_fd = network->tap.get();
  }
  if (accel.name == "tcg" && request.terminal_note) {
    request.terminal_note(
        "note: the microVM runs under TCG emulation, not KVM, so boots take seconds (" +
        accel.reason + ")");
  }
  BootTimings bt;
  step(request.incoming ? "restoring the microVM" : "booting the microVM");
  auto booted = Boot(spec, timeout, &bt, request.note);
  step({});
  if (network) {
    network->tap.Reset();
  }
  if (!booted) {
    return Error{booted.error().message + "\n(accelerator: " + accel.name + ", " + accel.reason +
                 ")"};
  }
  backends::StartTimings timings;
  timings.prepare_ms = prepare_ms;
  timings.spawn_ms = bt.process_spawned_ms;
  timings.agent_ready_ms = bt.agent_ready_ms;
  timings.kernel_entered_ms = bt.kernel_entered_ms;
  timings.boot_attempts = bt.attempts;
  timings.acceleration = accel.name;
  Vm& vm = booted->vm;
  backends::Started out{backends::OwnedProcess(vm.supervisor_pid, vm.supervisor_pidfd, false),
                        vm.qemu_pid,
                        std::move(booted->agent),
                        timings,
                        {},
                        {},
                        {}};
  out.facts = {{"acceleration", accel.name},
               {"acceleration_reason", accel.reason},
               {"kernel", boot_files->kernel_release},
               {"boot_attempts", bt.attempts}};
  if (network) {
    out.egress = std::move(network->endpoints);
    out.facts["nic"] = std::string("virtio-net, ") + kEgressGuestAddress + "/" +
                       std::to_string(kEgressPrefix) + " via " + kEgressHostAddress;
  }
  if (request.describe) {
    char phases[256];
    std::snprintf(phases, sizeof phases,
                  "boot phases (ms from the start of the boot): process spawned %.1f, kernel "
                  "entered %.1f, guest agent ready %.1f%s",
                  bt.process_spawned_ms, bt.kernel_entered_ms, bt.agent_ready_ms,
                  bt.attempts > 1 ? " (second attempt)" : "");
    out.description = {"backend qemu-microvm, acceleration " + accel.name + " (" + accel.reason +
                           "), kernel " + boot_files->kernel_release + ", rootfs " +
                           request.rootfs_digest.substr(0, 19) + "…, sandbox " + request.name,
                       phases};
    if (network) {
      out.description.push_back(std::string("network: one virtio-net NIC, ") + kEgressGuestAddress +
                                " via " + kEgressHostAddress +
                                ", a tap in a namespace of its own where only the sandbox's egress "
                                "proxy and resolver answer");
    }
  }
  return out;
}

ErrorOr<backends::Started> QemuMicrovmBackend::Start(const backends::StartRequest& request) const {
  auto started = Launch(request);
  if (!started) {
    return Error{"cannot start the microVM: " + started.error().message};
  }
  return started;
}

}  // namespace

const backends::Backend& TheBackend() {
  static const QemuMicrovmBackend backend;
  return backend;
}

}  // namespace mvm::runtime::qemu_microvm
