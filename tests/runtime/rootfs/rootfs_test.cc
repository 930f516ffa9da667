// MaterializeTemplate and ListTemplates with the busybox template, which builds in well under a
// second from the host's busybox-static.

#include "runtime/rootfs/rootfs.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "ir/options.h"
#include "runtime/rootfs/templates.h"
#include "runtime/rootfs/tree_util.h"
#include "tests/runtime/rootfs/rootfs_test_util.h"
#include "tests/support/command.h"
#include "tests/support/files.h"
#include "tests/support/prerequisite.h"
#include "tests/support/temp_dir.h"

namespace mvm::runtime::rootfs {
namespace {

namespace fs = std::filesystem;
using mvm::testing::ReadFile;
using mvm::testing::RunCommand;
using mvm::testing::TempDir;
using testing::IsRoot;

// The names in `dir`, sorted.
std::vector<std::string> Names(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    out.push_back(entry.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

ErrorOr<Materialized> Busybox(const fs::path& cache, std::vector<std::string>* lines = nullptr) {
  return MaterializeTemplate("busybox", cache, [&](std::string_view line) {
    if (lines != nullptr) {
      lines->emplace_back(line);
    }
  });
}

class BusyboxTemplateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists("/bin/busybox")) {
      MVM_MISSING_PREREQUISITE()
          << "needs Debian's busybox-static (scripts/bootstrap.sh installs it)";
    }
  }
};

TEST(MaterializeTemplateTest, UnknownTemplateListsTheKnownOnes) {
  TempDir tmp;
  auto made = MaterializeTemplate("python-2.7", tmp.path() / "cache", nullptr);
  ASSERT_FALSE(made.ok());
  const std::string& message = made.error().message;
  EXPECT_NE(message.find("unknown template `python-2.7`"), std::string::npos) << message;
  for (const ir::TemplateInfo& t : ir::BuiltinTemplates()) {
    EXPECT_NE(message.find("`" + std::string(t.name) + "`"), std::string::npos) << message;
  }
  EXPECT_FALSE(fs::exists(tmp.path() / "cache")) << "an unknown name creates nothing";
}

TEST(MaterializeTemplateTest, EveryBuiltinTemplateHasABuilder) {
  for (const ir::TemplateInfo& t : ir::BuiltinTemplates()) {
    EXPECT_NE(FindBuilder(t.name), nullptr) << t.name;
  }
}

TEST_F(BusyboxTemplateTest, BuildsACompleteSealedTree) {
  TempDir tmp;
  std::vector<std::string> lines;
  auto made = Busybox(tmp.path() / "cache", &lines);
  ASSERT_TRUE(made.ok()) << made.error().message;
  EXPECT_FALSE(made->cache_hit);
  EXPECT_FALSE(lines.empty()) << "a build reports progress";

  ASSERT_TRUE(made->digest.starts_with("sha256:"));
  const std::string hex = made->digest.substr(7);
  EXPECT_EQ(made->dir, tmp.path() / "cache" / "busybox" / ("sha256-" + hex));
  auto digest = TreeDigest(made->dir);
  ASSERT_TRUE(digest.ok()) << digest.error().message;
  EXPECT_EQ(*digest, made->digest) << "the published tree is exactly the hashed one";
  EXPECT_EQ(fs::read_symlink(tmp.path() / "cache/busybox/current"), "sha256-" + hex);
  EXPECT_EQ(Names(tmp.path() / "cache/busybox"),
            (std::vector<std::string>{"current", "lock", "sha256-" + hex}));

  const fs::path& root = made->dir;
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(root / "bin/busybox")));
  EXPECT_EQ(fs::read_symlink(root / "bin/sh"), "busybox");
  EXPECT_EQ(fs::read_symlink(root / "usr/bin/env"), "../../bin/busybox");
  EXPECT_TRUE(fs::is_regular_file(root / "usr/bin/env")) << "applet links resolve in the tree";
  // Every applet the binary lists has its link.
  auto listed = RunCommand({"/bin/busybox", "--list-full"});
  ASSERT_EQ(listed.status, 0) << listed.Describe();
  std::istringstream applets(listed.out);
  size_t count = 0;
  for (std::string applet; std::getline(applets, applet);) {
    if (!applet.empty() && applet != "bin/busybox") {
      EXPECT_TRUE(fs::is_symlink(root / applet)) << applet;
      ++count;
    }
  }
  EXPECT_GT(count, 100u);

  EXPECT_EQ(ReadFile(root / "etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
  EXPECT_NE(ReadFile(root / "etc/group").find("root:x:0:"), std::string::npos);
  EXPECT_EQ(ReadFile(root / "etc/hostname"), "mvm\n");
  EXPECT_EQ(ReadFile(root / "etc/hosts"), "127.0.0.1\tlocalhost\n::1\tlocalhost\n");
  for (const char* dir :
       {"proc", "dev", "sys", "tmp", "run/mvm", ".mvm/sdk/python", "app", "root", "home"}) {
    EXPECT_TRUE(fs::is_directory(fs::symlink_status(root / dir))) << dir;
    EXPECT_TRUE(fs::is_empty(root / dir)) << dir;
  }

  // Nothing in the published tree is writable.
  size_t checked = 0;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    struct stat st;
    ASSERT_EQ(lstat(entry.path().c_str(), &st), 0);
    if (!S_ISLNK(st.st_mode)) {
      EXPECT_EQ(st.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH), 0u) << entry.path();
      ++checked;
    }
  }
  EXPECT_GT(checked, 10u);
}

