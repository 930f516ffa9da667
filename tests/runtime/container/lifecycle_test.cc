// Starting, waiting, killing and cleaning up; refusals; what Probe says.

#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "container_test_util.h"
#include "runtime/backends/container/cgroups.h"
#include "runtime/backends/container/container.h"
#include "tests/support/prerequisite.h"

namespace mvm::runtime::container::testing {
namespace {

using LifecycleTest = SandboxFixture;

TEST_F(LifecycleTest, WaitTimesOutWhileRunningThenKillReaps) {
  Spec spec = MakeSpec("exec sleep 1000");
  auto sandbox = StartLogged(spec, log());
  ASSERT_TRUE(sandbox.ok()) << sandbox.error().message;
  auto early = Wait(*sandbox, 100ms);
  ASSERT_FALSE(early.ok());
  EXPECT_NE(early.error().message.find("still running"), std::string::npos);
  ASSERT_TRUE(Kill(*sandbox, SIGTERM).ok());  // PID 1 of a namespace ignores an unhandled TERM
  EXPECT_FALSE(Wait(*sandbox, 200ms).ok());
  ASSERT_TRUE(Kill(*sandbox, SIGKILL).ok());
  auto status = Wait(*sandbox, 30s);
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(status->signal, SIGKILL);
  auto again = Wait(*sandbox, std::nullopt);  // remembered, not reaped twice
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->signal, SIGKILL);
  EXPECT_TRUE(Kill(*sandbox, SIGKILL).ok());  // already gone is fine
  close(sandbox->pidfd);
}

TEST_F(LifecycleTest, ConcurrentSandboxesShareOneRootfs) {
  auto before = Snapshot(rootfs());
  std::vector<Spec> specs;
  std::vector<Sandbox> sandboxes;
  for (int i = 0; i < 4; ++i) {
    std::string id = std::to_string(i);
    specs.push_back(MakeSpec("echo " + id + " > /tmp/mine; mkdir -p /out/" + id +
                             "; ls /tmp > /out/" + id + "/tmp; echo > /out/" + id +
                             "/ready; while [ ! -e /out/go ]; do sleep 0.01; done; cat /tmp/mine "
                             "> /out/" +
                             id + "/mine"));
    auto started = StartLogged(specs.back(), log());
    ASSERT_TRUE(started.ok()) << started.error().message;
    sandboxes.push_back(*started);
  }
  // All four are alive at the same time before any finishes.
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(WaitForFile(out() / std::to_string(i) / "ready"));
  }
  WriteFile(out() / "go", "");
  for (int i = 0; i < 4; ++i) {
    auto status = Wait(sandboxes[i], 60s);
    ASSERT_TRUE(status.ok()) << status.error().message;
    EXPECT_EQ(status->exit_code, 0);
    close(sandboxes[i].pidfd);
    std::string id = std::to_string(i);
    EXPECT_EQ(ReadFile(out() / id / "tmp"), "mine\n");  // each /tmp is private
    EXPECT_EQ(ReadFile(out() / id / "mine"), id + "\n");
    EXPECT_TRUE(RemoveCgroups(specs[i].name).ok());
  }
  EXPECT_EQ(Snapshot(rootfs()), before);
}

TEST_F(LifecycleTest, TimingsAreFilled) {
  Outcome r = Run(MakeSpec("true"));
  ASSERT_EQ(r.error, "");
  // Several runs, for a figure not dominated by the first one's cold caches.
  uint64_t best = UINT64_MAX;
  for (int i = 0; i < 5; ++i) {
    Spec spec = MakeSpec("true");
    auto begin = std::chrono::steady_clock::now();
    Timings t;
    auto sandbox = StartLogged(spec, log(), &t);
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::steady_clock::now() - begin)
                  .count();
    ASSERT_TRUE(sandbox.ok()) << sandbox.error().message;
    ASSERT_TRUE(Wait(*sandbox, 30s).ok());
    close(sandbox->pidfd);
    ASSERT_TRUE(RemoveCgroups(spec.name).ok());
    EXPECT_GT(t.clone_us, 0u);
    EXPECT_GT(t.mounts_us, 0u);
    EXPECT_GT(t.cgroups_us, 0u);
    EXPECT_GT(t.exec_us, 0u);
    // The cgroup move overlaps the mounts; the other phases follow one another.
    EXPECT_LE(uint64_t{t.clone_us} + t.mounts_us + t.exec_us, uint64_t(us));
    EXPECT_LE(t.cgroups_us, uint64_t(us));
    std::printf("[          ] Start %ld us: clone %u, cgroups %u, mounts %u, exec %u\n",
                static_cast<long>(us), t.clone_us, t.cgroups_us, t.mounts_us, t.exec_us);
    best = std::min<uint64_t>(best, static_cast<uint64_t>(us));
  }
  std::printf("[          ] best Start → init exec'd: %.2f ms\n", best / 1000.0);
}

