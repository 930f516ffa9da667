#include "runtime/backends/qemu_microvm/qemu_microvm.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "ir/support/os/atomic_file.h"
#include "ir/support/os/process.h"
#include "ir/support/os/unique_fd.h"
#include "runtime/agent/framing.h"
#include "runtime/agent/mux.h"
#include "runtime/backends/helper.h"
#include "runtime/backends/qemu_microvm/control.h"

namespace mvm::runtime::qemu_microvm {

namespace fs = std::filesystem;

namespace {

/// `text` as the value of a qemu option, whose parser ends a value at a comma unless doubled.
std::string OptionValue(const std::string& text) {
  std::string out;
  for (char c : text) {
    out += c;
    if (c == ',') {
      out += ',';
    }
  }
  return out;
}

std::string ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Tail(const std::string& text, size_t lines) {
  size_t start = text.size();
  size_t seen = 0;
  while (start > 0) {
    if (text[start - 1] == '\n' && start != text.size() && ++seen == lines) {
      break;
    }
    --start;
  }
  return text.substr(start);
}

int Connect(const fs::path& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string p = path.string();
  if (p.size() >= sizeof address.sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  std::memcpy(address.sun_path, p.data(), p.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    int saved = errno;
    ::close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

/// The supervisor: never returns. `go_fd`, when not -1, is read before anything else: a detached
/// supervisor starts nothing until its launcher has recorded it in the process file, and ends at
/// once if the launcher died first (EOF), since then no watchdog could ever find what it starts.
[[noreturn]] void Supervise(const Spec& spec, int report_fd, int go_fd, pid_t launcher) {
  // A fork of the launcher that never execs: its handlers (mvmctl's SIGWINCH self-pipe, in the
  // terminal's foreground group with it) would write to descriptor numbers this process reuses
  // below for qemu's trunk and the agent's clients.
  os::ResetCaughtSignals();
  if (spec.detached) {
    ::setsid();
  }
  if (go_fd >= 0) {
    char go = 0;
    ssize_t n;
    do {
      n = ::read(go_fd, &go, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1 || go != 'g') {
      ::_exit(1);
    }
    ::close(go_fd);
  }
  if (!spec.detached) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != launcher) {
      ::_exit(1);
    }
  }
  for (int sig : {SIGINT, SIGHUP, SIGPIPE}) {
    std::signal(sig, SIG_IGN);
  }
  // Nothing of the launcher's but the report pipe: a detached VM must not hold its terminal or the
  // pipes a caller (an SDK, a test) waits to see closed.
  // And the NIC's tap, kept at fd 4, and the snapshot to load, reopened (so that qemu reads it
  // from its start, whatever the caller's offset) at fd 5; both first moved above every number
  // the steps below reuse.
  int tap = spec.tap_fd >= 0 ? ::fcntl(spec.tap_fd, F_DUPFD_CLOEXEC, 10) : -1;
  const int tap_errno = errno;
  int incoming = -1;
  if (spec.incoming_fd >= 0) {
    const std::string path = "/proc/self/fd/" + std::to_string(spec.incoming_fd);
    int reopened = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    incoming = reopened >= 0 ? ::fcntl(reopened, F_DUPFD_CLOEXEC, 10) : -1;
  }
  const int incoming_errno = errno;
  int null = ::open("/dev/null", O_RDWR);
  ::dup2(null, 0);
  ::dup2(null, 1);
  ::dup2(null, 2);
  ::dup2(report_fd, 3);
  report_fd = 3;
  if (tap >= 0) {
    ::dup3(tap, 4, O_CLOEXEC);
    tap = 4;
  } else {
    ::close(4);
  }
  if (incoming >= 0) {
    ::dup3(incoming, 5, O_CLOEXEC);
    incoming = 5;
  } else {
    ::close(5);
  }
  ::close_range(6, ~0U, 0);
  auto report = [&](int32_t value, const std::string& message) {
    std::string bytes(reinterpret_cast<const char*>(&value), sizeof value);
    bytes += message;
    (void)!::write(report_fd, bytes.data(), bytes.size());
  };
  if (spec.tap_fd >= 0 && tap < 0) {
    report(-1, std::string("cannot keep the tap: ") + std::strerror(tap_errno));
    ::_exit(1);
  }
  if (spec.incoming_fd >= 0 && incoming < 0) {
    report(-1, std::string("cannot reopen the snapshot to load: ") + std::strerror(incoming_errno));
    ::_exit(1);
  }
  auto listening = agent::ListenUnix(spec.agent_socket.string());
  if (!listening) {
    report(-1, listening.error().message);
    ::_exit(1);
  }
  int listener = listening->Release();
  // qemu's and the virtiofsds' output, which a guest may provoke without end, goes through a pipe
  // into qemu.log, bounded as the console is.
  int output[2];
  if (::pipe2(output, O_CLOEXEC) != 0) {
    report(-1, std::string("pipe: ") + std::strerror(errno));
    ::_exit(1);
  }
  std::thread output_keeper(KeepBoundedLog, output[0], spec.qemu_log, "qemu and virtiofsd output");
  // qemu's uid cannot open the state directory's files, so it gets descriptors: sockets connected
  // by this process, and the images opened read-only here.
  std::vector<int> inherit;
  auto grant = [&](int fd) {
    inherit.push_back(fd);
    return static_cast<int>(2 + inherit.size());
  };
  QemuFds fds;
  std::vector<pid_t> virtiofsds;
  for (const SharedDir& dir : spec.shared_dirs) {
    auto shared = agent::ListenUnix(dir.socket.string());
    if (!shared) {
      report(-1, shared.error().message);
      ::_exit(1);
    }
    int fd = shared->Release();
    auto pid = StartConfinedVirtiofsd(dir, fd, output[1]);
    ::close(fd);
    if (!pid) {
      // The virtiofsds already started die with this process (PR_SET_PDEATHSIG).
      report(-1,
             "cannot share `" + dir.source.string() + "` with the guest: " + pid.error().message);
      ::_exit(1);
    }
    virtiofsds.push_back(*pid);
    // The connection waits in the listener's backlog until virtiofsd accepts it; then the path
    // goes, so that no other process can connect to this virtiofsd.
    int client = Connect(dir.socket);
    if (client < 0) {
      report(-1, "cannot connect to `" + dir.socket.string() + "`: " + std::strerror(errno));
      ::_exit(1);
    }
    ::unlink(dir.socket.c_str());
    fds.shared_dirs.push_back(grant(client));
  }
  int trunk[2];
  int console[2];
  int qmp[2] = {-1, -1};
  int mux_control[2] = {-1, -1};
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, trunk) != 0 ||
      ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, console) != 0 ||
      (!spec.control_socket.empty() &&
       (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, qmp) != 0 ||
        ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, mux_control) != 0))) {
    report(-1, std::string("socketpair: ") + std::strerror(errno));
    ::_exit(1);
  }
  int control_listener = -1;
  if (!spec.control_socket.empty()) {
    auto control = agent::ListenUnix(spec.control_socket.string());
    if (!control) {
      report(-1, control.error().message);
      ::_exit(1);
    }
    control_listener = control->Release();
    fds.qmp = grant(qmp[1]);
  }
  fds.agent = grant(trunk[1]);
  fds.console = grant(console[1]);
  if (tap >= 0) {
    fds.tap = grant(tap);
  }
  auto open_read_only = [&](const fs::path& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      report(-1, "cannot open `" + path.string() + "`: " + std::strerror(errno));
      ::_exit(1);
    }
    return grant(fd);
  };
  fds.kernel = open_read_only(spec.kernel);
  fds.initramfs = open_read_only(spec.initramfs);
  fds.root_image = open_read_only(spec.root_image);
  if (spec.extras_image) {
    fds.extras_image = open_read_only(*spec.extras_image);
  }
  if (incoming >= 0) {
    fds.incoming = grant(incoming);
  }
  auto qemu = StartConfinedQemu(QemuArgv(spec, fds), inherit, output[1], spec.accel == "kvm");
  for (int fd : inherit) {
    ::close(fd);
  }
  ::close(output[1]);
  if (!qemu) {
    report(-1, qemu.error().message);
    ::_exit(1);
  }
  // qemu holds the only other end, so the copy ends when qemu does.
  std::thread console_keeper(KeepBoundedLog, console[0], spec.console_log, "console output");
  report(*qemu, "");
  ::close(report_fd);

  // The mux closes its trunk when it returns; this copy keeps qemu's end from seeing that before
  // a guest that broke the protocol is killed, so such a guest cannot make it a clean exit.
  const os::UniqueFd trunk_held(::fcntl(trunk[0], F_DUPFD_CLOEXEC, 0));
  if (control_listener >= 0) {
    // Ends with the process (_exit below), as qemu's monitor does.
    std::thread([ends =
                     ControlEnds{control_listener, qmp[0], mux_control[1], spec.incoming_fd >= 0}] {
      ServeControl(ends);
    }).detach();
  }
  agent::MuxOptions options;
  options.trunk_fd = trunk[0];
  options.listener_fd = listener;
  options.control_fd = mux_control[0];
  auto mux = agent::RunMux(options);
  VmExit exit;
  bool reaped = false;
  if (!mux) {
    // Bytes that are not the protocol: whatever sent them is not our guest-side mux, and nothing
    // more from this guest is trusted.
    exit.protocol_broken = true;
    exit.protocol_error = mux.error().message;
  } else {
    // The port closed: qemu has exited or is exiting; give it a moment to say how.
    for (int i = 0; i < 100 && !reaped; ++i) {
      reaped = ::waitpid(*qemu, &exit.qemu_wait_status, WNOHANG) == *qemu;
      if (!reaped) {
        ::usleep(10000);
      }
    }
  }
  if (!reaped) {
    ::kill(*qemu, SIGKILL);
    while (::waitpid(*qemu, &exit.qemu_wait_status, 0) < 0 && errno == EINTR) {
    }
  }
  console_keeper.join();
  for (pid_t pid : virtiofsds) {
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  // Every writer of the output pipe has ended.
  output_keeper.join();
  if (spec.on_exit) {
    spec.on_exit(exit);
  }
  ::_exit(0);
}

