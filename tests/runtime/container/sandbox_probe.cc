// mvm-container-probe: a static program the container tests run inside sandboxes. It makes system
// calls directly and prints one `name=result` line each (result: "ok", or the errno name), so the
// tests see exactly what the seccomp filter, the capabilities and the namespaces allow.
//
//   mvm-container-probe denied          calls the filter must refuse
//   mvm-container-probe allowed         what ordinary programs need: threads, fork, pipes, lo, ...
//   mvm-container-probe connect PORT    a TCP connection to 127.0.0.1:PORT
//   mvm-container-probe fds FD          the open fds, and "through" written to FD
//   mvm-container-probe families        socket() of each address family a sandbox might try
//   mvm-container-probe setid DIR       every way to make a set-uid or set-gid file in DIR
//   mvm-container-probe inotify [hold]  inotify instances until one is refused; `hold` keeps them
//   mvm-container-probe pid1            what PID 1 (the agent) exposes to the workload

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <utility>

namespace {

void Print(const char* name, long rc) {
  std::printf("%s=%s\n", name, rc >= 0 ? "ok" : strerrorname_np(errno));
}

// Returns 0 when `body` ran fine in a forked child, -1 with errno ECHILD otherwise.
template <typename Body>
long InChild(Body body) {
  pid_t pid = fork();
  if (pid < 0) {
    return -1;
  }
  if (pid == 0) {
    _exit(body() ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    return 0;
  }
  errno = ECHILD;
  return -1;
}

void Denied() {
  Print("mount", mount("none", "/mnt", "tmpfs", 0, nullptr));
  Print("umount2", umount2("/proc", MNT_DETACH));
  Print("pivot_root", syscall(SYS_pivot_root, "/", "/"));
  Print("chroot", chroot("/"));
  // Needs no privilege at all without the filter (it is an O_PATH open).
  Print("open_tree", syscall(SYS_open_tree, AT_FDCWD, "/", 0));
  Print("fsopen", syscall(SYS_fsopen, "tmpfs", 0));
  Print("ptrace", ptrace(PTRACE_TRACEME, 0, nullptr, nullptr));
  char buf[8];
  iovec local{buf, sizeof buf};
  iovec remote{buf, sizeof buf};
  Print("process_vm_readv", process_vm_readv(getpid(), &local, 1, &remote, 1, 0));
  Print("unshare", unshare(CLONE_NEWUSER));
  Print("unshare_net", unshare(CLONE_NEWNET));
  int ns = open("/proc/self/ns/net", O_RDONLY);
  Print("setns", setns(ns, CLONE_NEWNET));
  long cloned = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, nullptr, nullptr, nullptr, 0);
  if (cloned == 0) {
    _exit(0);
  }
  Print("clone_newuser", cloned);
  clone_args args{};
  args.exit_signal = SIGCHLD;
  long child = syscall(SYS_clone3, &args, sizeof args);
  if (child == 0) {
    _exit(0);
  }
  Print("clone3", child);
  Print("bpf", syscall(SYS_bpf, 0, nullptr, 0));
  Print("perf_event_open", syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0));
  Print("keyctl", syscall(SYS_keyctl, 0, 0, 0, 0, 0));
  Print("add_key", syscall(SYS_add_key, "user", "mvm", "x", 1, -2));
  Print("io_uring_setup", syscall(SYS_io_uring_setup, 1, nullptr));
  Print("userfaultfd", syscall(SYS_userfaultfd, 0));
  Print("init_module", syscall(SYS_init_module, nullptr, 0, ""));
  Print("kexec_load", syscall(SYS_kexec_load, 0, 0, nullptr, 0));
  // A wrong magic number: EINVAL were the call to reach the kernel.
  Print("reboot", syscall(SYS_reboot, 0, 0, 0, nullptr));
  Print("open_by_handle_at", syscall(SYS_open_by_handle_at, -1, nullptr, 0));
  Print("swapon", syscall(SYS_swapon, "/nonexistent", 0));
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  Print("clock_settime", clock_settime(CLOCK_REALTIME, &now));
  Print("personality_no_aslr", personality(ADDR_NO_RANDOMIZE));
}

long LoopbackRoundTrip() {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listener, 1) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return -1;
  }
  int client = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return -1;
  }
  int server = accept(listener, nullptr, nullptr);
  char c = 'x';
  if (server < 0 || write(client, &c, 1) != 1 || read(server, &c, 1) != 1) {
    return -1;
  }
  return 0;
}

std::atomic<int> signals_seen{0};

void Allowed() {
  std::atomic<bool> ran{false};
  std::thread([&] { ran = true; }).join();
  Print("thread", ran ? 0 : -1);
  Print("fork", InChild([] { return true; }));
  int fds[2];
  Print("pipe", pipe(fds));
  Print("loopback_tcp", LoopbackRoundTrip());
  struct sigaction sa {};
  sa.sa_handler = [](int) { signals_seen++; };
  sigaction(SIGUSR1, &sa, nullptr);
  raise(SIGUSR1);
  Print("signal", signals_seen == 1 ? 0 : -1);
  Print("personality_query", personality(0xffffffff));
  // A pseudo-terminal, as `mvmctl exec -t` needs: /dev/ptmx -> pts/ptmx of the sandbox's devpts.
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  long pty = master < 0 || grantpt(master) != 0 || unlockpt(master) != 0 ? -1 : 0;
  if (pty == 0) {
    const char* name = ptsname(master);
    pty = name == nullptr ? -1 : open(name, O_RDWR | O_NOCTTY);
  }
  Print("pty", pty);
  // Every network interface by name: the namespace must hold only lo.
  std::string names;
  if (struct if_nameindex* list = if_nameindex()) {
    for (struct if_nameindex* i = list; i->if_index != 0; ++i) {
      names += (names.empty() ? "" : ",") + std::string(i->if_name);
    }
    if_freenameindex(list);
  }
  std::printf("interfaces=%s\n", names.c_str());
}

