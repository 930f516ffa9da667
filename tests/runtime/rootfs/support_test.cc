// The helpers under the templates: ELF inspection, sealing and removing trees.

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <fstream>
#include <string>
#include <vector>

#include "runtime/rootfs/elf.h"
#include "runtime/rootfs/tree_util.h"
#include "tests/runtime/rootfs/rootfs_test_util.h"
#include "tests/support/prerequisite.h"
#include "tests/support/temp_dir.h"

namespace mvm::runtime::rootfs {
namespace {

namespace fs = std::filesystem;
using mvm::testing::TempDir;
using testing::IsRoot;

TEST(IsStaticElfTest, TellsStaticFromDynamic) {
  if (fs::exists("/bin/busybox")) {
    auto busybox = IsStaticElf("/bin/busybox");  // Debian busybox-static (scripts/bootstrap.sh)
    ASSERT_TRUE(busybox.ok()) << busybox.error().message;
    EXPECT_TRUE(*busybox);
  }
  // This test binary links libstdc++ (and the sanitizer runtimes) dynamically.
  auto self = IsStaticElf("/proc/self/exe");
  ASSERT_TRUE(self.ok()) << self.error().message;
  EXPECT_FALSE(*self);
}

TEST(IsStaticElfTest, RefusesWhatIsNotElf) {
  TempDir tmp;
  std::ofstream(tmp.path() / "script") << "#!/bin/sh\necho hi\n";
  auto script = IsStaticElf(tmp.path() / "script");
  ASSERT_FALSE(script.ok());
  EXPECT_NE(script.error().message.find("not an ELF executable"), std::string::npos);
  std::ofstream(tmp.path() / "short") << "\x7f"
                                         "ELF";
  EXPECT_FALSE(IsStaticElf(tmp.path() / "short").ok());
  EXPECT_FALSE(IsStaticElf(tmp.path() / "missing").ok());
}

TEST(SealTreeTest, ClearsWriteAndSetidBitsAndRemoveTreeUndoesIt) {
  TempDir tmp;
  fs::path root = tmp.path() / "root";
  fs::create_directories(root / "a/b");
  std::ofstream(root / "a/b/file") << "x";
  std::ofstream(root / "suid") << "x";
  ASSERT_EQ(chmod((root / "suid").c_str(), 06777), 0);
  fs::create_symlink("a/b/file", root / "link");
  ASSERT_TRUE(SealTree(root).ok());
  for (const char* rel : {"", "a", "a/b", "a/b/file", "suid"}) {
    struct stat st;
    ASSERT_EQ(lstat((root / rel).c_str(), &st), 0) << rel;
    EXPECT_EQ(st.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH | S_ISUID | S_ISGID), 0u) << rel;
  }
  struct stat st;
  ASSERT_EQ(stat((root / "suid").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0555u);
  ASSERT_TRUE(RemoveTree(root).ok());
  EXPECT_FALSE(fs::exists(root));
  EXPECT_TRUE(RemoveTree(root).ok()) << "a missing tree is already removed";
}

TEST(RemoveTreeTest, NeverFollowsSymlinksOut) {
  TempDir tmp;
  fs::create_directories(tmp.path() / "outside");
  std::ofstream(tmp.path() / "outside/keep") << "x";
  fs::create_directories(tmp.path() / "tree");
  fs::create_directory_symlink(tmp.path() / "outside", tmp.path() / "tree/link");
  ASSERT_TRUE(RemoveTree(tmp.path() / "tree").ok());
  EXPECT_FALSE(fs::exists(tmp.path() / "tree"));
  EXPECT_TRUE(fs::exists(tmp.path() / "outside/keep"));
}

TEST(RemoveTreeTest, RefusesToDescendIntoAMount) {
  if (!IsRoot()) {
    MVM_MISSING_PREREQUISITE() << "mounting needs root";
  }
  TempDir tmp;
  fs::path tree = tmp.path() / "tree";
  fs::create_directories(tree / "proc");
  fs::create_directories(tmp.path() / "host");
  std::ofstream(tmp.path() / "host/precious") << "x";
  // In a mount namespace of this process's own, so a failing test cannot leave a mount behind.
  if (unshare(CLONE_NEWNS) != 0 ||
      mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    MVM_MISSING_PREREQUISITE() << "cannot make a mount namespace here";
  }
  // A bind mount from the same file system: st_dev alone could not see it.
  if (mount((tmp.path() / "host").c_str(), (tree / "proc").c_str(), nullptr, MS_BIND, nullptr) !=
      0) {
    MVM_MISSING_PREREQUISITE() << "cannot bind-mount here";
  }
  auto removed = RemoveTree(tree);
  EXPECT_EQ(umount2((tree / "proc").c_str(), MNT_DETACH), 0);
  ASSERT_FALSE(removed.ok());
  EXPECT_NE(removed.error().message.find("is mounted inside it"), std::string::npos)
      << removed.error().message;
  EXPECT_TRUE(fs::exists(tmp.path() / "host/precious"));
}

}  // namespace
}  // namespace mvm::runtime::rootfs
