// From a launcher's request to a booted VM: the artifacts, the accelerator, the boot.

#include <thread>

#include "runtime/backends/qemu_microvm/qemu_microvm.h"

namespace mvm::runtime::qemu_microvm {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

ErrorOr<Launched> Launch(const LaunchInput& input) {
  const auto start = Clock::now();
  if (!QemuAvailable()) {
    return Error{
        "the qemu-microvm backend needs `qemu-system-x86_64`, which is not on PATH; install the "
        "Debian package qemu-system-x86 (scripts/bootstrap.sh does), or use --backend container"};
  }
  auto boot_files = guest::EnsureBootFiles(input.guest_cache, input.agent_binary, input.note);
  if (!boot_files) {
    return boot_files.error();
  }
  auto image =
      guest::EnsureRootImage(input.rootfs_tree, input.rootfs_digest, input.guest_cache, input.note);
  if (!image) {
    return image.error();
  }
  Spec spec;
  spec.name = input.name;
  spec.kernel = boot_files->vmlinux;
  spec.initramfs = boot_files->initramfs;
  spec.root_image = *image;
  for (const guest::ExtraMount& m : input.mounts) {
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
                                input.sandbox_dir / ("vfs" + std::to_string(n) + ".sock")});
  }
  if (!input.mounts.empty()) {
    fs::path extras = input.sandbox_dir / "extras.img";
    if (auto ok = guest::BuildExtrasImage(input.mounts, input.sandbox_dir / "extras", extras);
        !ok) {
      return ok.error();
    }
    spec.extras_image = extras;
  }
  const uint32_t host_cpus = std::max(1u, std::thread::hardware_concurrency());
  spec.cpus = std::clamp(input.cpus, 1u, host_cpus);
  spec.memory_mb = input.memory_mb;
  spec.pids_max = input.pids_max;
  spec.agent_socket = input.agent_socket;
  spec.console_log = input.sandbox_dir / "console.log";
  spec.qemu_log = input.sandbox_dir / "qemu.log";
  spec.detached = input.detached;
  spec.on_exit = input.on_exit;
  Acceleration accel = ChooseAcceleration(input.guest_cache / "kvm-probe", [&] {
    if (input.note) {
      input.note("probing KVM with a test boot (once per host kernel)");
    }
    return ProbeBoot(spec.kernel, spec.initramfs, "kvm", input.guest_cache,
                     std::chrono::seconds(10));
  });
  spec.accel = accel.name;
  const double prepare_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();

  auto timeout = std::chrono::milliseconds(accel.name == "kvm" ? 15000 : 60000);
  if (const char* env = std::getenv("MVM_BOOT_TIMEOUT_MS"); env != nullptr && env[0] != '\0') {
    timeout = std::chrono::milliseconds(std::max(1000L, std::atol(env)));
  }
  BootTimings timings;
  auto booted = Boot(spec, timeout, &timings, input.note);
  if (!booted) {
    return Error{booted.error().message + "\n(accelerator: " + accel.name + ", " + accel.reason +
                 ")"};
  }
  return Launched{std::move(*booted), accel, timings, boot_files->kernel_release, prepare_ms, spec};
}

}  // namespace mvm::runtime::qemu_microvm