TEST_F(BusyboxTemplateTest, ShellRunsInAChroot) {
  if (!IsRoot()) {
    MVM_MISSING_PREREQUISITE() << "chroot needs root";
  }
  TempDir tmp;
  auto made = Busybox(tmp.path() / "cache");
  ASSERT_TRUE(made.ok()) << made.error().message;
  auto ran = RunCommand({"chroot", made->dir.string(), "/bin/sh", "-c", "echo ok"});
  EXPECT_EQ(ran.status, 0) << ran.Describe();
  EXPECT_EQ(ran.out, "ok\n");
  // The env applet at /usr/bin/env, the way `#!/usr/bin/env sh` scripts find their interpreter.
  ran = RunCommand({"chroot", made->dir.string(), "/usr/bin/env", "sh", "-c", "echo $0"});
  EXPECT_EQ(ran.out, "sh\n") << ran.Describe();
}

TEST_F(BusyboxTemplateTest, SecondCallIsACacheHit) {
  TempDir tmp;
  auto first = Busybox(tmp.path() / "cache");
  ASSERT_TRUE(first.ok()) << first.error().message;
  std::vector<std::string> lines;
  auto second = Busybox(tmp.path() / "cache", &lines);
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_TRUE(second->cache_hit);
  EXPECT_EQ(second->build_ms, 0u);
  EXPECT_EQ(second->digest, first->digest);
  EXPECT_EQ(second->dir, first->dir);
  EXPECT_TRUE(lines.empty()) << "a hit is silent";
}

TEST_F(BusyboxTemplateTest, BuildsAreReproducible) {
  TempDir tmp;
  auto a = Busybox(tmp.path() / "a");
  auto b = Busybox(tmp.path() / "b");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_FALSE(b->cache_hit);
  EXPECT_EQ(a->digest, b->digest);
}

TEST_F(BusyboxTemplateTest, RebuildsWhenThePublishedTreeIsGoneOrCurrentIsBroken) {
  TempDir tmp;
  const fs::path cache = tmp.path() / "cache";
  auto first = Busybox(cache);
  ASSERT_TRUE(first.ok()) << first.error().message;

  ASSERT_TRUE(RemoveTree(first->dir).ok());
  auto rebuilt = Busybox(cache);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error().message;
  EXPECT_FALSE(rebuilt->cache_hit);
  EXPECT_EQ(rebuilt->digest, first->digest);
  EXPECT_TRUE(fs::is_directory(rebuilt->dir));

  // `current` lost, the tree still there (a crash between the two renames): the rebuild adopts it.
  fs::remove(cache / "busybox/current");
  auto adopted = Busybox(cache);
  ASSERT_TRUE(adopted.ok()) << adopted.error().message;
  EXPECT_FALSE(adopted->cache_hit);
  EXPECT_EQ(adopted->digest, first->digest);

  // `current` naming something that is not a published tree.
  fs::remove(cache / "busybox/current");
  fs::create_symlink("../../etc", cache / "busybox/current");
  auto repaired = Busybox(cache);
  ASSERT_TRUE(repaired.ok()) << repaired.error().message;
  EXPECT_FALSE(repaired->cache_hit);
  EXPECT_EQ(fs::read_symlink(cache / "busybox/current"), first->dir.filename());
  EXPECT_EQ(Names(cache / "busybox"),
            (std::vector<std::string>{"current", "lock", first->dir.filename().string()}));
}