void Connect(int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  Print("connect", connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr));
}

void Fds(int write_fd) {
  std::string list;
  DIR* dir = opendir("/proc/self/fd");
  for (dirent* e = readdir(dir); e != nullptr; e = readdir(dir)) {
    if (e->d_name[0] != '.' && std::atoi(e->d_name) != dirfd(dir)) {
      list += (list.empty() ? "" : ",") + std::string(e->d_name);
    }
  }
  closedir(dir);
  std::printf("fds=%s\n", list.c_str());
  Print("write", write(write_fd, "through\n", 8));
}

void Families() {
  const std::pair<const char*, int> families[] = {
      {"unix", AF_UNIX},       {"inet", AF_INET},   {"inet6", AF_INET6},
      {"netlink", AF_NETLINK}, {"vsock", AF_VSOCK}, {"packet", AF_PACKET},
      {"alg", AF_ALG},         {"key", AF_KEY},     {"bluetooth", AF_BLUETOOTH},
      {"tipc", AF_TIPC},       {"xdp", AF_XDP}};
  for (auto [name, family] : families) {
    int fd = socket(family, family == AF_PACKET ? SOCK_RAW : SOCK_DGRAM, 0);
    if (fd < 0 && (family == AF_VSOCK || family == AF_UNIX || family == AF_INET)) {
      fd = socket(family, SOCK_STREAM, 0);  // vsock has no datagrams on every transport
    }
    Print(name, fd);
    if (fd >= 0) {
      close(fd);
    }
  }
  int sv[2];
  Print("socketpair-inet", socketpair(AF_INET, SOCK_STREAM, 0, sv));
  Print("netlink-audit", socket(AF_NETLINK, SOCK_RAW, 9 /* NETLINK_AUDIT */));
}

void SetId(const std::string& dir) {
  std::string file = dir + "/chmod";
  int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0755);
  close(fd);
  Print("chmod-4755", chmod(file.c_str(), 04755));
  Print("chmod-2755", chmod(file.c_str(), 02755));
  Print("fchmodat-6755", syscall(SYS_fchmodat, AT_FDCWD, file.c_str(), 06755));
  fd = open(file.c_str(), O_RDONLY);
  Print("fchmod-4755", fchmod(fd, 04755));
  close(fd);
  Print("open-creat-4755", open((dir + "/open").c_str(), O_WRONLY | O_CREAT | O_EXCL, 04755));
  Print("openat-creat-2755",
        openat(AT_FDCWD, (dir + "/openat").c_str(), O_WRONLY | O_CREAT | O_EXCL, 02755));
  Print("creat-4755", creat((dir + "/creat").c_str(), 04755));
  Print("mkdir-2755", mkdir((dir + "/sgid-dir").c_str(), 02755));
  Print("mknod-4755", mknod((dir + "/node").c_str(), S_IFREG | 04755, 0));
  struct {
    uint64_t flags, mode, resolve;
  } how{O_WRONLY | O_CREAT | O_EXCL, 04755, 0};
  Print("openat2-creat-4755",
        syscall(SYS_openat2, AT_FDCWD, (dir + "/openat2").c_str(), &how, sizeof how));
  // What ordinary programs do still works: plain modes, opening without creating.
  Print("chmod-0755", chmod(file.c_str(), 0755));
  Print("open-plain", open(file.c_str(), O_RDONLY));
  Print("mkdir-0755", mkdir((dir + "/plain-dir").c_str(), 0755));
}

void Inotify(bool hold) {
  int count = 0;
  while (count < 1000 && inotify_init1(IN_CLOEXEC) >= 0) {
    ++count;
  }
  std::printf("inotify-instances=%d (%s)\n", count, strerrorname_np(errno));
  std::fflush(stdout);
  if (hold) {
    close(1);
    close(2);
    pause();
  }
}

void Pid1() {
  char link[256];
  ssize_t n = readlink("/proc/1/fd/0", link, sizeof link - 1);
  Print("readlink-fd0", n);
  n = readlink("/proc/1/exe", link, sizeof link - 1);
  Print("readlink-exe", n);
  Print("open-mem-rw", open("/proc/1/mem", O_RDWR));
  Print("open-mem-ro", open("/proc/1/mem", O_RDONLY));
  Print("open-environ", open("/proc/1/environ", O_RDONLY));
  iovec local{link, 8};
  iovec remote{reinterpret_cast<void*>(0x400000), 8};
  Print("process-vm-readv", process_vm_readv(1, &local, 1, &remote, 1, 0));
  Print("kill-pid1", kill(1, SIGKILL) == 0 && kill(1, 0) != 0 ? -1 : 0);
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "denied") {
    Denied();
  } else if (mode == "allowed") {
    Allowed();
  } else if (mode == "connect" && argc > 2) {
    Connect(std::atoi(argv[2]));
  } else if (mode == "fds" && argc > 2) {
    Fds(std::atoi(argv[2]));
  } else if (mode == "families") {
    Families();
  } else if (mode == "setid" && argc > 2) {
    SetId(argv[2]);
  } else if (mode == "inotify") {
    Inotify(argc > 2 && std::string(argv[2]) == "hold");
  } else if (mode == "pid1") {
    Pid1();
  } else {
    std::fprintf(stderr,
                 "usage: mvm-container-probe denied|allowed|connect PORT|fds FD|families|setid "
                 "DIR|inotify [hold]|pid1\n");
    return 2;
  }
  return 0;
}
