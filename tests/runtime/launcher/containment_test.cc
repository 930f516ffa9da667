// The containment attacks of a hostile review, replayed against the real mvmctl on the container
// backend. Each test is the attack itself: it succeeded against the runtime before the fix it
// names, and must fail now. A static probe (tests/runtime/container/sandbox_probe.cc) makes the
// system calls a hostile workload would; it reaches the sandbox through a read-only volume.

#include <fcntl.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/mvmctl.h"

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

using mvm::testing::Describe;
using mvm::testing::Mvmctl;
using mvm::testing::Result;
using mvm::testing::SharedState;

std::string ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

/// The project the attacks run from: the probe in a read-only volume, a read-write volume owned
/// by host root, and one idle workload on the busybox template.
fs::path Project() { return fs::path(MVM_BINARY_DIR) / "containment-project"; }

constexpr char kDeclarations[] = R"(from mvm import Volume, entrypoint, workload


@workload(
    "attacker",
    image="template:busybox",
    isolation="container",
    memory_mb=256,
    timeout_seconds=60,
    volumes=[Volume.local("./probe", "/probe", mode="ro"), Volume.local("./rw", "/rw", mode="rw")],
)
class Attacker:
    @entrypoint(command=["sleep", "600"])
    def main(self): ...
)";

class Containment : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fs::remove_all(Project());
    fs::create_directories(Project() / "probe");
    fs::create_directories(Project() / "rw");
    fs::copy_file(MVM_CONTAINER_PROBE, Project() / "probe" / "probe");
    std::ofstream(Project() / "attacker.py") << kDeclarations;
  }

  /// Starts a detached sandbox `name` of the attacker workload.
  static void Up(const std::string& name) {
    Mvmctl({"destroy", name});
    Result up = Mvmctl({"up", (Project() / "attacker.py").string(), "--name", name, "--detach"});
    ASSERT_EQ(up.status, 0) << Describe(up);
  }
  static Result Exec(const std::string& name, std::vector<std::string> command) {
    std::vector<std::string> args = {"exec", name, "--"};
    args.insert(args.end(), command.begin(), command.end());
    return Mvmctl(args);
  }
  static pid_t Pid1(const std::string& name) {
    const nlohmann::json record = nlohmann::json::parse(
        ReadText(SharedState() / "sandboxes" / name / "sandbox.json"), nullptr, false);
    return record.is_object() ? record.value("pid", -1) : -1;
  }
};

// Attack 1: `destroy ../../victim` removed a host directory as root, `destroy ""` the whole
// sandboxes directory; `stop ../x` made a lock file outside the state directory.
TEST_F(Containment, NamesThatLeaveTheStateDirectoryTouchNothing) {
  fs::path state = fs::path(MVM_BINARY_DIR) / "containment-names-state";
  fs::remove_all(state);
  fs::create_directories(state / "victim");
  std::ofstream(state / "victim" / "keep") << "keep";
  fs::create_directories(state / "sandboxes" / "canary");
  for (std::string name : {"../victim", "../../containment-names-state/victim", "", ".", "x/..",
                           "..", "/tmp", "canary/.."}) {
    for (const char* verb : {"destroy", "stop"}) {
      Result r = Mvmctl({verb, name}, "", state);
      EXPECT_EQ(r.status, 2) << verb << " `" << name << "`\n" << Describe(r);
      EXPECT_THAT(r.err, HasSubstr("not a valid sandbox name")) << name;
    }
  }
  EXPECT_EQ(ReadText(state / "victim" / "keep"), "keep");
  EXPECT_TRUE(fs::is_directory(state / "sandboxes" / "canary"));
  for (const auto& entry : fs::recursive_directory_iterator(state)) {
    EXPECT_NE(entry.path().extension(), ".lock") << entry.path();
  }
  // A name the grammar allows but that names no sandbox is an ordinary error, and still leaves no
  // lock file behind.
  Result missing = Mvmctl({"destroy", "no-such-sandbox"}, "", state);
  EXPECT_EQ(missing.status, 3) << Describe(missing);
  fs::remove_all(state);
}