TEST_F(BusyboxTemplateTest, RemovesWhatACrashedBuildLeft) {
  TempDir tmp;
  const fs::path stale = tmp.path() / "cache/busybox/.build-Ab12Cd";
  fs::create_directories(stale / "bin");
  std::ofstream(stale / "bin/half") << "half a file";
  ASSERT_TRUE(SealTree(stale).ok());  // as if it died after sealing
  auto made = Busybox(tmp.path() / "cache");
  ASSERT_TRUE(made.ok()) << made.error().message;
  EXPECT_FALSE(fs::exists(stale));
}

TEST_F(BusyboxTemplateTest, ConcurrentProcessesBuildOneTree) {
  TempDir tmp;
  const fs::path cache = tmp.path() / "cache";
  constexpr int kProcesses = 4;
  struct Child {
    pid_t pid;
    int read_fd;
  };
  std::vector<Child> children;
  for (int i = 0; i < kProcesses; ++i) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      auto made = Busybox(cache);
      std::string report = made.ok() ? (made->cache_hit ? "hit " : "built ") + made->digest + " " +
                                           made->dir.string()
                                     : "error " + made.error().message;
      bool written =
          write(fds[1], report.data(), report.size()) == static_cast<ssize_t>(report.size());
      _exit(made.ok() && written ? 0 : 1);
    }
    close(fds[1]);
    children.push_back({pid, fds[0]});
  }
  int built = 0;
  std::vector<std::string> trees;
  for (const Child& child : children) {
    std::string report;
    char buf[512];
    for (ssize_t n; (n = read(child.read_fd, buf, sizeof buf)) > 0;) {
      report.append(buf, static_cast<size_t>(n));
    }
    close(child.read_fd);
    int status = 0;
    ASSERT_EQ(waitpid(child.pid, &status, 0), child.pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << report;
    built += report.starts_with("built ") ? 1 : 0;
    trees.push_back(report.substr(report.find(' ') + 1));
  }
  EXPECT_EQ(built, 1) << "exactly one process builds; the others wait for it and hit";
  for (const std::string& tree : trees) {
    EXPECT_EQ(tree, trees[0]);
  }
  std::vector<std::string> names = Names(cache / "busybox");
  ASSERT_EQ(names.size(), 3u) << ::testing::PrintToString(names);
  EXPECT_TRUE(names[2].starts_with("sha256-"));
}

TEST_F(BusyboxTemplateTest, ListTemplatesShowsWhatIsBuilt) {
  TempDir tmp;
  const fs::path cache = tmp.path() / "cache";
  std::vector<TemplateStatus> before = ListTemplates(cache);
  ASSERT_EQ(before.size(), ir::BuiltinTemplates().size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(before[i].name, ir::BuiltinTemplates()[i].name);
    EXPECT_EQ(before[i].description, ir::BuiltinTemplates()[i].description);
    EXPECT_FALSE(before[i].built);
    EXPECT_TRUE(before[i].digest.empty());
  }
  EXPECT_FALSE(fs::exists(cache)) << "listing creates nothing";

  auto made = Busybox(cache);
  ASSERT_TRUE(made.ok()) << made.error().message;
  for (const TemplateStatus& status : ListTemplates(cache)) {
    if (status.name == "busybox") {
      EXPECT_TRUE(status.built);
      EXPECT_EQ(status.digest, made->digest);
      EXPECT_EQ(status.dir, made->dir);
    } else {
      EXPECT_FALSE(status.built) << status.name;
    }
  }
}

// A published tree as mvm made them before recipe revisions: no `.mvm/recipe`.
fs::path PublishUnrevisionedTree(const fs::path& template_dir) {
  const fs::path work = template_dir / "work";
  fs::create_directories(work / "bin");
  std::ofstream(work / "bin/old") << "built by an older recipe\n";
  EXPECT_TRUE(SealTree(work).ok());
  auto digest = TreeDigest(work);
  EXPECT_TRUE(digest.ok());
  const std::string name = "sha256-" + digest->substr(7);
  fs::rename(work, template_dir / name);
  fs::create_symlink(name, template_dir / "current");
  return template_dir / name;
}

