// mvm-container-probe: a static program the container tests run inside sandboxes. It makes system
// calls directly and prints one `name=result` line each (result: "ok", or the errno name), so the
// tests see exactly what the seccomp filter, the capabilities and the namespaces allow.
//
//   mvm-container-probe denied          calls the filter must refuse
//   mvm-container-probe allowed         what ordinary programs need: threads, fork, pipes, lo, ...
//   mvm-container-probe connect PORT    a TCP connection to 127.0.0.1:PORT
//   mvm-container-probe fds FD          the open fds, and "through" written to FD

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
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
  } else {
    std::fprintf(stderr, "usage: mvm-container-probe denied|allowed|connect PORT|fds FD\n");
    return 2;
  }
  return 0;
}