/// The host's TSC rate in kHz, measured against CLOCK_MONOTONIC_RAW over 20 ms. Under TCG the
/// guest's TSC is the host's.
uint64_t MeasureTscKhz() {
  timespec a{}, b{};
  ::clock_gettime(CLOCK_MONOTONIC_RAW, &a);
  uint64_t t0 = __rdtsc();
  ::usleep(20000);
  ::clock_gettime(CLOCK_MONOTONIC_RAW, &b);
  uint64_t t1 = __rdtsc();
  double ns =
      static_cast<double>(b.tv_sec - a.tv_sec) * 1e9 + static_cast<double>(b.tv_nsec - a.tv_nsec);
  return static_cast<uint64_t>(static_cast<double>(t1 - t0) / ns * 1e6);
}

}  // namespace

uint64_t HostTscKhz() {
  static const uint64_t khz = MeasureTscKhz();
  return khz;
}

std::string KernelCommandLine(const std::string& accel) {
  // cryptomgr.notests: the crypto API's known-answer self-tests of every algorithm the kernel
  // registers (and each module registers) are most of the kernel's own boot work under TCG, about
  // 0.9 of 1.4 billion guest instructions before init. They check the implementations, not any
  // input, of a pinned kernel that Debian's builds have run them on; they isolate nothing, and the
  // kernel still runs them in FIPS mode.
  std::string line = "console=ttyS0 reboot=t panic=-1 loglevel=4 rdinit=/init cryptomgr.notests";
  if (accel != "kvm") {
    // microvm has no HPET or ACPI PM timer and its PIT cannot calibrate the TSC under TCG, so the
    // kernel would find no working clock and hang at its first delay loop; tell it the rate
    // (kvmclock makes this unnecessary under KVM).
    line += " tsc_early_khz=" + std::to_string(HostTscKhz()) + " tsc=reliable";
  }
  return line;
}