TEST_F(Containment, DestroyLeavesNoLockFile) {
  const std::string name = "contain-lock";
  Up(name);
  ASSERT_EQ(Mvmctl({"destroy", name}).status, 0);
  EXPECT_FALSE(fs::exists(SharedState() / "sandboxes" / (name + ".lock")));
  EXPECT_FALSE(fs::exists(SharedState() / "sandboxes" / name));
}

// Attacks 2 and 3: /run/mvm inside was the host's sandbox directory; replacing agent.sock there
// with a link sent `exec`, `fs` and `stop` of this sandbox to another one (or to any host socket).
TEST_F(Containment, TheAgentSocketIsOutOfTheWorkloadsReach) {
  const std::string a = "contain-sock-a";
  const std::string b = "contain-sock-b";
  Up(a);
  Up(b);
  Result look = Exec(a, {"sh", "-c", "ls -a /run/mvm; ls /run; echo x > /run/mvm/agent.sock"});
  EXPECT_NE(look.status, 0) << Describe(look);
  EXPECT_THAT(look.out + look.err, Not(HasSubstr("agent.sock\n")));

  // The host side never follows a link in the socket's place, whoever put it there.
  fs::path sock_a = SharedState() / "sandboxes" / a / "agent.sock";
  fs::path sock_b = SharedState() / "sandboxes" / b / "agent.sock";
  fs::rename(sock_a, sock_a.string() + ".real");
  fs::create_symlink(sock_b, sock_a);
  Result hijack = Exec(a, {"hostname"});
  EXPECT_NE(hijack.status, 0) << Describe(hijack);
  EXPECT_THAT(hijack.out, Not(HasSubstr(b)));
  EXPECT_THAT(hijack.err, HasSubstr("not a socket"));
  fs::remove(sock_a);
  fs::rename(sock_a.string() + ".real", sock_a);
  Result own = Exec(a, {"hostname"});
  EXPECT_EQ(own.status, 0) << Describe(own);
  EXPECT_EQ(own.out, a + "\n");
  Mvmctl({"destroy", a, b});
}

// Attack 4: the workload opened /proc/1/mem read-write and patched the agent, which still had the
// operator's terminal as its stdin.
TEST_F(Containment, Pid1CannotBeAttachedAndHoldsNoTerminal) {
  const std::string name = "contain-pid1";
  Up(name);
  Result r = Exec(name, {"/probe/probe", "pid1"});
  EXPECT_EQ(r.status, 0) << Describe(r);
  for (const char* line : {"readlink-fd0=EACCES", "readlink-exe=EACCES", "open-mem-rw=EACCES",
                           "open-mem-ro=EACCES", "open-environ=EACCES", "process-vm-readv=EPERM"}) {
    EXPECT_THAT(r.out, HasSubstr(line));
  }
  pid_t pid = Pid1(name);
  ASSERT_GT(pid, 0);
  EXPECT_EQ(fs::read_symlink("/proc/" + std::to_string(pid) + "/fd/0"), "/dev/null");
  EXPECT_EQ(Exec(name, {"true"}).status, 0) << "PID 1 must have survived the attempts";
  Mvmctl({"destroy", name});
}