TEST_F(LifecycleTest, BadRootfsReportsTheChildsFailingStep) {
  // /proc as a file: the child cannot make its mount point, and says so.
  WriteFile(rootfs() / "proc", "not a directory\n");
  Spec spec = MakeSpec("true");
  auto started = StartLogged(spec, log());
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().message,
            "create the mount point /proc in " + rootfs().string() + ": Not a directory");
  // Nothing is left behind: the child was reaped and its cgroups are gone.
  EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1);
  auto roots = HostCgroupRoots();
  ASSERT_TRUE(roots.ok());
  for (const fs::path& dir : SandboxCgroups(*roots, spec.name).Dirs()) {
    EXPECT_FALSE(fs::exists(dir)) << dir;
  }
}

TEST_F(LifecycleTest, ProblemsFoundBeforeCloneAreErrors) {
  auto error_of = [&](Spec spec) {
    auto started = Start(spec);
    if (started.ok()) {
      close(started->pidfd);
      return std::string("started");
    }
    return started.error().message;
  };
  Spec spec = MakeSpec("true");
  spec.name = "Bad_Name";
  EXPECT_NE(error_of(spec).find("not a valid sandbox name"), std::string::npos);
  spec = MakeSpec("true");
  spec.network = true;
  EXPECT_NE(error_of(spec).find("network access"), std::string::npos);
  spec = MakeSpec("true");
  spec.rootfs = dir() / "missing";
  EXPECT_NE(error_of(spec).find("is not a directory"), std::string::npos);
  spec = MakeSpec("true");
  spec.mounts.push_back({Mount::Kind::kTmpfs, {}, "/data/../etc", false, 1});
  EXPECT_NE(error_of(spec).find("without `.` or `..`"), std::string::npos);
  spec = MakeSpec("true");
  spec.mounts.push_back({Mount::Kind::kBind, dir() / "nope", "/nope", true, 0});
  EXPECT_NE(error_of(spec).find("does not exist"), std::string::npos);
  spec = MakeSpec("true");
  spec.inherit_fds = {987};
  EXPECT_NE(error_of(spec).find("not an open fd"), std::string::npos);
  spec = MakeSpec("true");
  spec.limits.memory_mb = 0;
  EXPECT_NE(error_of(spec).find("at least 1"), std::string::npos);
}

TEST_F(LifecycleTest, ASecondSandboxWithTheSameNameIsRefused) {
  Spec spec = MakeSpec("exec sleep 1000");
  auto first = StartLogged(spec, log());
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto second = StartLogged(spec, log());
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find("already exists"), std::string::npos);
  // The refusal did not take the first one's cgroups away.
  for (const fs::path& dir : first->cgroup_dirs) {
    EXPECT_TRUE(fs::exists(dir)) << dir;
  }
  ASSERT_TRUE(Kill(*first, SIGKILL).ok());
  ASSERT_TRUE(Wait(*first, 30s).ok());
  close(first->pidfd);
}

TEST_F(LifecycleTest, RefusedWhenNotRoot) {
  Spec spec = MakeSpec("true");
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::string message = "dropped privileges";
    if (setresgid(65534, 65534, 65534) == 0 && setresuid(65534, 65534, 65534) == 0) {
      auto started = Start(spec);
      message = started ? "started" : started.error().message;
    }
    (void)!write(p[1], message.data(), message.size());
    _exit(0);
  }
  close(p[1]);
  char buf[512] = {};
  (void)!read(p[0], buf, sizeof buf - 1);
  close(p[0]);
  waitpid(child, nullptr, 0);
  EXPECT_NE(std::string(buf).find("must run as root"), std::string::npos) << buf;
}

TEST(ProbeTest, ReportsWhatThisHostSupports) {
  if (geteuid() != 0) {
    MVM_MISSING_PREREQUISITE() << "the container backend needs root";
  }
  HostSupport support = Probe();
  auto roots = HostCgroupRoots();
  ASSERT_TRUE(roots.ok());
  EXPECT_EQ(support.cgroup_mode, roots->mode);
  // What Start needs; every sandbox test above relies on them as well.
  EXPECT_TRUE(support.user_namespaces);
  EXPECT_TRUE(support.seccomp);
  EXPECT_TRUE(support.idmapped_mounts);
}

}  // namespace
}  // namespace mvm::runtime::container::testing