std::vector<std::string> QemuBaseArgv(const std::string& accel, const std::string& machine_extra,
                                      const std::string& memory_mb) {
  return {kQemu,
          "-M",
          "microvm,accel=" + accel + machine_extra,
          "-cpu",
          accel == "kvm" ? "host" : "max",
          "-m",
          memory_mb,
          "-nodefaults",
          "-no-user-config",
          "-display",
          "none",
          "-no-reboot",
          "-sandbox",
          kQemuSandbox};
}

std::vector<std::string> QemuArgv(const Spec& spec, const QemuFds& fds) {
  std::string append = KernelCommandLine(spec.accel) + " mvm.name=" + spec.name +
                       " mvm.mem=" + std::to_string(spec.memory_mb) +
                       " mvm.pids=" + std::to_string(spec.pids_max) +
                       " mvm.tmp=" + std::to_string(spec.tmp_mb);
  if (spec.extras_image) {
    append += " mvm.extras=1";
  }
  if (fds.tap >= 0) {
    append += " mvm.net=" + GuestNetParameter();
  }
  const std::string memory_mb = std::to_string(spec.memory_mb + kGuestOverheadMb);
  // vhost-user devices (virtiofsd) map the guest's RAM, so it must be a shareable memfd then.
  const bool shared_ram = !spec.shared_dirs.empty();
  auto fd = [](int n) { return std::to_string(n); };
  std::vector<std::string> argv =
      QemuBaseArgv(spec.accel, shared_ram ? ",memory-backend=mem" : "", memory_mb);
  argv.insert(
      argv.end(),
      {
          "-smp",
          std::to_string(spec.cpus),
          // Its own descriptors, through the /proc of its own pid namespace: the loader opens the
          // kernel and initrd by name, and these files are readable by anyone who can name them.
          "-kernel",
          "/proc/self/fd/" + fd(fds.kernel),
          "-initrd",
          "/proc/self/fd/" + fd(fds.initramfs),
          "-append",
          append,
          "-chardev",
          "socket,id=console,fd=" + fd(fds.console),
          "-serial",
          "chardev:console",
          "-add-fd",
          "fd=" + fd(fds.root_image) + ",set=1,opaque=" + OptionValue(spec.root_image.string()),
          "-drive",
          "id=root,file=/dev/fdset/1,format=raw,if=none,readonly=on",
          "-device",
          "virtio-blk-device,drive=root",
      });
  if (spec.extras_image) {
    argv.insert(argv.end(), {"-add-fd",
                             "fd=" + fd(fds.extras_image) +
                                 ",set=2,opaque=" + OptionValue(spec.extras_image->string()),
                             "-drive", "id=extras,file=/dev/fdset/2,format=raw,if=none,readonly=on",
                             "-device", "virtio-blk-device,drive=extras"});
  }
  if (shared_ram) {
    // microvm's virtio-mmio devices are legacy (version 1) by default, which virtiofsd's
    // libvhost-user refuses; the guest's virtio_mmio driver speaks version 2 as well.
    argv.insert(argv.end(),
                {"-object", "memory-backend-memfd,id=mem,size=" + memory_mb + "M,share=on",
                 "-global", "virtio-mmio.force-legacy=off"});
  }
  for (size_t i = 0; i < spec.shared_dirs.size(); ++i) {
    const SharedDir& dir = spec.shared_dirs[i];
    const std::string id = "vfs" + std::to_string(i);
    const int socket = i < fds.shared_dirs.size() ? fds.shared_dirs[i] : -1;
    argv.insert(argv.end(), {"-chardev", "socket,id=" + id + ",fd=" + fd(socket), "-device",
                             "vhost-user-fs-device,chardev=" + id + ",tag=" + dir.tag});
  }
  if (fds.tap >= 0) {
    // The guest's one NIC (docs/architecture/microvm-egress.md): a tap qemu is given, not one it
    // makes (it could not: no capability, a network namespace of its own), so no helper script
    // runs.
    argv.insert(argv.end(), {"-netdev", "tap,id=net0,fd=" + fd(fds.tap), "-device",
                             "virtio-net-device,netdev=net0"});
  }
  argv.insert(argv.end(),
              {"-device", "virtio-serial-device", "-chardev", "socket,id=agent,fd=" + fd(fds.agent),
               "-device", "virtserialport,chardev=agent,name=mvm.agent"});
  if (fds.qmp >= 0) {
    argv.insert(argv.end(), {"-chardev", "socket,id=qmp,fd=" + fd(fds.qmp), "-mon",
                             "chardev=qmp,mode=control"});
  }
  if (fds.incoming >= 0) {
    argv.insert(argv.end(), {"-incoming", "fd:" + fd(fds.incoming)});
  }
  return argv;
}

