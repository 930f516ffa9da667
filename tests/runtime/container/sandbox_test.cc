// What a sandbox looks like from inside: identity, file system, limits.

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "container_test_util.h"
#include "runtime/backends/container/cgroups.h"
#include "runtime/backends/container/container.h"

namespace mvm::runtime::container::testing {
namespace {

using SandboxTest = SandboxFixture;

TEST_F(SandboxTest, Pid1IsInitWithTheSandboxNameAsHostname) {
  Spec spec = MakeSpec(
      "echo $$ > /out/pid; hostname > /out/hostname; cat /proc/1/cmdline | tr '\\0' ' ' > "
      "/out/cmdline; id -u > /out/uid; ls /sys 2>&1 | wc -l > /out/sys");
  Outcome r = Run(spec);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.status.exit_code, 0);
  EXPECT_EQ(r.status.signal, 0);
  EXPECT_EQ(Out("pid"), "1\n");
  EXPECT_EQ(Out("hostname"), spec.name + "\n");
  EXPECT_EQ(Out("cmdline").substr(0, 12), "busybox sh -");
  EXPECT_EQ(Out("uid"), "0\n");
  // No /sys: the rootfs has no such directory and nothing creates it.
  EXPECT_EQ(Out("sys"), "1\n");
}

TEST_F(SandboxTest, ExitCodePassesThrough) {
  Outcome r = Run(MakeSpec("exit 42"));
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.status.exit_code, 42);
  EXPECT_EQ(r.status.signal, 0);
}

TEST_F(SandboxTest, RootIsAnUnprivilegedHostUid) {
  Spec spec = MakeSpec("touch /out/ready; exec sleep 1000");
  auto sandbox = StartLogged(spec, log());
  ASSERT_TRUE(sandbox.ok()) << sandbox.error().message;
  ASSERT_TRUE(WaitForFile(out() / "ready"));
  std::string status = ReadFile("/proc/" + std::to_string(sandbox->pid) + "/status");
  EXPECT_NE(status.find("Uid:\t100000\t100000\t100000\t100000\n"), std::string::npos) << status;
  EXPECT_NE(status.find("Gid:\t100000\t100000\t100000\t100000\n"), std::string::npos) << status;
  ASSERT_TRUE(Kill(*sandbox, SIGKILL).ok());
  auto exited = Wait(*sandbox, 30s);
  ASSERT_TRUE(exited.ok()) << exited.error().message;
  EXPECT_EQ(exited->signal, SIGKILL);
  close(sandbox->pidfd);
}

TEST_F(SandboxTest, RootfsIsReadOnlyAndUnchanged) {
  auto before = Snapshot(rootfs());
  Outcome r = Run(MakeSpec(
      "touch /new 2>/dev/null && echo wrote > /out/root; rm /bin/cat 2>/dev/null && echo rm > "
      "/out/root; mkdir /proc/x 2>/dev/null; ls -ln /bin/busybox > /out/owner; echo done >> "
      "/out/root"));
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(Out("root"), "done\n");
  // Idmapped: the host's root-owned files belong to the sandbox's root.
  EXPECT_NE(Out("owner").find(" 0 "), std::string::npos) << Out("owner");
  EXPECT_EQ(Snapshot(rootfs()), before);
}

TEST_F(SandboxTest, TmpIsWritableAndSized) {
  Spec spec = MakeSpec(
      "echo hi > /tmp/x && cat /tmp/x > /out/tmp; stat -c %a /tmp > /out/mode; "
      "dd if=/dev/zero of=/tmp/a bs=1M count=4 2>/dev/null && echo 4ok >> /out/tmp; "
      "dd if=/dev/zero of=/tmp/b bs=1M count=16 2>/dev/null || echo full >> /out/tmp");
  spec.tmp_size_mb = 8;
  Outcome r = Run(spec);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(Out("tmp"), "hi\n4ok\nfull\n");
  EXPECT_EQ(Out("mode"), "1777\n");
}

TEST_F(SandboxTest, MissingMountTargetsAreCreated) {
  fs::path hello = dir() / "hello.py";
  WriteFile(hello, "print('hello')\n");
  fs::create_directories(dir() / "data");
  Spec spec = MakeSpec(
      "cat /app/hello.py > /out/hello; echo s > /scratch/s && cat /scratch/s > /out/scratch; "
      "echo d > /data/nested/dir/written; df -k /scratch | tail -1 > /out/df");
  spec.mounts.push_back({Mount::Kind::kBind, hello, "/app/hello.py", true, 0});
  spec.mounts.push_back({Mount::Kind::kTmpfs, {}, "/scratch", false, 3});
  spec.mounts.push_back({Mount::Kind::kBind, dir() / "data", "/data/nested/dir", false, 0});
  auto before = Snapshot(rootfs());
  Outcome r = Run(spec);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(Out("hello"), "print('hello')\n");
  EXPECT_EQ(Out("scratch"), "s\n");
  EXPECT_EQ(ReadFile(dir() / "data" / "written"), "d\n");
  // 3 MiB
  EXPECT_NE(Out("df").find(" 3072 "), std::string::npos) << Out("df");
  EXPECT_EQ(Snapshot(rootfs()), before);
}

