// cgroup layout detection and the per-sandbox cgroup files: v2 against a plain directory tree,
// v1 against this host's real hierarchies; the freezer (pause) against both, and against a real v2
// hierarchy where the host has one (on a hybrid host, the unified mount without controllers).

#include "runtime/backends/container/cgroups.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

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
    "42 31 0:39 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

TEST(CgroupRootsTest, Hybrid) {
  auto roots = ParseCgroupRoots(kHybridMountinfo);
  ASSERT_TRUE(roots.ok()) << roots.error().message;
  EXPECT_EQ(roots->mode, "hybrid");
  EXPECT_FALSE(roots->v2());
  EXPECT_EQ(roots->memory, "/sys/fs/cgroup/memory");
  EXPECT_EQ(roots->pids, "/sys/fs/cgroup/pids");
  EXPECT_EQ(roots->cpu, "/sys/fs/cgroup/cpu,cpuacct");  // cpuacct alone would not match
  EXPECT_EQ(roots->freezer, "/sys/fs/cgroup/freezer");
}

TEST(CgroupRootsTest, V1WithoutAFreezerStillRunsSandboxes) {
  std::string text = kHybridMountinfo;
  text.erase(text.find("42 31"));
  auto roots = ParseCgroupRoots(text);
  ASSERT_TRUE(roots.ok()) << roots.error().message;
  EXPECT_TRUE(roots->freezer.empty());
  SandboxCgroups cgroups(*roots, "box");
  EXPECT_EQ(cgroups.Dirs().size(), 3u);
  auto paused = cgroups.SetFrozen(true);
  ASSERT_FALSE(paused.ok());
  EXPECT_NE(paused.error().message.find("no cgroup freezer"), std::string::npos);
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

  // v2 has no `tasks`: a process joins through cgroup.procs (which the kernel makes; here the
  // test).
  WriteFile(leaf / "cgroup.procs", "");
  auto join = cgroups.OpenJoinFiles();
  ASSERT_TRUE(join.ok()) << join.error().message;
  ASSERT_EQ(join->size(), 1u);
  ASSERT_EQ(write((*join)[0].get(), "0", 1), 1);
  EXPECT_EQ(ReadFile(leaf / "cgroup.procs"), "0");

  WriteFile(leaf / "memory.events", "low 0\nhigh 0\nmax 7\noom 3\noom_kill 2\n");
  auto kills = cgroups.OomKills();
  ASSERT_TRUE(kills.ok()) << kills.error().message;
  EXPECT_EQ(*kills, 2u);
}