ErrorOr<Vm> Start(const Spec& spec) {
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    return Error{std::string("cannot create a pipe: ") + std::strerror(errno)};
  }
  // A detached supervisor outlives its launcher by design, so it waits for this pipe: a launcher
  // killed between the fork and the process file must not leave a VM that nothing records.
  int go[2] = {-1, -1};
  if (!spec.process_file.empty() && ::pipe2(go, O_CLOEXEC) != 0) {
    int saved = errno;
    ::close(report[0]);
    ::close(report[1]);
    return Error{std::string("cannot create a pipe: ") + std::strerror(saved)};
  }
  auto close_go = [&] {
    for (int& fd : go) {
      if (fd >= 0) {
        ::close(fd);
        fd = -1;
      }
    }
  };
  pid_t launcher = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    int saved = errno;
    ::close(report[0]);
    ::close(report[1]);
    close_go();
    return Error{std::string("cannot fork the VM supervisor: ") + std::strerror(saved)};
  }
  if (pid == 0) {
    ::close(report[0]);
    if (go[1] >= 0) {
      ::close(go[1]);
    }
    Supervise(spec, report[1], go[0], launcher);
  }
  ::close(report[1]);
  if (!spec.process_file.empty()) {
    ::close(go[0]);
    go[0] = -1;
    auto recorded = os::WriteFileAtomically(
        spec.process_file,
        std::to_string(pid) + " " + std::to_string(backends::ProcessStartTime(pid)) + "\n",
        os::FileMode{0600, true});
    if (recorded) {
      char g = 'g';
      (void)!::write(go[1], &g, 1);
    }
    // Without the 'g' the supervisor reads EOF and ends, and the report pipe says so below.
    close_go();
    if (!recorded) {
      ::close(report[0]);
      while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
      return Error{"cannot record the VM supervisor in `" + spec.process_file.string() +
                   "`: " + recorded.error().message};
    }
  }
  std::string bytes;
  char buf[1024];
  ssize_t n;
  while ((n = ::read(report[0], buf, sizeof buf)) != 0) {
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      break;
    }
    bytes.append(buf, static_cast<size_t>(n));
  }
  ::close(report[0]);
  Vm vm;
  vm.supervisor_pid = pid;
  vm.supervisor_pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  int32_t qemu = -1;
  if (bytes.size() >= sizeof qemu) {
    std::memcpy(&qemu, bytes.data(), sizeof qemu);
  }
  if (qemu <= 0) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    if (vm.supervisor_pidfd >= 0) {
      ::close(vm.supervisor_pidfd);
    }
    return Error{bytes.size() > sizeof qemu ? bytes.substr(sizeof qemu)
                                            : std::string("the VM supervisor died at start")};
  }
  vm.qemu_pid = qemu;
  return vm;
}

