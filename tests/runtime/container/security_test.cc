// The sandbox's walls: seccomp, capabilities, network, file descriptors; and that ordinary
// programs still work inside them.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <map>
#include <set>
#include <sstream>
#include <string>

#include "container_test_util.h"
#include "runtime/backends/container/container.h"
#include "tests/support/prerequisite.h"

namespace mvm::runtime::container::testing {
namespace {

using SecurityTest = SandboxFixture;

// `name=value` lines into a map.
std::map<std::string, std::string> Results(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (size_t eq = line.find('='); eq != std::string::npos) {
      out[line.substr(0, eq)] = line.substr(eq + 1);
    }
  }
  return out;
}

TEST_F(SecurityTest, SeccompRefusesTheDangerousCalls) {
  Outcome r = Run(MakeSpec("mvm-container-probe denied > /out/probe"));
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.status.exit_code, 0) << ReadFile(log());
  auto results = Results(Out("probe"));
  for (const char* call : {"mount",
                           "umount2",
                           "pivot_root",
                           "chroot",
                           "open_tree",
                           "fsopen",
                           "ptrace",
                           "process_vm_readv",
                           "unshare",
                           "unshare_net",
                           "setns",
                           "clone_newuser",
                           "bpf",
                           "perf_event_open",
                           "keyctl",
                           "add_key",
                           "io_uring_setup",
                           "userfaultfd",
                           "init_module",
                           "kexec_load",
                           "reboot",
                           "open_by_handle_at",
                           "swapon",
                           "clock_settime",
                           "personality_no_aslr"}) {
    EXPECT_EQ(results[call], "EPERM") << call;
  }
  // libc falls back to clone, whose flags the filter can see.
  EXPECT_EQ(results["clone3"], "ENOSYS");
}

TEST_F(SecurityTest, BusyboxMountAndUnshareFail) {
  Outcome r =
      Run(MakeSpec("mount -t tmpfs none /tmp 2>/out/mount; echo $? >> /out/mount; unshare -n true "
                   "2>/out/unshare; echo $? >> /out/unshare"));
  ASSERT_EQ(r.error, "");
  // busybox words EPERM its own way for mount.
  EXPECT_NE(Out("mount").find("permission denied"), std::string::npos) << Out("mount");
  EXPECT_EQ(Out("mount").substr(Out("mount").size() - 2), "1\n");
  EXPECT_NE(Out("unshare").find("Operation not permitted"), std::string::npos) << Out("unshare");
  EXPECT_EQ(Out("unshare").substr(Out("unshare").size() - 2), "1\n");
}

TEST_F(SecurityTest, OrdinaryProgramsWork) {
  Outcome r = Run(MakeSpec("mvm-container-probe allowed > /out/probe"));
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.status.exit_code, 0) << ReadFile(log());
  auto results = Results(Out("probe"));
  for (const char* what :
       {"thread", "fork", "pipe", "loopback_tcp", "signal", "personality_query", "pty"}) {
    EXPECT_EQ(results[what], "ok") << what;
  }
  EXPECT_EQ(results["interfaces"], "lo");
}

TEST_F(SecurityTest, NoCapabilitiesAndNoNewPrivileges) {
  Outcome r = Run(MakeSpec("grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status > /out/st"));
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(Out("st"),
            "CapInh:\t0000000000000000\n"
            "CapPrm:\t0000000000000000\n"
            "CapEff:\t0000000000000000\n"
            "CapBnd:\t0000000000000000\n"
            "CapAmb:\t0000000000000000\n"
            "NoNewPrivs:\t1\n"
            "Seccomp:\t2\n");
}

// An init that switches users (the agent, for an image's User) holds CAP_SETUID and CAP_SETGID and
// nothing else, in every set but the inheritable-only ones that carry them across its exec; still
// no new privileges and the same seccomp filter.
TEST_F(SecurityTest, AnInitThatSwitchesUsersHoldsOnlySetuidAndSetgid) {
  Spec spec = MakeSpec("grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status > /out/st");
  spec.init_switches_users = true;
  Outcome r = Run(spec);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(Out("st"),
            "CapInh:\t00000000000000c0\n"
            "CapPrm:\t00000000000000c0\n"
            "CapEff:\t00000000000000c0\n"
            "CapBnd:\t00000000000000c0\n"
            "CapAmb:\t00000000000000c0\n"
            "NoNewPrivs:\t1\n"
            "Seccomp:\t2\n");
}