// The kernel's side of a v2 freeze, played by a thread: `cgroup.events` follows `cgroup.freeze`
// after a moment, as it does while the kernel stops each task.
class FakeV2Kernel {
 public:
  explicit FakeV2Kernel(fs::path leaf) : leaf_(std::move(leaf)) {
    WriteFile(leaf_ / "cgroup.events", "populated 1\nfrozen 0\n");
    thread_ = std::thread([this] {
      while (!stop_) {
        std::string asked = ReadFile(leaf_ / "cgroup.freeze");
        if (!asked.empty()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
          // Replaced whole, as the kernel's file always reads whole.
          WriteFile(leaf_ / "cgroup.events.new",
                    "populated 1\nfrozen " + asked.substr(0, 1) + "\n");
          fs::rename(leaf_ / "cgroup.events.new", leaf_ / "cgroup.events");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    });
  }
  ~FakeV2Kernel() {
    stop_ = true;
    thread_.join();
  }

 private:
  fs::path leaf_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(SandboxCgroupsTest, V2FreezeWritesCgroupFreezeAndWaitsForTheEvent) {
  TempDir dir;
  SandboxCgroups cgroups(V2Roots(dir.path()), "box");
  ASSERT_TRUE(cgroups.Create({.cpu = 1, .memory_mb = 64, .pids_max = 8}).ok());
  const fs::path leaf = dir.path() / "mvm" / "mvm-box";
  EXPECT_EQ(cgroups.FreezerDir(), leaf);
  // No cgroup.freeze: a directory that is not a v2 cgroup (or a kernel before 5.2).
  auto early = cgroups.SetFrozen(true);
  ASSERT_FALSE(early.ok());
  EXPECT_NE(early.error().message.find("has no freezer"), std::string::npos);

  WriteFile(leaf / "cgroup.freeze", "0");
  {
    FakeV2Kernel kernel(leaf);
    auto frozen = cgroups.SetFrozen(true, std::chrono::seconds(5));
    ASSERT_TRUE(frozen.ok()) << frozen.error().message;
    EXPECT_EQ(ReadFile(leaf / "cgroup.freeze"), "1");
    EXPECT_NE(ReadFile(leaf / "cgroup.events").find("frozen 1"), std::string::npos);
    auto thawed = cgroups.SetFrozen(false, std::chrono::seconds(5));
    ASSERT_TRUE(thawed.ok()) << thawed.error().message;
    EXPECT_EQ(ReadFile(leaf / "cgroup.freeze"), "0");
    EXPECT_NE(ReadFile(leaf / "cgroup.events").find("frozen 0"), std::string::npos);
  }
  // A kernel that never reports the freeze done (a task stuck in the kernel): bounded, and undone.
  WriteFile(leaf / "cgroup.events", "populated 1\nfrozen 0\n");
  const auto start = std::chrono::steady_clock::now();
  auto stuck = cgroups.SetFrozen(true, std::chrono::milliseconds(100));
  ASSERT_FALSE(stuck.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_NE(stuck.error().message.find("was not frozen within 100 ms"), std::string::npos)
      << stuck.error().message;
  EXPECT_EQ(ReadFile(leaf / "cgroup.freeze"), "0");
  // Remove thaws before it kills. (A plain directory with files in it cannot be removed as a
  // cgroup directory can; V1OnThisHost removes a real frozen one.)
  WriteFile(leaf / "cgroup.freeze", "1");
  (void)cgroups.Remove();
  EXPECT_EQ(ReadFile(leaf / "cgroup.freeze"), "0");
}

// A child counting in shared memory, for the freezer tests on real hierarchies.
struct Counter {
  volatile uint64_t* value = nullptr;
  pid_t pid = -1;

  Counter() {
    void* page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    value = static_cast<volatile uint64_t*>(page);
    *value = 0;
    pid = fork();
    if (pid == 0) {
      while (true) {
        *value = *value + 1;
      }
    }
  }
  ~Counter() {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    munmap(const_cast<uint64_t*>(value), 4096);
  }
  // Whether the count moves within `wait`.
  bool Moves(std::chrono::milliseconds wait = std::chrono::milliseconds(100)) const {
    const uint64_t before = *value;
    std::this_thread::sleep_for(wait);
    return *value != before;
  }
};

// Freezes `counter` through the cgroup `dir` (its process already in it) and thaws it again.
void ExpectFreezeStopsAndThawContinues(const fs::path& dir, bool v2, const Counter& counter) {
  ASSERT_TRUE(counter.Moves());
  auto frozen = SetCgroupFrozen(dir, v2, true);
  ASSERT_TRUE(frozen.ok()) << frozen.error().message;
  EXPECT_FALSE(counter.Moves()) << "a frozen process ran";
  auto thawed = SetCgroupFrozen(dir, v2, false);
  ASSERT_TRUE(thawed.ok()) << thawed.error().message;
  EXPECT_TRUE(counter.Moves()) << "a thawed process did not run on";
}

TEST(SetCgroupFrozenTest, RealV2Hierarchy) {
  auto mounts = ReadFile("/proc/self/mountinfo");
  fs::path unified;
  for (const char* candidate : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}) {
    if (fs::exists(fs::path(candidate) / "cgroup.subtree_control") &&
        mounts.find(std::string(" ") + candidate + " ") != std::string::npos &&
        mounts.find(" - cgroup2 ") != std::string::npos) {
      unified = candidate;
    }
  }
  if (unified.empty() || geteuid() != 0) {
    MVM_MISSING_PREREQUISITE() << "needs root and a cgroup2 mount";
  }
  const fs::path dir = unified / ("mvm-freeze-test-" + std::to_string(getpid()));
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0) << dir;
  {
    Counter counter;
    ASSERT_GT(counter.pid, 0);
    WriteFile(dir / "cgroup.procs", std::to_string(counter.pid));
    ExpectFreezeStopsAndThawContinues(dir, /*v2=*/true, counter);
  }
  // The counter is gone; its cgroup can go.
  for (int i = 0; i < 500 && rmdir(dir.c_str()) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE(fs::exists(dir));
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

TEST(SetCgroupFrozenTest, RealV1Freezer) {
  auto roots = HostCgroupRoots();
  ASSERT_TRUE(roots.ok()) << roots.error().message;
  if (roots->v2() || roots->freezer.empty() || geteuid() != 0) {
    MVM_MISSING_PREREQUISITE() << "needs root and a cgroup v1 freezer hierarchy";
  }
  const fs::path dir = roots->freezer / ("mvm-freeze-test-" + std::to_string(getpid()));
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0) << dir;
  {
    Counter counter;
    ASSERT_GT(counter.pid, 0);
    WriteFile(dir / "cgroup.procs", std::to_string(counter.pid));
    ExpectFreezeStopsAndThawContinues(dir, /*v2=*/false, counter);
  }
  for (int i = 0; i < 500 && rmdir(dir.c_str()) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE(fs::exists(dir));
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
  ASSERT_EQ(dirs.size(), roots->freezer.empty() ? 3u : 4u);
  EXPECT_EQ(dirs[0], roots->memory / "mvm" / ("mvm-" + name));
  EXPECT_EQ(ReadFile(dirs[0] / "memory.limit_in_bytes"), "67108864\n");
  if (fs::exists(dirs[0] / "memory.memsw.limit_in_bytes")) {
    EXPECT_EQ(ReadFile(dirs[0] / "memory.memsw.limit_in_bytes"), "67108864\n");
  }
  EXPECT_EQ(ReadFile(dirs[1] / "pids.max"), "32\n");
  EXPECT_EQ(ReadFile(dirs[2] / "cpu.cfs_quota_us"), "300000\n");
  EXPECT_EQ(ReadFile(dirs[2] / "cpu.cfs_period_us"), "100000\n");

  // The child joins itself through v1's `tasks`, which moves one thread: being single-threaded,
  // it moves as a whole.
  auto join = cgroups.OpenJoinFiles();
  ASSERT_TRUE(join.ok()) << join.error().message;
  ASSERT_EQ(join->size(), dirs.size());
  int joined[2];
  ASSERT_EQ(pipe2(joined, O_CLOEXEC), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    for (const auto& fd : *join) {
      if (write(fd.get(), "0", 1) != 1) {
        _exit(1);
      }
    }
    (void)!write(joined[1], "j", 1);
    pause();
    _exit(0);
  }
  close(joined[1]);
  char byte = 0;
  ASSERT_EQ(read(joined[0], &byte, 1), 1) << "the child could not join its cgroups";
  close(joined[0]);
  std::string own = ReadFile("/proc/" + std::to_string(child) + "/cgroup");
  EXPECT_NE(own.find(":memory:/mvm/mvm-" + name + "\n"), std::string::npos) << own;
  EXPECT_NE(own.find(":pids:/mvm/mvm-" + name + "\n"), std::string::npos) << own;
  auto kills = cgroups.OomKills();
  ASSERT_TRUE(kills.ok()) << kills.error().message;
  EXPECT_EQ(*kills, 0u);

  // Remove kills what is inside before it removes the directories, frozen or not (a v1 frozen
  // task acts on SIGKILL only once thawed).
  if (!roots->freezer.empty()) {
    EXPECT_NE(own.find(":freezer:/mvm/mvm-" + name + "\n"), std::string::npos) << own;
    ASSERT_TRUE(cgroups.SetFrozen(true).ok());
    EXPECT_EQ(ReadFile(cgroups.FreezerDir() / "freezer.state"), "FROZEN\n");
  }
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
