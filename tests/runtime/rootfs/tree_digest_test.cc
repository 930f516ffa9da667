#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "ir/digest.h"
#include "runtime/rootfs/rootfs.h"
#include "tests/runtime/rootfs/rootfs_test_util.h"
#include "tests/support/temp_dir.h"

namespace mvm::runtime::rootfs {
namespace {

namespace fs = std::filesystem;
using mvm::testing::TempDir;
using testing::IsRoot;

void Write(const fs::path& path, const std::string& content, mode_t mode = 0644) {
  std::ofstream(path, std::ios::binary) << content;
  ASSERT_EQ(chmod(path.c_str(), mode), 0);
}

// A small tree with every kind of entry TreeDigest accepts.
void MakeTree(const fs::path& root) {
  ASSERT_EQ(chmod(root.c_str(), 0755), 0);
  fs::create_directories(root / "etc");
  fs::create_directories(root / "usr/bin");
  fs::create_directories(root / "empty");
  Write(root / "etc/hosts", "127.0.0.1 localhost\n");
  Write(root / "usr/bin/tool", "#!/bin/sh\necho tool\n", 0755);
  fs::create_symlink("tool", root / "usr/bin/alias");
  fs::create_symlink("/etc/hosts", root / "hosts-link");
}

std::string Digest(const fs::path& root) {
  auto digest = TreeDigest(root);
  EXPECT_TRUE(digest.ok()) << digest.error().message;
  return digest.ok() ? *digest : std::string();
}

TEST(TreeDigestTest, HasTheDocumentedForm) {
  TempDir tmp;
  ASSERT_EQ(chmod(tmp.path().c_str(), 0755), 0);
  Write(tmp.path() / "f", "hi", 0640);
  fs::create_symlink("f", tmp.path() / "l");
  fs::create_directory(tmp.path() / "d");
  ASSERT_EQ(chmod((tmp.path() / "d").c_str(), 0700), 0);
  // The serialisation tree_digest.cc documents, written out by hand.
  std::string stream("mvm-tree-v1\0", 12);
  stream += std::string("d 0755 .\0\0", 10);
  stream += std::string("d 0700 d\0\0", 10);
  stream += std::string("f 0640 f\0", 9) + ir::Sha256Hex("hi") + std::string(1, '\0');
  stream += std::string("l 0777 l\0f\0", 11);
  EXPECT_EQ(Digest(tmp.path()), "sha256:" + ir::Sha256Hex(stream));
}

TEST(TreeDigestTest, StableUnderTimesOwnersLocationAndCopies) {
  TempDir tmp;
  fs::path a = tmp.path() / "a";
  fs::create_directories(a);
  MakeTree(a);
  std::string before = Digest(a);
  ASSERT_TRUE(before.starts_with("sha256:"));
  EXPECT_EQ(before.size(), 7u + 64u);
  EXPECT_EQ(Digest(a), before);

  // Times: set far into the past on a file, a directory and the root.
  struct timespec old_times[2] = {{1000, 0}, {1000, 0}};
  for (const char* rel : {"etc/hosts", "etc", "."}) {
    ASSERT_EQ(utimensat(AT_FDCWD, (a / rel).c_str(), old_times, AT_SYMLINK_NOFOLLOW), 0) << rel;
  }
  EXPECT_EQ(Digest(a), before);

  if (IsRoot()) {
    ASSERT_EQ(lchown((a / "etc/hosts").c_str(), 65534, 65534), 0);
    ASSERT_EQ(lchown((a / "usr/bin/alias").c_str(), 65534, 65534), 0);
    EXPECT_EQ(Digest(a), before);
  }

  // A copy elsewhere has new inodes, times and location, and the same digest.
  fs::path b = tmp.path() / "elsewhere" / "b";
  fs::create_directories(b.parent_path());
  fs::copy(a, b, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  ASSERT_EQ(chmod(b.c_str(), 0755), 0);
  EXPECT_EQ(Digest(b), before);
  // A trailing slash names the same tree.
  EXPECT_EQ(Digest(a.string() + "/"), before);
}

TEST(TreeDigestTest, ChangesWithAnyEntry) {
  struct Change {
    const char* what;
    std::function<void(const fs::path&)> apply;
  };
  const std::vector<Change> changes = {
      {"content, same size",
       [](const fs::path& r) { Write(r / "etc/hosts", "127.0.0.2 localhost\n"); }},
      {"content, truncated", [](const fs::path& r) { Write(r / "etc/hosts", ""); }},
      {"file mode", [](const fs::path& r) { chmod((r / "etc/hosts").c_str(), 0600); }},
      {"executable bit", [](const fs::path& r) { chmod((r / "usr/bin/tool").c_str(), 0644); }},
      {"directory mode", [](const fs::path& r) { chmod((r / "etc").c_str(), 0700); }},
      {"root mode", [](const fs::path& r) { chmod(r.c_str(), 0700); }},
      {"setuid bit", [](const fs::path& r) { chmod((r / "usr/bin/tool").c_str(), 04755); }},
      {"symlink target",
       [](const fs::path& r) {
         fs::remove(r / "usr/bin/alias");
         fs::create_symlink("tool2", r / "usr/bin/alias");
       }},
      {"symlink replaced by a file with its target as content",
       [](const fs::path& r) {
         fs::remove(r / "usr/bin/alias");
         Write(r / "usr/bin/alias", "tool", 0777);
       }},
      {"added file", [](const fs::path& r) { Write(r / "etc/new", ""); }},
      {"added empty directory", [](const fs::path& r) { fs::create_directory(r / "etc/new"); }},
      {"removed file", [](const fs::path& r) { fs::remove(r / "etc/hosts"); }},
      {"removed empty directory", [](const fs::path& r) { fs::remove(r / "empty"); }},
      {"removed symlink", [](const fs::path& r) { fs::remove(r / "hosts-link"); }},
      {"renamed file", [](const fs::path& r) { fs::rename(r / "etc/hosts", r / "etc/hostz"); }},
      {"file moved to another directory",
       [](const fs::path& r) { fs::rename(r / "etc/hosts", r / "empty/hosts"); }},
  };
  TempDir tmp;
  fs::path base = tmp.path() / "base";
  fs::create_directories(base);
  MakeTree(base);
  const std::string before = Digest(base);
  for (size_t i = 0; i < changes.size(); ++i) {
    fs::path tree = tmp.path() / ("t" + std::to_string(i));
    fs::create_directories(tree);
    MakeTree(tree);
    ASSERT_EQ(Digest(tree), before) << changes[i].what;
    changes[i].apply(tree);
    EXPECT_NE(Digest(tree), before) << changes[i].what;
  }
}

TEST(TreeDigestTest, RefusesFifosSocketsAndDevices) {
  TempDir tmp;
  fs::path fifo_tree = tmp.path() / "fifo";
  fs::create_directories(fifo_tree / "run");
  ASSERT_EQ(mkfifo((fifo_tree / "run/pipe").c_str(), 0600), 0);
  auto digest = TreeDigest(fifo_tree);
  ASSERT_FALSE(digest.ok());
  EXPECT_NE(digest.error().message.find("run/pipe"), std::string::npos) << digest.error().message;
  EXPECT_NE(digest.error().message.find("is a fifo"), std::string::npos) << digest.error().message;

  fs::path socket_tree = tmp.path() / "socket";
  fs::create_directories(socket_tree);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string socket_path = (socket_tree / "s").string();
  ASSERT_LT(socket_path.size(), sizeof addr.sun_path);
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  close(fd);
  digest = TreeDigest(socket_tree);
  ASSERT_FALSE(digest.ok());
  EXPECT_NE(digest.error().message.find("is a socket"), std::string::npos)
      << digest.error().message;

  if (IsRoot()) {
    fs::path dev_tree = tmp.path() / "dev";
    fs::create_directories(dev_tree / "dev");
    ASSERT_EQ(mknod((dev_tree / "dev/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
    digest = TreeDigest(dev_tree);
    ASSERT_FALSE(digest.ok());
    EXPECT_NE(digest.error().message.find("is a character device"), std::string::npos)
        << digest.error().message;
  }
}

TEST(TreeDigestTest, RefusesWhatIsNotADirectory) {
  TempDir tmp;
  EXPECT_FALSE(TreeDigest(tmp.path() / "missing").ok());
  Write(tmp.path() / "file", "x");
  auto digest = TreeDigest(tmp.path() / "file");
  ASSERT_FALSE(digest.ok());
  EXPECT_NE(digest.error().message.find("not a directory"), std::string::npos);
}

}  // namespace
}  // namespace mvm::runtime::rootfs
