// The agent as init of a microVM. Everything here runs in the guest, as PID 1, before any workload
// exists; a failure is printed to the serial console (the host shows its tail) and ends the VM,
// because a half-prepared guest must not serve requests.

#include "runtime/agent/init.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ir/support/os/errno_text.h"
#include "runtime/agent/mux.h"
#include "runtime/agent/server.h"

namespace mvm::runtime::agent {
namespace {

constexpr char kAgentSocket[] = "/run/mvm/agent.sock";
constexpr char kPortName[] = "mvm.agent";
constexpr auto kDeviceWait = std::chrono::seconds(20);

long long BootMillis() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

void Say(const std::string& line) {
  std::fprintf(stderr, "mvm-init: %s\n", line.c_str());
  std::fflush(stderr);
}

[[noreturn]] void PowerOff() {
  ::sync();
  // The host runs qemu with -no-reboot and the kernel with reboot=t, so a reboot ends the VM on
  // every machine type, with or without ACPI power management.
  ::reboot(RB_AUTOBOOT);
  for (;;) {
    ::pause();
  }
}

[[noreturn]] void Fail(const std::string& what) {
  Say("FAILED: " + what);
  PowerOff();
}

void MustMount(const char* source, const std::string& target, const char* type, unsigned long flags,
               const std::string& data) {
  ::mkdir(target.c_str(), 0755);
  if (::mount(source, target.c_str(), type, flags, data.empty() ? nullptr : data.c_str()) != 0) {
    Fail(std::string("mount ") + (type != nullptr ? type : "bind") + " " + source + " on " +
         target + ": " + os::ErrnoText(errno));
  }
}

void MakeDirs(const std::string& path) {
  for (size_t at = 1; at != std::string::npos; at = path.find('/', at + 1)) {
    ::mkdir(path.substr(0, at).c_str(), 0755);
  }
  ::mkdir(path.c_str(), 0755);
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteText(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0 || ::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    Fail("write `" + text + "` to " + path + ": " + os::ErrnoText(errno));
  }
  ::close(fd);
}

std::map<std::string, std::string> KernelParameters() {
  std::map<std::string, std::string> out;
  std::istringstream words(ReadText("/proc/cmdline"));
  std::string word;
  while (words >> word) {
    if (word.rfind("mvm.", 0) == 0) {
      size_t eq = word.find('=');
      out[word.substr(4, eq == std::string::npos ? std::string::npos : eq - 4)] =
          eq == std::string::npos ? "" : word.substr(eq + 1);
    }
  }
  return out;
}

void LoadModules(const std::string& list) {
  std::istringstream order(ReadText(list));
  std::string name;
  while (std::getline(order, name)) {
    if (name.empty()) {
      continue;
    }
    std::string path = "/lib/modules/" + name;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      Fail("open module " + path + ": " + os::ErrnoText(errno));
    }
    if (::syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST) {
      Fail("load module " + name + ": " + os::ErrnoText(errno));
    }
    ::close(fd);
  }
}

void WaitFor(const std::string& path) {
  auto deadline = std::chrono::steady_clock::now() + kDeviceWait;
  struct stat st;
  while (::stat(path.c_str(), &st) != 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      Fail(path + " did not appear within " + std::to_string(kDeviceWait.count()) +
           " s (is the virtio device attached?)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

/// The /dev node of the virtio-serial port named kPortName (devtmpfs names it vportNpM; without
/// udev there is no /dev/virtio-ports/ symlink).
std::string FindPort() {
  auto deadline = std::chrono::steady_clock::now() + kDeviceWait;
  for (;;) {
    if (DIR* dir = ::opendir("/sys/class/virtio-ports")) {
      while (dirent* e = ::readdir(dir)) {
        std::string entry = e->d_name;
        if (entry[0] == '.') {
          continue;
        }
        std::string name = ReadText("/sys/class/virtio-ports/" + entry + "/name");
        while (!name.empty() && (name.back() == '\n' || name.back() == '\0')) {
          name.pop_back();
        }
        if (name == kPortName) {
          ::closedir(dir);
          WaitFor("/dev/" + entry);
          return "/dev/" + entry;
        }
      }
      ::closedir(dir);
    }
    if (std::chrono::steady_clock::now() > deadline) {
      Fail(std::string("no virtio-serial port named ") + kPortName + " appeared");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void LoopbackUp() {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq request{};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  if (fd < 0 || ::ioctl(fd, SIOCGIFFLAGS, &request) != 0) {
    Fail("loopback: " + os::ErrnoText(errno));
  }
  request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
  if (::ioctl(fd, SIOCSIFFLAGS, &request) != 0) {
    Fail("loopback up: " + os::ErrnoText(errno));
  }
  ::close(fd);
}

/// The guest's side of its link to mvm's egress proxy and resolver
/// (docs/architecture/microvm-egress.md), from `mvm.net=ADDRESS/PREFIX,GATEWAY`: the virtio-net
/// driver is loaded, eth0 gets ADDRESS, and the default route goes via GATEWAY, the host side of
/// the link, where the resolver answers on port 53 and every TCP connection is taken to the proxy.
/// None of it is a boundary: the workload is root and may change all of it, which only makes its
/// own connections fail, because nothing but the proxy and the resolver answers on the host side.
struct GuestNet {
  in_addr address{};
  in_addr netmask{};
  in_addr gateway{};
  std::string gateway_text;
};

GuestNet ParseNet(const std::string& value) {
  const size_t slash = value.find('/');
  const size_t comma = value.find(',');
  GuestNet net;
  int prefix = -1;
  if (slash != std::string::npos && comma != std::string::npos && slash < comma) {
    prefix = std::atoi(value.substr(slash + 1, comma - slash - 1).c_str());
    net.gateway_text = value.substr(comma + 1);
  }
  if (prefix < 1 || prefix > 32 ||
      ::inet_pton(AF_INET, value.substr(0, slash).c_str(), &net.address) != 1 ||
      ::inet_pton(AF_INET, net.gateway_text.c_str(), &net.gateway) != 1) {
    Fail("malformed mvm.net=" + value + " (want ADDRESS/PREFIX,GATEWAY)");
  }
  net.netmask.s_addr = htonl(prefix == 32 ? 0xffffffffu : ~(0xffffffffu >> prefix));
  return net;
}

void NetworkUp(const GuestNet& net) {
  LoadModules("/lib/modules/load-order-net");
  WaitFor("/sys/class/net/eth0");
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    Fail("socket: " + os::ErrnoText(errno));
  }
  ifreq request{};
  std::strncpy(request.ifr_name, "eth0", IFNAMSIZ - 1);
  auto* sin = reinterpret_cast<sockaddr_in*>(&request.ifr_addr);
  sin->sin_family = AF_INET;
  sin->sin_addr = net.address;
  if (::ioctl(fd, SIOCSIFADDR, &request) != 0) {
    Fail("eth0 address: " + os::ErrnoText(errno));
  }
  sin->sin_addr = net.netmask;
  if (::ioctl(fd, SIOCSIFNETMASK, &request) != 0) {
    Fail("eth0 netmask: " + os::ErrnoText(errno));
  }
  if (::ioctl(fd, SIOCGIFFLAGS, &request) != 0) {
    Fail("eth0 flags: " + os::ErrnoText(errno));
  }
  request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
  if (::ioctl(fd, SIOCSIFFLAGS, &request) != 0) {
    Fail("eth0 up: " + os::ErrnoText(errno));
  }
  rtentry route{};
  reinterpret_cast<sockaddr_in*>(&route.rt_dst)->sin_family = AF_INET;
  reinterpret_cast<sockaddr_in*>(&route.rt_genmask)->sin_family = AF_INET;
  auto* gateway = reinterpret_cast<sockaddr_in*>(&route.rt_gateway);
  gateway->sin_family = AF_INET;
  gateway->sin_addr = net.gateway;
  route.rt_flags = RTF_UP | RTF_GATEWAY;
  if (::ioctl(fd, SIOCADDRT, &route) != 0) {
    Fail("default route via " + net.gateway_text + ": " + os::ErrnoText(errno));
  }
  ::close(fd);
}

/// The root's /etc/resolv.conf names the host side of the link, written into the overlay's memory
/// layer before the root is made read-only (a template's may be a symlink; it is replaced).
void WriteResolvConf(const std::string& root, const GuestNet& net) {
  MakeDirs(root + "/etc");
  const std::string path = root + "/etc/resolv.conf";
  ::unlink(path.c_str());
  const std::string text =
      "# mvm: the sandbox's resolver (answers only names its plan allows)\nnameserver " +
      net.gateway_text + "\noptions timeout:5 attempts:2\n";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0 || ::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    Fail("write " + path + ": " + os::ErrnoText(errno));
  }
  ::close(fd);
}

/// The virtio-fs device registers its tag when the virtiofs module binds it, which may trail the
/// module's load; until then mount says EINVAL ("tag not found"), so that is retried.
void MountVirtiofs(const std::string& tag, const std::string& target) {
  auto deadline = std::chrono::steady_clock::now() + kDeviceWait;
  while (::mount(tag.c_str(), target.c_str(), "virtiofs", MS_NOSUID | MS_NODEV, nullptr) != 0) {
    if (errno != EINVAL && errno != ENOENT && errno != ENODEV) {
      Fail("mount virtiofs " + tag + " on " + target + ": " + os::ErrnoText(errno));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      Fail("mount virtiofs " + tag + " on " + target + ": " + os::ErrnoText(errno) +
           " (is the vhost-user-fs device attached?)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

/// Applies the extras image's manifest: one mount per line, tab-separated:
///   bind<TAB>SOURCE-IN-IMAGE<TAB>TARGET   (read-only)
///   tmpfs<TAB>SIZE-MIB<TAB>TARGET
///   virtiofs<TAB>TAG<TAB>TARGET           (read-write; the host's virtiofsd serves TAG)
///   watch<TAB>-<TAB>TARGET                (a volume mounted above: the agent counts the
///                                          workload's operations on it, volume_ops.h)
/// Returns the targets to watch, as the agent sees them after the switch to the new root.
std::vector<std::string> ApplyManifest(const std::string& root, const std::string& extras) {
  std::vector<std::string> watch;
  std::istringstream lines(ReadText(extras + "/mvm-mounts"));
  std::string line;
  while (std::getline(lines, line)) {
    std::vector<std::string> f;
    std::istringstream fields(line);
    std::string field;
    while (std::getline(fields, field, '\t')) {
      f.push_back(field);
    }
    if (f.size() != 3 || f[2].empty() || f[2][0] != '/') {
      Fail("malformed line in the mount manifest: `" + line + "`");
    }
    std::string target = root + f[2];
    if (f[0] == "watch") {
      watch.push_back(f[2]);
    } else if (f[0] == "bind") {
      std::string source = extras + "/" + f[1];
      struct stat st;
      if (::stat(source.c_str(), &st) != 0) {
        Fail("manifest source " + source + ": " + os::ErrnoText(errno));
      }
      if (S_ISDIR(st.st_mode)) {
        MakeDirs(target);
      } else {
        MakeDirs(target.substr(0, target.rfind('/')));
        ::close(::open(target.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
      }
      MustMount(source.c_str(), target, nullptr, MS_BIND, "");
      MustMount(nullptr, target, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV,
                "");
    } else if (f[0] == "virtiofs") {
      MakeDirs(target);
      MountVirtiofs(f[1], target);
    } else if (f[0] == "tmpfs") {
      MakeDirs(target);
      MustMount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "size=" + f[1] + "m,mode=1777");
    } else {
      Fail("unknown mount kind `" + f[0] + "` in the manifest");
    }
  }
  return watch;
}

/// The workload's /dev, as the container backend's: null, zero, full, random, urandom, tty, a
/// private devpts, /dev/shm and the fd links, read-only. The devtmpfs it replaces has every device
/// the kernel knows (mem, kmem, port, kmsg, console, the disks and the agent's own port), and the
/// workload is root: no node there is kept from it by permissions.
void MakeWorkloadDev(const std::string& dev, const std::string& shm_mb) {
  MustMount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=0755");
  struct Node {
    const char* name;
    unsigned major;
    unsigned minor;
  };
  for (const Node& n : {Node{"null", 1, 3}, Node{"zero", 1, 5}, Node{"full", 1, 7},
                        Node{"random", 1, 8}, Node{"urandom", 1, 9}, Node{"tty", 5, 0}}) {
    const std::string path = dev + "/" + n.name;
    // chmod as well: mknod's mode is cut by the umask.
    if (::mknod(path.c_str(), S_IFCHR | 0666, makedev(n.major, n.minor)) != 0 ||
        ::chmod(path.c_str(), 0666) != 0) {
      Fail("make " + path + ": " + os::ErrnoText(errno));
    }
  }
  MustMount("devpts", dev + "/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666");
  MustMount("tmpfs", dev + "/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=" + shm_mb + "m,mode=1777");
  for (auto [link, target] :
       {std::pair{"ptmx", "pts/ptmx"}, std::pair{"fd", "/proc/self/fd"},
        std::pair{"stdin", "/proc/self/fd/0"}, std::pair{"stdout", "/proc/self/fd/1"},
        std::pair{"stderr", "/proc/self/fd/2"}}) {
    if (::symlink(target, (dev + "/" + link).c_str()) != 0) {
      Fail("symlink " + dev + "/" + link + ": " + os::ErrnoText(errno));
    }
  }
  // Read-only, so that a file the workload writes at, say, /dev/kmsg is not taken for the device
  // by another program; pts and shm are mounts of their own and stay writable.
  if (::mount(nullptr, dev.c_str(), nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC,
              nullptr) != 0) {
    Fail("remount " + dev + " read-only: " + os::ErrnoText(errno));
  }
}

void SetUpCgroup(const std::map<std::string, std::string>& params) {
  MustMount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, "");
  WriteText("/sys/fs/cgroup/cgroup.subtree_control", "+memory +pids");
  ::mkdir("/sys/fs/cgroup/workload", 0755);
  if (auto it = params.find("mem"); it != params.end()) {
    WriteText("/sys/fs/cgroup/workload/memory.max",
              std::to_string(std::atoll(it->second.c_str())) + "M");
  }
  if (auto it = params.find("pids"); it != params.end()) {
    WriteText("/sys/fs/cgroup/workload/pids.max", std::to_string(std::atoll(it->second.c_str())));
  }
  // The agent and so every workload it starts live under the limits; the kernel never OOM-kills
  // init, so only workloads are chosen when the limit is reached.
  WriteText("/sys/fs/cgroup/workload/cgroup.procs", "1");
}

/// The agent's virtio-serial port, opened while the initramfs's devtmpfs can still name it: the
/// workload's /dev (MakeWorkloadDev) has no such node.
int OpenPort() {
  std::string port = FindPort();
  int fd = ::open(port.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    Fail("open " + port + ": " + os::ErrnoText(errno));
  }
  return fd;
}

pid_t StartMux(int port_fd) {
  pid_t pid = ::fork();
  if (pid != 0) {
    return pid;
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (port_fd != 3 && ::dup3(port_fd, 3, O_CLOEXEC) != 3) {
    Say("keep the port open: " + os::ErrnoText(errno));
    ::_exit(1);
  }
  ::close_range(4, ~0U, 0);
  MuxOptions options;
  options.trunk_fd = 3;
  options.connect_path = kAgentSocket;
  options.log = [](const std::string& line) { Say(line); };
  auto done = RunMux(options);
  if (!done) {
    Say(done.error().message);
  }
  ::_exit(done ? 0 : 1);
}

}  // namespace

void RunAsVmInit() {
  const long long started = BootMillis();
  MustMount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "");
  MustMount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "");
  MustMount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "");
  auto params = KernelParameters();
  if (params.count("probe") != 0) {
    // The host's accelerator probe: reaching init at all is what it asks.
    Say("probe ok");
    PowerOff();
  }
  const long long modules_started = BootMillis();
  LoadModules("/lib/modules/load-order");
  const long long modules_ms = BootMillis() - modules_started;

  // The root image is shared by every VM of its template and attached read-only; an overlay with a
  // private memory upper layer lets mount points be made, then is itself made read-only.
  WaitFor("/dev/vda");
  MustMount("/dev/vda", "/lower", "ext4", MS_RDONLY | MS_NOATIME, "noload");
  MustMount("tmpfs", "/overlay", "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=0755");
  ::mkdir("/overlay/upper", 0755);
  ::mkdir("/overlay/work", 0755);
  MustMount("overlay", "/newroot", "overlay", 0,
            "lowerdir=/lower,upperdir=/overlay/upper,workdir=/overlay/work");
  const std::string root = "/newroot";
  for (const char* dir : {"/dev", "/proc", "/sys", "/tmp", "/run", "/.mvm"}) {
    MakeDirs(root + dir);
  }
  long long net_ms = -1;
  if (auto it = params.find("net"); it != params.end()) {
    const long long net_started = BootMillis();
    const GuestNet net = ParseNet(it->second);
    NetworkUp(net);
    WriteResolvConf(root, net);
    net_ms = BootMillis() - net_started;
  }
  std::vector<std::string> watch_volumes;
  if (params.count("extras") != 0) {
    WaitFor("/dev/vdb");
    MustMount("/dev/vdb", root + "/.mvm/extras", "ext4",
              MS_RDONLY | MS_NOATIME | MS_NOSUID | MS_NODEV, "noload");
    watch_volumes = ApplyManifest(root, root + "/.mvm/extras");
  }
  if (::mount(nullptr, root.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr) != 0) {
    Fail("remount the root read-only: " + os::ErrnoText(errno));
  }
  std::string tmp_mb = params.count("tmp") != 0 ? params["tmp"] : "64";
  MustMount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
            "size=" + tmp_mb + "m,mode=1777");
  MustMount("tmpfs", root + "/run", "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=0755");
  MakeWorkloadDev(root + "/dev", tmp_mb);
  MustMount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "");
  MustMount("sysfs", root + "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "");

  const int port_fd = OpenPort();
  // switch_root: the new root replaces the initramfs. Its files stay in memory (a few MiB): this
  // agent's binary is one of them and the rest is not worth a recursive delete at every boot.
  if (::chdir(root.c_str()) != 0 || ::mount(".", "/", nullptr, MS_MOVE, nullptr) != 0 ||
      ::chroot(".") != 0 || ::chdir("/") != 0) {
    Fail("switch to the new root: " + os::ErrnoText(errno));
  }
  ::mkdir("/run/mvm", 0700);
  SetUpCgroup(params);
  if (auto it = params.find("name"); it != params.end()) {
    ::sethostname(it->second.data(), it->second.size());
  }
  LoopbackUp();

  AgentOptions options;
  options.socket_path = kAgentSocket;
  options.files_root = "/";
  options.watch_volumes = std::move(watch_volumes);
  pid_t mux = -1;
  options.on_listening = [&] {
    mux = StartMux(port_fd);
    ::close(port_fd);
    Say("ready: init started at boot+" + std::to_string(started) + " ms, modules loaded in " +
        std::to_string(modules_ms) + " ms, " +
        (net_ms >= 0 ? "network up in " + std::to_string(net_ms) + " ms, " : std::string()) +
        "agent listening at boot+" + std::to_string(BootMillis()) + " ms");
  };
  auto status = RunAgent(options);
  if (!status) {
    Fail(status.error().message);
  }
  if (mux > 0) {
    ::kill(mux, SIGKILL);
  }
  Say("shutting down");
  PowerOff();
}

}  // namespace mvm::runtime::agent