TEST_F(SecurityTest, HostLoopbackIsUnreachable) {
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  int port = ntohs(addr.sin_port);

  Outcome r = Run(MakeSpec("mvm-container-probe connect " + std::to_string(port) +
                           " > /out/probe; cat /proc/net/dev | tail -n +3 | cut -d: -f1 | "
                           "tr -d ' ' > /out/dev"));
  ASSERT_EQ(r.error, "");
  // The sandbox's 127.0.0.1 is its own lo, where nothing listens.
  EXPECT_EQ(Results(Out("probe"))["connect"], "ECONNREFUSED");
  EXPECT_EQ(Out("dev"), "lo\n");
  // And the host's listener never saw a connection.
  int flags = fcntl(listener, F_GETFL);
  fcntl(listener, F_SETFL, flags | O_NONBLOCK);
  EXPECT_LT(accept(listener, nullptr, nullptr), 0);
  close(listener);
}

TEST_F(SecurityTest, OnlyStdioAndInheritedFdsReachPid1) {
  int pipe_fds[2];
  ASSERT_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);
  // Far from the low numbers, and close-on-exec like most fds: Start must clear that for it.
  int inherited = fcntl(pipe_fds[1], F_DUPFD_CLOEXEC, 100);
  ASSERT_GE(inherited, 100);
  int stray = open("/dev/null", O_RDONLY);  // not close-on-exec, and not passed
  ASSERT_GE(stray, 0);
  close(pipe_fds[1]);
  // The probe as PID 1 itself, so that it has exactly the fds Start passes on.
  Spec spec = MakeSpec("");
  spec.init = MVM_CONTAINER_PROBE;
  spec.init_args = {"fds", std::to_string(inherited)};
  spec.inherit_fds = {inherited};
  Outcome r = Run(spec);
  close(inherited);
  close(stray);
  ASSERT_EQ(r.error, "");
  char buf[64] = {};
  ASSERT_EQ(read(pipe_fds[0], buf, sizeof buf - 1), 8);
  EXPECT_STREQ(buf, "through\n");
  close(pipe_fds[0]);
  // stdio and the inherited one; the stray fd and Start's own control socket are gone.
  auto results = Results(ReadFile(log()));
  std::set<std::string> fds;
  std::istringstream list(results["fds"]);
  for (std::string fd; std::getline(list, fd, ',');) {
    fds.insert(fd);
  }
  EXPECT_EQ(fds, (std::set<std::string>{"0", "1", "2", std::to_string(inherited)}))
      << results["fds"] << " (stray " << stray << ")";
  EXPECT_EQ(results["write"], "ok");
}

TEST_F(SecurityTest, PythonRunsWithThreadsSocketsSubprocessesAndSignals) {
  if (!fs::exists("/usr/bin/python3")) {
    MVM_MISSING_PREREQUISITE() << "no /usr/bin/python3 on this host";
  }
  // The host's /usr, read-only, under the busybox rootfs; /lib and /lib64 as merged-/usr links.
  fs::create_symlink("usr/lib", rootfs() / "lib");
  fs::create_symlink("usr/lib64", rootfs() / "lib64");
  Spec spec = MakeSpec("/usr/bin/python3 -I -c \"$PY\" > /out/py 2>&1");
  spec.init_args = {"sh", "-c",
                    "PY='\n"
                    "import os, signal, socket, subprocess, threading\n"
                    "seen = []\n"
                    "t = threading.Thread(target=lambda: seen.append(\"thread\"))\n"
                    "t.start(); t.join()\n"
                    "server = socket.create_server((\"127.0.0.1\", 0))\n"
                    "client = socket.create_connection(server.getsockname())\n"
                    "conn, _ = server.accept(); client.sendall(b\"x\")\n"
                    "seen.append(\"socket\" if conn.recv(1) == b\"x\" else \"no socket\")\n"
                    "out = subprocess.run([\"/bin/busybox\", \"echo\", \"sub\"], "
                    "capture_output=True).stdout\n"
                    "seen.append(out.decode().strip())\n"
                    "signal.signal(signal.SIGUSR1, lambda *a: seen.append(\"signal\"))\n"
                    "os.kill(os.getpid(), signal.SIGUSR1)\n"
                    "print(\" \".join(seen))\n"
                    "'; " +
                        spec.init_args[2]};
  spec.mounts.push_back({Mount::Kind::kBind, "/usr", "/usr", true, 0});
  Outcome r = Run(spec);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(Out("py"), "thread socket sub signal\n");
}

}  // namespace
}  // namespace mvm::runtime::container::testing
