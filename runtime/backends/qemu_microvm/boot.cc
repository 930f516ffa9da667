// Booting with a watchdog, one retry and the console's tail on failure; and the KVM probe.

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "runtime/backends/qemu_microvm/qemu_microvm.h"

namespace mvm::runtime::qemu_microvm {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double MillisSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

void KillAndReap(Vm& vm) {
  if (vm.supervisor_pidfd >= 0) {
    (void)::syscall(SYS_pidfd_send_signal, vm.supervisor_pidfd, SIGKILL, nullptr, 0);
    ::close(vm.supervisor_pidfd);
    vm.supervisor_pidfd = -1;
  } else if (vm.supervisor_pid > 0) {
    ::kill(vm.supervisor_pid, SIGKILL);
  }
  // qemu dies with the supervisor (PR_SET_PDEATHSIG), but be sure before the files are reused.
  if (vm.qemu_pid > 0) {
    ::kill(vm.qemu_pid, SIGKILL);
  }
  if (vm.supervisor_pid > 0) {
    while (::waitpid(vm.supervisor_pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  if (vm.qemu_pid > 0) {
    for (int i = 0; i < 400 && ::kill(vm.qemu_pid, 0) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
}

}  // namespace

ErrorOr<Booted> Boot(const Spec& spec, std::chrono::milliseconds timeout, BootTimings* timings,
                     const std::function<void(std::string_view)>& note) {
  for (int attempt = 1;; ++attempt) {
    std::error_code ec;
    fs::remove(spec.console_log, ec);
    fs::remove(spec.qemu_log, ec);
    const auto start = Clock::now();
    auto vm = Start(spec);
    if (!vm) {
      return vm.error();
    }
    const double spawned = MillisSince(start);

    // The watchdog: a boot that has not reached the agent by the deadline is killed, which ends
    // the supervisor and so the Hello that waits on it.
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    bool fired = false;
    std::thread watchdog([&] {
      std::unique_lock<std::mutex> lock(mu);
      if (!cv.wait_for(lock, timeout, [&] { return done; })) {
        fired = true;
        (void)::syscall(SYS_pidfd_send_signal, vm->supervisor_pidfd, SIGKILL, nullptr, 0);
        ::kill(vm->qemu_pid, SIGKILL);
      }
    });
    // The supervisor accepts at once; Hello is answered once the guest has booted, so it may take
    // as long as the boot may.
    auto client = agent::Client::Connect(
        spec.agent_socket, std::chrono::duration_cast<std::chrono::milliseconds>(timeout));
    {
      std::lock_guard<std::mutex> lock(mu);
      done = true;
    }
    cv.notify_all();
    watchdog.join();
    if (client) {
      if (timings != nullptr) {
        timings->attempts = attempt;
        timings->process_spawned_ms = spawned;
        timings->agent_ready_ms = MillisSince(start);
        // The console reaches its file through the supervisor, which may trail the agent's answer.
        // A VM started from a snapshot does not boot, so its console never says.
        auto guest_ms = GuestReadyBootMs(spec.console_log);
        for (int i = 0; i < 50 && !guest_ms && spec.incoming_fd < 0; ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
          guest_ms = GuestReadyBootMs(spec.console_log);
        }
        timings->kernel_entered_ms =
            guest_ms ? std::max(spawned, timings->agent_ready_ms - *guest_ms) : 0;
      }
      return Booted{*vm, std::move(*client)};
    }
    KillAndReap(*vm);
    std::string tail = FailureTail(spec, 25);
    if (fired && attempt == 1) {
      if (note) {
        note("the microVM did not boot within " + std::to_string(timeout.count()) +
             " ms; killed it and trying once more. Its console ended with:\n" + tail);
      }
      continue;
    }
    std::string why = fired ? "did not reach the guest agent within " +
                                  std::to_string(timeout.count()) + " ms (" +
                                  std::to_string(attempt) + " attempts)"
                            : "ended during boot (" + client.error().message + ")";
    return Error{"the microVM " + why + "\n" + tail};
  }
}

bool ProbeBoot(const fs::path& kernel, const fs::path& initramfs, const std::string& accel,
               const fs::path& scratch, std::chrono::milliseconds timeout) {
  std::error_code ec;
  fs::create_directories(scratch, ec);
  fs::path console_log = scratch / "probe-console.log";
  fs::remove(console_log, ec);
  // Confined as a sandbox's qemu is (StartConfinedQemu), so the probe shows whether that qemu can
  // use the accelerator, and with descriptors for the same reason.
  int kernel_fd = ::open(kernel.c_str(), O_RDONLY | O_CLOEXEC);
  int initramfs_fd = ::open(initramfs.c_str(), O_RDONLY | O_CLOEXEC);
  int console[2] = {-1, -1};
  if (kernel_fd < 0 || initramfs_fd < 0 ||
      ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, console) != 0) {
    for (int fd : {kernel_fd, initramfs_fd, console[0], console[1]}) {
      if (fd >= 0) {
        ::close(fd);
      }
    }
    return false;
  }
  std::vector<std::string> args = QemuBaseArgv(accel, "", "128");
  args.insert(args.end(), {"-kernel", "/proc/self/fd/3", "-initrd", "/proc/self/fd/4", "-append",
                           KernelCommandLine(accel) + " mvm.probe=1", "-chardev",
                           "socket,id=console,fd=5", "-serial", "chardev:console"});
  auto pid = StartConfinedQemu(args, {kernel_fd, initramfs_fd, console[1]}, -1, accel == "kvm");
  for (int fd : {kernel_fd, initramfs_fd, console[1]}) {
    ::close(fd);
  }
  if (!pid) {
    ::close(console[0]);
    return false;
  }
  std::thread keeper(KeepBoundedLog, console[0], console_log, "console output");
  auto deadline = Clock::now() + timeout;
  bool exited = false;
  while (Clock::now() < deadline) {
    if (::waitpid(*pid, nullptr, WNOHANG) == *pid) {
      exited = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!exited) {
    ::kill(*pid, SIGKILL);
    ::waitpid(*pid, nullptr, 0);
  }
  keeper.join();
  ::close(console[0]);
  std::ifstream in(console_log);
  std::stringstream text;
  text << in.rdbuf();
  return text.str().find("mvm-init: probe ok") != std::string::npos;
}

}  // namespace mvm::runtime::qemu_microvm
