// ImportBuiltTree: a builder's store is hostile data. Trees are copied with nothing followed,
// hashed on the host, and refused when they leave the store, hold what a rootfs never holds, or
// differ from a pinned digest.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend-emit/nix/artifacts.h"
#include "backend-emit/nix/nar.h"
#include "tests/support/files.h"
#include "tests/support/prerequisite.h"
#include "tests/support/temp_dir.h"

namespace mvm::nix {
namespace {

namespace fs = std::filesystem;
using mvm::testing::ReadFile;
using mvm::testing::TempDir;
using mvm::testing::WriteFile;

constexpr char kPath[] = "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-rootfs";

// A builder's /nix at `<tmp>/nix` holding kPath.
fs::path MakeStore(const TempDir& tmp) {
  fs::path out = tmp.path() / "nix" / "store" / fs::path(kPath).filename();
  WriteFile(out / "bin" / "busybox", "not really busybox", fs::perms(0755));
  fs::create_symlink("busybox", out / "bin" / "sh");
  fs::create_symlink("/etc/shadow", out / "shadow-link");
  WriteFile(out / "etc" / "passwd", "root:x:0:0::/root:/bin/sh\n", fs::perms(0644));
  fs::create_directories(out / "proc");
  return out;
}

TEST(IsStorePathTest, OnlyStorePathsOfNixsFormPass) {
  EXPECT_TRUE(IsStorePath(kPath));
  EXPECT_TRUE(IsStorePath("/nix/store/0123456789abcdfghijklmnpqrsvwxyz-a+b_c.d?e=f-1"));
  for (const char* bad : {"", "/nix/store/", "/etc/shadow", "/nix/store/../../etc",
                          "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-a/b",
                          "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-..",
                          "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-.hidden",
                          "/nix/store/0123456789abcdefghijklmnopqrstuv-rootfs",  // e, o, t, u
                          "/nix/store/0123456789abcdfghijklmnpqrsvwxyz_rootfs",
                          "nix/store/0123456789abcdfghijklmnpqrsvwxyz-rootfs"}) {
    EXPECT_FALSE(IsStorePath(bad)) << bad;
  }
}

TEST(ImportBuiltTreeTest, CopiesTheTreeReadOnlyAndHashesTheCopy) {
  TempDir tmp;
  fs::path out = MakeStore(tmp);
  auto imported = ImportBuiltTree(tmp.path() / "state", tmp.path() / "nix", kPath, "");
  ASSERT_TRUE(imported.ok()) << imported.error().message;
  EXPECT_EQ(imported->nar_hash, *NarHash(out));
  EXPECT_EQ(imported->tree,
            tmp.path() / "state" / "artifacts" / "trees" / imported->nar_hash.substr(7));
  // Links are copied as links, never followed: the shadow link still points at the name only.
  EXPECT_EQ(fs::read_symlink(imported->tree / "shadow-link"), "/etc/shadow");
  EXPECT_EQ(ReadFile(imported->tree / "bin" / "busybox"), "not really busybox");
  struct stat st {};
  ASSERT_EQ(::stat((imported->tree / "bin" / "busybox").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0555u);
  ASSERT_EQ(::stat((imported->tree / "etc" / "passwd").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0444u);
  ASSERT_EQ(::stat((imported->tree / "etc").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0555u);
  EXPECT_TRUE(imported->references.empty());
  // Importing again keeps the tree; the digest is the same.
  auto again = ImportBuiltTree(tmp.path() / "state", tmp.path() / "nix", kPath, "");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->tree, imported->tree);
}

TEST(ImportBuiltTreeTest, ReferencesToOtherStorePathsAreFoundByTheHostsScan) {
  TempDir tmp;
  fs::path out = MakeStore(tmp);
  const std::string lib = "/nix/store/zyxwvsrqpnmlkjihgfdcba9876543210-glibc-2.37";
  // One in a file's bytes, cut by the scan's 64 KiB chunks in its name, one as a symlink target,
  // and the output's own path, which is not a reference.
  WriteFile(out / "bin" / "tool", std::string(65490, 'x') + lib + "/lib/ld.so" + kPath);
  fs::create_symlink("/nix/store/abcdfghijklmnpqrsvwxyz0123456789-python-3.11/bin/python3",
                     out / "bin" / "python3");
  auto imported = ImportBuiltTree(tmp.path() / "state", tmp.path() / "nix", kPath, "");
  ASSERT_TRUE(imported.ok()) << imported.error().message;
  EXPECT_EQ(imported->references,
            (std::vector<std::string>{"/nix/store/abcdfghijklmnpqrsvwxyz0123456789-python-3.11",
                                      "/nix/store/zyxwvsrqpnmlkjihgfdcba9876543210-glibc-2.37"}));
}

TEST(ImportBuiltTreeTest, AStorePathThatIsASymlinkOutOfTheStoreIsRefused) {
  TempDir tmp;
  fs::create_directories(tmp.path() / "nix" / "store");
  WriteFile(tmp.path() / "host" / "secret", "host file");
  fs::create_directory_symlink(tmp.path() / "host",
                               tmp.path() / "nix" / "store" / fs::path(kPath).filename());
  auto imported = ImportBuiltTree(tmp.path() / "state", tmp.path() / "nix", kPath, "");
  ASSERT_FALSE(imported.ok());
  EXPECT_NE(imported.error().message.find("cannot open the builder's output"), std::string::npos)
      << imported.error().message;
  // The store directory itself replaced by a link is refused the same way.
  TempDir tmp2;
  fs::create_directories(tmp2.path() / "nix");
  fs::create_directory_symlink(tmp.path() / "host", tmp2.path() / "nix" / "store");
  EXPECT_FALSE(ImportBuiltTree(tmp2.path() / "state", tmp2.path() / "nix", kPath, "").ok());
}

TEST(ImportBuiltTreeTest, WhatIsNotAFileDirectoryOrLinkIsRefusedAndNothingIsLeft) {
  TempDir tmp;
  fs::path out = MakeStore(tmp);
  ASSERT_EQ(::mkfifo((out / "fifo").c_str(), 0644), 0);
  auto imported = ImportBuiltTree(tmp.path() / "state", tmp.path() / "nix", kPath, "");
  ASSERT_FALSE(imported.ok());
  EXPECT_NE(imported.error().message.find("neither a regular file"), std::string::npos)
      << imported.error().message;
  EXPECT_TRUE(fs::is_empty(tmp.path() / "state" / "artifacts" / "trees"));
}

TEST(ImportBuiltTreeTest, AnOutputThatIsNotThePinnedDigestIsRefused) {
  TempDir tmp;
  fs::path out = MakeStore(tmp);
  const std::string pinned = "sha256:" + std::string(64, 'a');
  auto imported = ImportBuiltTree(tmp.path() / "state", tmp.path() / "nix", kPath, pinned);
  ASSERT_FALSE(imported.ok());
  EXPECT_NE(imported.error().message.find("refused: the builder's output"), std::string::npos);
  EXPECT_NE(imported.error().message.find("has NAR hash " + *NarHash(out)), std::string::npos)
      << imported.error().message;
  EXPECT_TRUE(fs::is_empty(tmp.path() / "state" / "artifacts" / "trees"));
  EXPECT_TRUE(ImportBuiltTree(tmp.path() / "state", tmp.path() / "nix", kPath, *NarHash(out)).ok());
}

TEST(ImportBuiltTreeTest, ANameThatIsNotAStorePathImportsNothing) {
  TempDir tmp;
  MakeStore(tmp);
  auto imported = ImportBuiltTree(tmp.path() / "state", tmp.path() / "nix", "/etc", "");
  ASSERT_FALSE(imported.ok());
  EXPECT_NE(imported.error().message.find("not a Nix store path"), std::string::npos);
  EXPECT_FALSE(fs::exists(tmp.path() / "state" / "artifacts"));
}

// CopyOutOfBuilder: a derivation export is read by this host's Nix, which follows symlinks, so the
// copy takes none, and reaches nothing outside the builder's /nix.
TEST(CopyOutOfBuilderTest, FilesAndDirectoriesComeOutAndSymlinksAreRefused) {
  TempDir tmp("mvm-copy-out");
  const fs::path nix = tmp.path() / "nix";
  WriteFile(nix / "var" / "export" / "nix-cache-info", "StoreDir: /nix/store\n");
  WriteFile(nix / "var" / "export" / "nar" / "a.nar", "nar bytes");
  auto copied = CopyOutOfBuilder(nix, "var/export", tmp.path() / "good");
  ASSERT_TRUE(copied.ok()) << copied.error().message;
  EXPECT_EQ(ReadFile(tmp.path() / "good" / "nar" / "a.nar"), "nar bytes");
  EXPECT_EQ(ReadFile(tmp.path() / "good" / "nix-cache-info"), "StoreDir: /nix/store\n");

  fs::create_symlink("/etc/passwd", nix / "var" / "export" / "nar" / "b.nar");
  auto linked = CopyOutOfBuilder(nix, "var/export", tmp.path() / "linked");
  ASSERT_FALSE(linked.ok());
  EXPECT_NE(linked.error().message.find("var/export/nar/b.nar` is a symlink"), std::string::npos)
      << linked.error().message;
  EXPECT_FALSE(fs::exists(tmp.path() / "linked"));

  // A symlink on the way there is not followed either.
  fs::create_directories(tmp.path() / "elsewhere" / "export");
  fs::create_symlink(tmp.path() / "elsewhere", nix / "var2");
  auto outside = CopyOutOfBuilder(nix, "var2/export", tmp.path() / "outside");
  ASSERT_FALSE(outside.ok());
  EXPECT_FALSE(fs::exists(tmp.path() / "outside"));
}

// CopyRootfsOutOfBuilder: a Debian tree made by the builder, whose root is host uid kBase. The copy
// belongs to the tree's own ids; left at kBase it would belong to every container sandbox's root.
TEST(CopyRootfsOutOfBuilderTest, OwnersComeOutAsTheBuilderSawThemAndForeignOwnersAreRefused) {
  if (::geteuid() != 0) {
    MVM_MISSING_PREREQUISITE() << "setting a file's owner needs root";
  }
  constexpr uint32_t kBase = 100000;
  TempDir tmp("mvm-copy-rootfs");
  const fs::path nix = tmp.path() / "nix";
  const fs::path made = nix / "var" / "deb" / "root";
  WriteFile(made / "etc" / "shadow", "root:*:1::::::\n", fs::perms(0640));
  WriteFile(made / "usr" / "bin" / "passwd", "elf", fs::perms(04755));
  fs::create_directories(made / "tmp");
  fs::permissions(made / "tmp", fs::perms(01777));
  // fakechroot writes links with the directory the tree was made at in them.
  fs::create_symlink("/build/root/usr/bin/passwd", made / "passwd-link");
  auto own = [](const fs::path& p, uint32_t uid, uint32_t gid) {
    ASSERT_EQ(::lchown(p.c_str(), uid, gid), 0) << p;
  };
  for (const fs::path& p : {made, made / "etc", made / "usr", made / "usr" / "bin",
                            made / "usr" / "bin" / "passwd", made / "tmp", made / "passwd-link"}) {
    own(p, kBase, kBase);
  }
  own(made / "etc" / "shadow", kBase, kBase + 42);

  const fs::path to = tmp.path() / "tree";
  fs::create_directories(to);
  auto copied = CopyRootfsOutOfBuilder(nix, "var/deb/root", to, "/build/root", {kBase, 65536});
  ASSERT_TRUE(copied.ok()) << copied.error().message;
  auto owner = [](const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    return std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid);
  };
  auto mode = [](const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
  };
  for (const fs::path& p :
       {to, to / "etc", to / "usr" / "bin" / "passwd", to / "tmp", to / "passwd-link"}) {
    EXPECT_EQ(owner(p), "0:0") << p;
  }
  EXPECT_EQ(owner(to / "etc" / "shadow"), "0:42");
  EXPECT_EQ(mode(to / "etc" / "shadow"), 0640u);
  EXPECT_EQ(mode(to / "usr" / "bin" / "passwd"), 0755u);  // set-id bits dropped
  EXPECT_EQ(mode(to / "tmp"), 01777u);
  EXPECT_EQ(fs::read_symlink(to / "passwd-link"), "/usr/bin/passwd");

  // An owner the builder's namespace cannot have made (here the host's root) is not copied on.
  own(made / "etc" / "shadow", 0, kBase);
  const fs::path again = tmp.path() / "again";
  fs::create_directories(again);
  auto foreign = CopyRootfsOutOfBuilder(nix, "var/deb/root", again, "/build/root", {kBase, 65536});
  ASSERT_FALSE(foreign.ok());
  EXPECT_NE(
      foreign.error().message.find("`var/deb/root/etc/shadow` is owned by 0:100000 on this "
                                   "host, which is no id of the builder's (100000 to 165535)"),
      std::string::npos)
      << foreign.error().message;
}

}  // namespace
}  // namespace mvm::nix