TEST_F(BusyboxTemplateTest, ATreeOfAnotherRevisionIsBuiltAgainAndListedAsStale) {
  TempDir tmp;
  const fs::path cache = tmp.path() / "cache";
  const fs::path old = PublishUnrevisionedTree(cache / "busybox");
  for (const TemplateStatus& status : ListTemplates(cache)) {
    if (status.name == "busybox") {
      EXPECT_TRUE(status.built);
      EXPECT_EQ(status.revision, "");
      EXPECT_EQ(status.wanted_revision, TemplateRevision("busybox"));
      EXPECT_TRUE(status.stale());
    }
  }
  std::vector<std::string> lines;
  auto made = Busybox(cache, &lines);
  ASSERT_TRUE(made.ok()) << made.error().message;
  EXPECT_FALSE(made->cache_hit);
  EXPECT_NE(made->dir, old);
  EXPECT_TRUE(fs::is_regular_file(old / "bin/old")) << "the old tree stays for its users";
  EXPECT_EQ(fs::read_symlink(cache / "busybox/current"), made->dir.filename());
  EXPECT_EQ(ReadFile(made->dir / ".mvm/recipe"), std::string(TemplateRevision("busybox")) + "\n");
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines[0].find("recipe revision (none recorded)"), std::string::npos) << lines[0];
  for (const TemplateStatus& status : ListTemplates(cache)) {
    if (status.name == "busybox") {
      EXPECT_EQ(status.revision, TemplateRevision("busybox"));
      EXPECT_FALSE(status.stale());
    }
  }
  auto again = Busybox(cache);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_TRUE(again->cache_hit);
  EXPECT_EQ(again->dir, made->dir);
}

// Several processes of a new recipe find a tree of the old one while a sandbox-like reader keeps
// reading that old tree: one process builds, the rest wait and hit, and the reader never fails.
TEST(MaterializeIntoTest, RevisionChangeUnderConcurrentUsers) {
  TempDir tmp;
  const fs::path dir = tmp.path() / "cache/t";
  const fs::path counter = tmp.path() / "builds";
  auto build = [&](const fs::path& root, const ProgressFn&) -> ErrorOr<Ok> {
    std::ofstream(counter, std::ios::app) << "built\n";
    usleep(200 * 1000);  // long enough that the others queue on the lock
    std::ofstream(root / "data") << "new\n";
    return Ok{};
  };
  auto old = MaterializeInto("t", dir, "1", build, nullptr);
  ASSERT_TRUE(old.ok()) << old.error().message;
  fs::remove(counter);

  pid_t reader = fork();
  ASSERT_GE(reader, 0);
  if (reader == 0) {
    for (int i = 0; i < 400; ++i) {
      std::ifstream in(old->dir / "data");
      std::string line;
      if (!std::getline(in, line) || line != "new") {
        _exit(1);
      }
      usleep(1000);
    }
    _exit(0);
  }
  std::vector<pid_t> users;
  for (int i = 0; i < 3; ++i) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto made = MaterializeInto("t", dir, "2", build, nullptr);
      _exit(made.ok() && RevisionOf(made->dir) == "2" ? 0 : 1);
    }
    users.push_back(pid);
  }
  for (pid_t pid : users) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(reader, &status, 0), reader);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the old tree's reader failed";
  EXPECT_EQ(ReadFile(counter), "built\n") << "exactly one process builds the new revision";
  auto now = MaterializeInto("t", dir, "2", build, nullptr);
  ASSERT_TRUE(now.ok()) << now.error().message;
  EXPECT_TRUE(now->cache_hit);
  EXPECT_NE(now->dir, old->dir);
  EXPECT_TRUE(fs::is_directory(old->dir));
}

TEST_F(BusyboxTemplateTest, HandOverReplacesOnlyAStaleTree) {
  TempDir tmp;
  const fs::path shared = tmp.path() / "shared";
  const fs::path old = PublishUnrevisionedTree(shared / "busybox");
  auto built = Busybox(tmp.path() / "a");
  ASSERT_TRUE(built.ok()) << built.error().message;
  auto moved = HandOverTemplate("busybox", tmp.path() / "a", shared);
  ASSERT_TRUE(moved.ok()) << moved.error().message;
  EXPECT_TRUE(*moved);
  EXPECT_EQ(fs::read_symlink(shared / "busybox/current"), built->dir.filename());
  EXPECT_TRUE(fs::is_directory(old));
  auto hit = Busybox(shared);
  ASSERT_TRUE(hit.ok()) << hit.error().message;
  EXPECT_TRUE(hit->cache_hit);

  // A current tree is kept; the second candidate stays where it was.
  auto other = Busybox(tmp.path() / "b");
  ASSERT_TRUE(other.ok()) << other.error().message;
  auto kept = HandOverTemplate("busybox", tmp.path() / "b", shared);
  ASSERT_TRUE(kept.ok()) << kept.error().message;
  EXPECT_FALSE(*kept);
  EXPECT_TRUE(fs::is_directory(other->dir));

  auto none = HandOverTemplate("busybox", tmp.path() / "empty", shared);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("has no published tree"), std::string::npos);
}

}  // namespace
}  // namespace mvm::runtime::rootfs
