// cgroup layout detection and the per-sandbox cgroup files: v2 against a plain directory tree,
// v1 against this host's real hierarchies.

#include "runtime/backends/container/cgroups.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "container_test_util.h"
#include "tests/support/prerequisite.h"

namespace mvm::runtime::container::testing {
namespace {

constexpr const char* kHybridMountinfo =
    "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

TEST(CgroupRootsTest, Hybrid) {
  auto roots = ParseCgroupRoots(kHybridMountinfo);
  ASSERT_TRUE(roots.ok()) << roots.error().message;
  EXPECT_EQ(roots->mode, "hybrid");
  EXPECT_FALSE(roots->v2());
  EXPECT_EQ(roots->memory, "/sys/fs/cgroup/memory");
  EXPECT_EQ(roots->pids, "/sys/fs/cgroup/pids");
  EXPECT_EQ(roots->cpu, "/sys/fs/cgroup/cpu,cpuacct");  // cpuacct alone would not match
}

TEST(CgroupRootsTest, PureV1) {
  std::string text = kHybridMountinfo;
  text.erase(text.find("41 31"));
  auto roots = ParseCgroupRoots(text);
  ASSERT_TRUE(roots.ok()) << roots.error().message;
  EXPECT_EQ(roots->mode, "v1");
}

TEST(CgroupRootsTest, V2) {
  auto roots = ParseCgroupRoots(
      "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
      "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
      "rw,nsdelegate,memory_recursiveprot\n");
  ASSERT_TRUE(roots.ok()) << roots.error().message;
  EXPECT_EQ(roots->mode, "v2");
  EXPECT_TRUE(roots->v2());
  EXPECT_EQ(roots->unified, "/sys/fs/cgroup");
}

TEST(CgroupRootsTest, IncompleteV1IsAnError) {
  std::string text = kHybridMountinfo;
  text.erase(text.find("39 31"), text.find("40 31") - text.find("39 31"));  // no pids
  auto roots = ParseCgroupRoots(text);
  ASSERT_FALSE(roots.ok());
  EXPECT_NE(roots.error().message.find("memory, pids and cpu"), std::string::npos);
}

TEST(CgroupRootsTest, ThisHost) {
  auto roots = HostCgroupRoots();
  ASSERT_TRUE(roots.ok()) << roots.error().message;
  EXPECT_FALSE(roots->mode.empty());
}

CgroupRoots V2Roots(const fs::path& unified) {
  CgroupRoots roots;
  roots.mode = "v2";
  roots.unified = unified;
  return roots;
}

TEST(SandboxCgroupsTest, V2WritesLimitsIntoAPlainTree) {
  TempDir dir;
  SandboxCgroups cgroups(V2Roots(dir.path()), "box");
  fs::path leaf = dir.path() / "mvm" / "mvm-box";
  ASSERT_EQ(cgroups.Dirs(), std::vector<fs::path>{leaf});

  ASSERT_TRUE(cgroups.Create({.cpu = 2, .memory_mb = 256, .pids_max = 64}).ok());
  EXPECT_EQ(ReadFile(dir.path() / "cgroup.subtree_control"), "+cpu +memory +pids");
  EXPECT_EQ(ReadFile(dir.path() / "mvm" / "cgroup.subtree_control"), "+cpu +memory +pids");
  EXPECT_EQ(ReadFile(leaf / "memory.max"), "268435456");
  EXPECT_EQ(ReadFile(leaf / "pids.max"), "64");
  EXPECT_EQ(ReadFile(leaf / "cpu.max"), "200000 100000");
  // Optional files are written only where the kernel has them (swap accounting).
  EXPECT_FALSE(fs::exists(leaf / "memory.swap.max"));

  auto again = cgroups.Create({});
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("already exists"), std::string::npos);

  ASSERT_TRUE(cgroups.AddProcess(4321).ok());
  EXPECT_EQ(ReadFile(leaf / "cgroup.procs"), "4321");

  WriteFile(leaf / "memory.events", "low 0\nhigh 0\nmax 7\noom 3\noom_kill 2\n");
  auto kills = cgroups.OomKills();
  ASSERT_TRUE(kills.ok()) << kills.error().message;
  EXPECT_EQ(*kills, 2u);
}

TEST(SandboxCgroupsTest, ZeroLimitsAreRefusedBeforeAnythingIsCreated) {
  TempDir dir;
  SandboxCgroups cgroups(V2Roots(dir.path()), "box");
  auto created = cgroups.Create({.cpu = 0});
  ASSERT_FALSE(created.ok());
  EXPECT_NE(created.error().message.find("at least 1"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir.path() / "mvm"));
}

TEST(SandboxCgroupsTest, RemovingWhatDoesNotExistIsFine) {
  TempDir dir;
  EXPECT_TRUE(SandboxCgroups(V2Roots(dir.path()), "box").Remove().ok());
}

TEST(SandboxCgroupsTest, V1OnThisHost) {
  auto roots = HostCgroupRoots();
  ASSERT_TRUE(roots.ok()) << roots.error().message;
  if (roots->v2() || geteuid() != 0) {
    MVM_MISSING_PREREQUISITE() << "needs root on a cgroup v1 or hybrid host";
  }
  std::string name = "cg" + std::to_string(getpid());
  SandboxCgroups cgroups(*roots, name);
  ASSERT_TRUE(cgroups.Create({.cpu = 3, .memory_mb = 64, .pids_max = 32}).ok());
  std::vector<fs::path> dirs = cgroups.Dirs();
  ASSERT_EQ(dirs.size(), 3u);
  EXPECT_EQ(dirs[0], roots->memory / "mvm" / ("mvm-" + name));
  EXPECT_EQ(ReadFile(dirs[0] / "memory.limit_in_bytes"), "67108864\n");
  if (fs::exists(dirs[0] / "memory.memsw.limit_in_bytes")) {
    EXPECT_EQ(ReadFile(dirs[0] / "memory.memsw.limit_in_bytes"), "67108864\n");
  }
  EXPECT_EQ(ReadFile(dirs[1] / "pids.max"), "32\n");
  EXPECT_EQ(ReadFile(dirs[2] / "cpu.cfs_quota_us"), "300000\n");
  EXPECT_EQ(ReadFile(dirs[2] / "cpu.cfs_period_us"), "100000\n");

  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    pause();
    _exit(0);
  }
  ASSERT_TRUE(cgroups.AddProcess(child).ok());
  std::string own = ReadFile("/proc/" + std::to_string(child) + "/cgroup");
  EXPECT_NE(own.find(":memory:/mvm/mvm-" + name + "\n"), std::string::npos) << own;
  EXPECT_NE(own.find(":pids:/mvm/mvm-" + name + "\n"), std::string::npos) << own;
  auto kills = cgroups.OomKills();
  ASSERT_TRUE(kills.ok()) << kills.error().message;
  EXPECT_EQ(*kills, 0u);

  // Remove kills what is inside before it removes the directories.
  ASSERT_TRUE(cgroups.Remove().ok());
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  for (const fs::path& dir : dirs) {
    EXPECT_FALSE(fs::exists(dir)) << dir;
  }
  EXPECT_TRUE(cgroups.Remove().ok());
}

}  // namespace
}  // namespace mvm::runtime::container::testing