std::string FailureTail(const Spec& spec, size_t lines) {
  std::string out;
  std::string console = Tail(ReadText(spec.console_log), lines);
  if (!console.empty()) {
    out += "serial console (last lines):\n" + console;
  }
  std::string qemu = Tail(ReadText(spec.qemu_log), lines);
  if (!qemu.empty()) {
    out += (out.empty() || out.back() == '\n' ? "" : "\n") + std::string("qemu:\n") + qemu;
  }
  return out.empty() ? "(the serial console is empty: the kernel printed nothing)" : out;
}

std::optional<double> GuestReadyBootMs(const fs::path& console_log) {
  std::string text = ReadText(console_log);
  const std::string key = "agent listening at boot+";
  size_t at = text.rfind(key);
  if (at == std::string::npos) {
    return std::nullopt;
  }
  return std::strtod(text.c_str() + at + key.size(), nullptr);
}

Acceleration ChooseAcceleration(const fs::path& cache_file,
                                const std::function<bool()>& probe_boot) {
  if (const char* forced = std::getenv("MVM_QEMU_ACCEL");
      forced != nullptr &&
      (std::string_view(forced) == "tcg" || std::string_view(forced) == "kvm")) {
    return {forced, std::string("forced by MVM_QEMU_ACCEL=") + forced};
  }
  int kvm = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) {
    return {"tcg", std::string("/dev/kvm cannot be opened (") + std::strerror(errno) +
                       "): TCG emulation, correct but slower"};
  }
  ::close(kvm);
  utsname host{};
  ::uname(&host);
  const std::string key = std::string(host.release) + " " + host.version;
  std::string cached = ReadText(cache_file);
  bool works = false;
  if (cached.rfind(key + "\n", 0) == 0) {
    works = cached.substr(key.size() + 1).rfind("kvm-boots", 0) == 0;
  } else {
    works = probe_boot();
    std::ofstream out(cache_file, std::ios::trunc);
    out << key << "\n" << (works ? "kvm-boots" : "kvm-fails") << "\n";
  }
  if (works) {
    return {"kvm", "/dev/kvm opens and a test boot under KVM succeeded"};
  }
  return {"tcg",
          "/dev/kvm opens but a test boot under KVM did not reach the agent (probe cached in " +
              cache_file.string() + "): TCG emulation, correct but slower"};
}

bool QemuAvailable() { return os::FindProgram(kQemu).has_value(); }

}  // namespace mvm::runtime::qemu_microvm