TEST_F(SandboxTest, ReadOnlyBindIsNotWritableAndReadWriteBindWritesToTheHost) {
  fs::create_directories(dir() / "ro");
  fs::create_directories(dir() / "rw");
  WriteFile(dir() / "ro" / "file", "original\n");
  chmod((dir() / "ro" / "file").c_str(), 0600);
  Spec spec = MakeSpec(
      "cat /ro/file > /out/read; echo changed > /ro/file 2>/dev/null || echo refused > "
      "/out/ro; touch /ro/new 2>/dev/null || echo refused >> /out/ro; echo new > /rw/file; "
      "mkdir /rw/sub");
  spec.mounts.push_back({Mount::Kind::kBind, dir() / "ro", "/ro", true, 0});
  spec.mounts.push_back({Mount::Kind::kBind, dir() / "rw", "/rw", false, 0});
  Outcome r = Run(spec);
  ASSERT_EQ(r.error, "");
  // 0600 root-owned on the host, readable by the sandbox's root through the idmapped mount.
  EXPECT_EQ(Out("read"), "original\n");
  EXPECT_EQ(Out("ro"), "refused\nrefused\n");
  EXPECT_EQ(ReadFile(dir() / "ro" / "file"), "original\n");
  EXPECT_FALSE(fs::exists(dir() / "ro" / "new"));
  EXPECT_EQ(ReadFile(dir() / "rw" / "file"), "new\n");
  // What the sandbox's root creates belongs to host root, not to uid 100000.
  struct stat st {};
  ASSERT_EQ(stat((dir() / "rw" / "sub").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_gid, 0u);
}

TEST_F(SandboxTest, Pid1ReadsNothingFromTheCallersStdinAndItsInitIsNotMounted) {
  // Start is called with a pipe the test still holds as stdin: PID 1 must not inherit it.
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  int saved = dup(0);
  dup2(fds[0], 0);
  Spec spec = MakeSpec(
      "readlink /proc/self/fd/0 > /out/stdin; grep -c busybox /proc/self/mountinfo > /out/init;"
      "ls /.mvm 2>/dev/null | wc -l >> /out/init");
  Outcome r = Run(spec);
  dup2(saved, 0);
  close(saved);
  close(fds[0]);
  close(fds[1]);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(Out("stdin"), "/dev/null\n");
  EXPECT_EQ(Out("init"), "0\n0\n");
}

TEST_F(SandboxTest, DevHasTheBasicNodesOnly) {
  Outcome r = Run(
      MakeSpec("ls /dev | tr '\\n' ' ' > /out/dev; echo x > /dev/null && head -c 4 /dev/urandom "
               "| wc -c > /out/urandom; head -c 3 /dev/zero | wc -c >> /out/urandom; "
               "echo y > /dev/full 2>/dev/null || echo full >> /out/urandom"));
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(Out("dev"), "fd full null ptmx pts random shm stderr stdin stdout tty urandom zero ");
  EXPECT_EQ(Out("urandom"), "4\n3\nfull\n");
}

TEST_F(SandboxTest, DevTakesNothingFromTheSandboxAndItsNodesAreTheHosts) {
  // The /dev the launcher makes (MakeDev in container.cc) is read-only to the sandbox's root: no
  // new entry, none removed, no node's times changed. Its nodes are the host's devices, with the
  // host's modes.
  Outcome r = Run(MakeSpec(
      "echo x > /dev/new 2>/dev/null && echo create >> /out/done; "
      "mkdir /dev/dir 2>/dev/null && echo mkdir >> /out/done; "
      "rm -f /dev/zero 2>/dev/null; test -c /dev/zero || echo rm >> /out/done; "
      "touch /dev/null 2>/dev/null && echo touch >> /out/done; "
      "touch /out/done; "
      "stat -c '%n %t:%T %a' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty "
      "> /out/nodes; ls /dev | tr '\\n' ' ' > /out/dev"));
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(Out("done"), "");
  std::string nodes;
  for (const char* node : {"null", "zero", "full", "random", "urandom", "tty"}) {
    const std::string path = std::string("/dev/") + node;
    struct stat st {};
    ASSERT_EQ(stat(path.c_str(), &st), 0) << path;
    char line[128];
    std::snprintf(line, sizeof line, "%s %x:%x %o\n", path.c_str(), major(st.st_rdev),
                  minor(st.st_rdev), st.st_mode & 07777);
    nodes += line;
  }
  EXPECT_EQ(Out("nodes"), nodes);
  EXPECT_EQ(Out("dev"), "fd full null ptmx pts random shm stderr stdin stdout tty urandom zero ");
}

TEST_F(SandboxTest, MemoryLimitOomKills) {
  Spec spec = MakeSpec("dd if=/dev/zero of=/dev/null bs=64M count=1; echo $? > /out/dd");
  spec.limits.memory_mb = 16;
  auto started = StartLogged(spec, log());
  ASSERT_TRUE(started.ok()) << started.error().message;
  auto status = Wait(*started, 60s);
  close(started->pidfd);
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(Out("dd"), "137\n");  // 128 + SIGKILL
  auto kills = OomKills(spec.name);
  ASSERT_TRUE(kills.ok()) << kills.error().message;
  EXPECT_GT(*kills, 0u);
  ASSERT_TRUE(RemoveCgroups(spec.name).ok());
  EXPECT_FALSE(OomKills(spec.name).ok());
}

TEST_F(SandboxTest, PidsLimitStopsAForkBomb) {
  // The bomb runs in a subshell (a failed fork makes ash exit); PID 1 then uses builtins and exec
  // only, which need no new pid.
  Spec spec =
      MakeSpec("(bomb() { bomb | bomb & }; bomb) 2>/dev/null; echo > /out/ready; exec sleep 1000");
  spec.limits.pids_max = 16;
  auto sandbox = StartLogged(spec, log());
  ASSERT_TRUE(sandbox.ok()) << sandbox.error().message;
  ASSERT_TRUE(WaitForFile(out() / "ready"));
  auto roots = HostCgroupRoots();
  ASSERT_TRUE(roots.ok());
  fs::path pids = SandboxCgroups(*roots, spec.name).Dirs()[roots->v2() ? 0 : 1];
  EXPECT_EQ(ReadFile(pids / "pids.max"), "16\n");
  // The bomb reaches the limit and stays under it.
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (ReadFile(pids / "pids.events") == "max 0\n" &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_NE(ReadFile(pids / "pids.events"), "max 0\n");
  EXPECT_LE(std::stoi(ReadFile(pids / "pids.current")), 16);
  // Killing PID 1 takes the whole pid namespace, bomb included, with it.
  ASSERT_TRUE(Kill(*sandbox, SIGKILL).ok());
  auto status = Wait(*sandbox, 30s);
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(status->signal, SIGKILL);
  close(sandbox->pidfd);
  ASSERT_TRUE(RemoveCgroups(spec.name).ok());
  EXPECT_FALSE(fs::exists(pids));
}

TEST_F(SandboxTest, LimitsAreWrittenToTheCgroups) {
  Spec spec = MakeSpec("cat /proc/self/cgroup > /out/cgroup; touch /out/ready; exec sleep 1000");
  spec.limits = {.cpu = 2, .memory_mb = 96, .pids_max = 40};
  auto sandbox = StartLogged(spec, log());
  ASSERT_TRUE(sandbox.ok()) << sandbox.error().message;
  ASSERT_TRUE(WaitForFile(out() / "ready"));
  auto roots = HostCgroupRoots();
  ASSERT_TRUE(roots.ok());
  std::vector<fs::path> dirs = sandbox->cgroup_dirs;
  EXPECT_EQ(dirs, SandboxCgroups(*roots, spec.name).Dirs());
  std::string procs = std::to_string(sandbox->pid) + "\n";
  if (roots->v2()) {
    EXPECT_EQ(ReadFile(dirs[0] / "cpu.max"), "200000 100000\n");
    EXPECT_EQ(ReadFile(dirs[0] / "memory.max"), "100663296\n");
    EXPECT_EQ(ReadFile(dirs[0] / "pids.max"), "40\n");
  } else {
    EXPECT_EQ(ReadFile(dirs[2] / "cpu.cfs_quota_us"), "200000\n");
    EXPECT_EQ(ReadFile(dirs[2] / "cpu.cfs_period_us"), "100000\n");
    EXPECT_EQ(ReadFile(dirs[0] / "memory.limit_in_bytes"), "100663296\n");
    EXPECT_EQ(ReadFile(dirs[1] / "pids.max"), "40\n");
  }
  for (const fs::path& dir : dirs) {
    // PID 1 and whatever it started (cat, sleep) are all accounted.
    EXPECT_NE(ReadFile(dir / "cgroup.procs").find(procs), std::string::npos) << dir;
  }
  // The cgroup namespace hides the host's hierarchy: the sandbox's cgroup is its root.
  EXPECT_NE(Out("cgroup").find(roots->v2() ? "0::/\n" : ":memory:/\n"), std::string::npos)
      << Out("cgroup");
  ASSERT_TRUE(Kill(*sandbox, SIGKILL).ok());
  ASSERT_TRUE(Wait(*sandbox, 30s).ok());
  close(sandbox->pidfd);
}

}  // namespace
}  // namespace mvm::runtime::container::testing