// Attack 5: in a read-write volume the sandbox's root owns what host root owns, and a `chmod
// 6755` of a copied shell made a set-uid-root binary on the host.
TEST_F(Containment, NoSetIdFileCanBeMadeInAReadWriteVolume) {
  const std::string name = "contain-setid";
  Up(name);
  Result copy = Exec(name, {"sh", "-c", "cp /bin/busybox /rw/x && chmod 6755 /rw/x"});
  EXPECT_NE(copy.status, 0) << Describe(copy);
  Result r = Exec(name, {"/probe/probe", "setid", "/rw"});
  EXPECT_EQ(r.status, 0) << Describe(r);
  for (const char* line :
       {"chmod-4755=EPERM", "chmod-2755=EPERM", "fchmodat-6755=EPERM", "fchmod-4755=EPERM",
        "open-creat-4755=EPERM", "openat-creat-2755=EPERM", "creat-4755=EPERM", "mkdir-2755=EPERM",
        "mknod-4755=EPERM", "openat2-creat-4755=ENOSYS", "chmod-0755=ok", "open-plain=ok",
        "mkdir-0755=ok"}) {
    EXPECT_THAT(r.out, HasSubstr(line));
  }
  for (const auto& entry : fs::recursive_directory_iterator(Project() / "rw")) {
    struct stat st {};
    ASSERT_EQ(::lstat(entry.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & (S_ISUID | S_ISGID), 0u) << entry.path();
  }
  Mvmctl({"destroy", name});
}

// Attack 9: AF_VSOCK shares the host's port space; every family beyond what programs need is
// kernel attack surface.
TEST_F(Containment, OnlyTheNeededSocketFamiliesOpen) {
  const std::string name = "contain-families";
  Up(name);
  Result r = Exec(name, {"/probe/probe", "families"});
  EXPECT_EQ(r.status, 0) << Describe(r);
  for (const char* line :
       {"unix=ok", "inet=ok", "inet6=ok", "netlink=ok", "vsock=EPERM", "packet=EPERM", "alg=EPERM",
        "key=EPERM", "bluetooth=EPERM", "tipc=EPERM", "xdp=EPERM", "socketpair-inet=EPERM",
        "netlink-audit=EPERM"}) {
    EXPECT_THAT(r.out, HasSubstr(line));
  }
  Mvmctl({"destroy", name});
}

// Attack 7: a sandbox took all 128 of host root's inotify instances (its user namespace's count
// is charged to its creator), and root's own processes then failed.
TEST_F(Containment, ASandboxCannotTakeHostRootsInotifyInstances) {
  const std::string name = "contain-inotify";
  Up(name);
  Result count = Exec(name, {"/probe/probe", "inotify"});
  EXPECT_EQ(count.status, 0) << Describe(count);
  EXPECT_THAT(count.out, HasSubstr("inotify-instances=16 (EMFILE)"));
  // The prober prints its count once it holds every instance it could take; the shell waits for
  // that line (bounded), so the host's attempt below comes while they are held.
  Result hold = Exec(name, {"sh", "-c",
                            "/probe/probe inotify hold </dev/null >/tmp/held 2>&1 & i=0; "
                            "until grep -q inotify-instances /tmp/held || [ $i -ge 500 ]; do "
                            "sleep 0.02; i=$((i+1)); done; cat /tmp/held"});
  EXPECT_EQ(hold.status, 0) << Describe(hold);
  EXPECT_THAT(hold.out, HasSubstr("inotify-instances=16 (EMFILE)")) << Describe(hold);
  int fd = ::inotify_init1(IN_CLOEXEC);
  EXPECT_GE(fd, 0) << "host root must still get an inotify instance: " << std::strerror(errno);
  ::close(fd);
  Mvmctl({"destroy", name});
}

// Attack 11: mountinfo named the state directory, the agent binary and the SDK; the host's
// kernel command line, boot id, interrupts, load and memory were readable.
TEST_F(Containment, HostPathsAndHostWideProcFilesAreNotVisible) {
  const std::string name = "contain-proc";
  Up(name);
  Result mounts = Exec(name, {"cat", "/proc/self/mountinfo"});
  EXPECT_EQ(mounts.status, 0) << Describe(mounts);
  EXPECT_THAT(mounts.out, Not(HasSubstr(SharedState().string())));
  EXPECT_THAT(mounts.out, Not(HasSubstr("mvm-agent")));
  EXPECT_THAT(mounts.out, Not(HasSubstr("/run/mvm")));
  Result proc = Exec(name, {"sh", "-c",
                            "cat /proc/cmdline; echo ---; cat /proc/sys/kernel/random/boot_id; "
                            "echo ---; head -1 /proc/meminfo; cat /proc/loadavg; "
                            "wc -c < /proc/interrupts; cat /proc/version"});
  EXPECT_EQ(proc.status, 0) << Describe(proc);
  std::string host_cmdline = ReadText("/proc/cmdline");
  std::string host_boot_id = ReadText("/proc/sys/kernel/random/boot_id");
  ASSERT_FALSE(host_cmdline.empty());
  EXPECT_THAT(proc.out, Not(HasSubstr(host_cmdline)));
  EXPECT_THAT(proc.out, Not(HasSubstr(host_boot_id)));
  EXPECT_THAT(proc.out, HasSubstr("MemTotal:       262144 kB\n"));
  EXPECT_THAT(proc.out, HasSubstr("0.00 0.00 0.00 1/1 1\n"));
  EXPECT_THAT(proc.out, HasSubstr("\n0\nLinux version"));
  EXPECT_THAT(proc.out, HasSubstr("(mvm sandbox)"));
  Mvmctl({"destroy", name});
}

// Attack 6: /run/mvm was the host's disk (300 MiB in 0.3 s past every quota), and the agent's
// log grew without end from malformed frames.
TEST_F(Containment, NothingTheSandboxDoesGrowsAHostFileWithoutBound) {
  const std::string name = "contain-fill";
  Up(name);
  Result fill = Exec(name, {"dd", "if=/dev/zero", "of=/run/mvm/fill", "bs=1M", "count=8"});
  EXPECT_NE(fill.status, 0) << Describe(fill);
  Result listed = Exec(name, {"ls", "-A", "/run/mvm"});
  EXPECT_EQ(listed.out, "") << Describe(listed);
  // Only the host talks to the agent now; make it talk as much as a broken client can.
  fs::path socket = SharedState() / "sandboxes" / name / "agent.sock";
  fs::path log = SharedState() / "sandboxes" / name / "agent.log";
  for (int i = 0; i < 60000 && (i % 1000 != 0 || fs::file_size(log) < (1u << 20)); ++i) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, socket.c_str(), sizeof address.sun_path - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
      const char huge[4] = {'\x7f', '\x7f', '\x7f', '\x7f'};
      (void)!::send(fd, huge, sizeof huge, MSG_NOSIGNAL);
    }
    ::close(fd);
  }
  EXPECT_EQ(Exec(name, {"true"}).status, 0);
  uintmax_t size = fs::file_size(log);
  EXPECT_LE(size, (uintmax_t{1} << 20) + 256);
  EXPECT_GT(size, uintmax_t{1} << 19) << "the flood should have spent most of the budget";
  EXPECT_NE(ReadText(log).find("further messages are dropped"), std::string::npos);
  for (const auto& entry : fs::directory_iterator(SharedState() / "sandboxes" / name)) {
    std::string file = entry.path().filename().string();
    // `app`: the checked copies of the plan's project files, as large as the plan says and no more.
    EXPECT_TRUE(file == "agent.log" || file == "agent.sock" || file == "sandbox.json" ||
                file == "plan.dsse" || file == "start.json" || file == "app")
        << file;
  }
  Mvmctl({"destroy", name});
}

// Attack 8: a workload that kept the agent from answering made exec, fs, stop and destroy hang
// forever. A stopped agent is the worst case of that: it accepts nothing and answers nothing.
TEST_F(Containment, AnAgentThatStopsAnsweringHangsNoCommand) {
  const std::string name = "contain-hang";
  Up(name);
  pid_t pid = Pid1(name);
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  auto start = std::chrono::steady_clock::now();
  Result exec = Exec(name, {"true"});
  EXPECT_NE(exec.status, 0) << Describe(exec);
  Result read = Mvmctl({"fs", name, "read", "/etc/hostname"});
  EXPECT_NE(read.status, 0) << Describe(read);
  Result stop = Mvmctl({"stop", name});
  EXPECT_EQ(stop.status, 0) << Describe(stop);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(40));
  // Killed: gone, or a zombie until whoever adopted the detached sandbox reaps it.
  std::string stat = ReadText("/proc/" + std::to_string(pid) + "/stat");
  EXPECT_TRUE(stat.empty() || stat.substr(stat.rfind(')') + 2, 1) == "Z") << stat;
  Mvmctl({"destroy", name});
}

}  // namespace
