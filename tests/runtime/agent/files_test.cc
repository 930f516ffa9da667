// File requests through the real agent: contents and modes, listing, removal, and confinement to
// --files-root (`..`, absolute and relative symlinks refused, recursive removal not following
// symlinks).

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <random>

#include "tests/runtime/agent/agent_process.h"

namespace mvm::runtime::agent::testing {
namespace {

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto client = agent_.Connect();
    ASSERT_TRUE(client) << client.error().message;
    client_.emplace(std::move(*client));
    // Outside the files root, next to it: what escapes would reach.
    outside_ = agent_.dir() / "outside";
    fs::create_directory(outside_);
    WriteFile(outside_ / "secret.txt", "secret");
  }

  static void ExpectEscape(const ErrorOr<Ok>& result) {
    ASSERT_FALSE(result);
    EXPECT_NE(result.error().message.find("path escapes the sandbox root (symlink or ..)"),
              std::string::npos)
        << result.error().message;
  }
  template <typename T>
  static void ExpectEscape(const ErrorOr<T>& result) {
    ASSERT_FALSE(result);
    EXPECT_NE(result.error().message.find("path escapes the sandbox root (symlink or ..)"),
              std::string::npos)
        << result.error().message;
  }

  uint32_t ModeOf(const fs::path& path) {
    struct stat st {};
    EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  }

  AgentProcess agent_;
  std::optional<Client> client_;
  fs::path outside_;
};

TEST_F(FilesTest, WriteThenReadRoundTripsEveryByte) {
  std::string data;
  for (int i = 0; i < 256; ++i) {
    data.push_back(static_cast<char>(i));
  }
  ASSERT_TRUE(client_->WriteFile("/bytes.bin", data));
  EXPECT_EQ(ReadFile(agent_.root() / "bytes.bin"), data);
  auto read = client_->ReadFile("/bytes.bin");
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(*read, data);
}

TEST_F(FilesTest, EmptyFile) {
  ASSERT_TRUE(client_->WriteFile("/empty", ""));
  auto read = client_->ReadFile("/empty");
  ASSERT_TRUE(read);
  EXPECT_EQ(*read, "");
}

TEST_F(FilesTest, WriteTruncatesAndSetsTheMode) {
  ASSERT_TRUE(client_->WriteFile("/f", "a long first version", 0600));
  EXPECT_EQ(ModeOf(agent_.root() / "f"), 0600u);
  ASSERT_TRUE(client_->WriteFile("/f", "short", 0751));
  EXPECT_EQ(ReadFile(agent_.root() / "f"), "short");
  EXPECT_EQ(ModeOf(agent_.root() / "f"), 0751u);
  auto bad = client_->WriteFile("/f", "x", 010000);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("07777"), std::string::npos);
}

TEST_F(FilesTest, LargeFilesGoInChunks) {
  std::string data(20u << 20, '\0');
  std::mt19937 random(42);
  for (char& c : data) {
    c = static_cast<char>(random());
  }
  auto written = client_->WriteFile("/large.bin", data);
  ASSERT_TRUE(written) << written.error().message;
  EXPECT_EQ(fs::file_size(agent_.root() / "large.bin"), data.size());
  auto read = client_->ReadFile("/large.bin");
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_TRUE(*read == data);
}

TEST_F(FilesTest, ReadRefusesFilesLargerThanMaxBytes) {
  WriteFile(agent_.root() / "hundred", std::string(100, 'x'));
  auto read = client_->ReadFile("/hundred", 10);
  ASSERT_FALSE(read);
  EXPECT_NE(read.error().message.find("`/hundred`: file is 100 bytes"), std::string::npos)
      << read.error().message;
  EXPECT_TRUE(client_->ReadFile("/hundred", 100));
}

TEST_F(FilesTest, ReadOfAMissingFileOrADirectoryIsAnError) {
  auto missing = client_->ReadFile("/missing");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("`/missing`: No such file"), std::string::npos);
  fs::create_directory(agent_.root() / "dir");
  EXPECT_FALSE(client_->ReadFile("/dir"));
}

TEST_F(FilesTest, FifosAreRefusedWithoutBlocking) {
  ASSERT_EQ(mkfifo((agent_.root() / "fifo").c_str(), 0644), 0);
  auto read = client_->ReadFile("/fifo");
  ASSERT_FALSE(read);
  EXPECT_NE(read.error().message.find("not a regular file"), std::string::npos);
  EXPECT_FALSE(client_->WriteFile("/fifo", "x"));
  EXPECT_TRUE(client_->Hello());
}

TEST_F(FilesTest, RelativePathsAreRefused) {
  auto read = client_->ReadFile("bytes.bin");
  ASSERT_FALSE(read);
  EXPECT_NE(read.error().message.find("path must be absolute"), std::string::npos);
}

TEST_F(FilesTest, ParentsAreCreatedOnlyWhenAsked) {
  auto refused = client_->WriteFile("/a/b/c.txt", "x");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("make_parents"), std::string::npos)
      << refused.error().message;
  EXPECT_FALSE(fs::exists(agent_.root() / "a"));
  ASSERT_TRUE(client_->WriteFile("/a/b/c.txt", "x", 0644, true));
  EXPECT_EQ(ReadFile(agent_.root() / "a/b/c.txt"), "x");
}

TEST_F(FilesTest, ListReportsNamesTypesSizesAndModes) {
  WriteFile(agent_.root() / "file", "12345");
  chmod((agent_.root() / "file").c_str(), 0640);
  fs::create_directory(agent_.root() / "dir");
  chmod((agent_.root() / "dir").c_str(), 0750);
  fs::create_symlink("file", agent_.root() / "link");
  auto entries = client_->List("/");
  ASSERT_TRUE(entries) << entries.error().message;
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0].name, "dir");
  EXPECT_EQ((*entries)[0].type, FileEntry::Type::kDir);
  EXPECT_EQ((*entries)[0].mode, 0750u);
  EXPECT_EQ((*entries)[1].name, "file");
  EXPECT_EQ((*entries)[1].type, FileEntry::Type::kFile);
  EXPECT_EQ((*entries)[1].size, 5u);
  EXPECT_EQ((*entries)[1].mode, 0640u);
  EXPECT_EQ((*entries)[2].name, "link");
  EXPECT_EQ((*entries)[2].type, FileEntry::Type::kSymlink);
  EXPECT_EQ((*entries)[2].link_target, "file");
  EXPECT_EQ((*entries)[1].link_target, "");

  auto empty = client_->List("/dir");
  ASSERT_TRUE(empty) << empty.error().message;
  EXPECT_TRUE(empty->empty());

  auto of_file = client_->List("/file");
  ASSERT_FALSE(of_file);
  EXPECT_NE(of_file.error().message.find("not a directory"), std::string::npos);
}

TEST_F(FilesTest, RemoveFilesAndDirectories) {
  WriteFile(agent_.root() / "file", "x");
  fs::create_directories(agent_.root() / "empty");
  fs::create_directories(agent_.root() / "tree/sub/deeper");
  WriteFile(agent_.root() / "tree/sub/deeper/f", "x");
  ASSERT_TRUE(client_->Remove("/file", false));
  ASSERT_TRUE(client_->Remove("/empty", false));
  auto refused = client_->Remove("/tree", false);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("not empty; set recursive"), std::string::npos);
  ASSERT_TRUE(client_->Remove("/tree", true));
  EXPECT_TRUE(fs::is_empty(agent_.root()));
  EXPECT_FALSE(client_->Remove("/file", false));
  auto root = client_->Remove("/", true);
  ASSERT_FALSE(root);
  EXPECT_NE(root.error().message.find("sandbox root itself"), std::string::npos);
}

TEST_F(FilesTest, DotDotCannotLeaveTheRoot) {
  fs::create_directory(agent_.root() / "a");
  ExpectEscape(client_->ReadFile("/../outside/secret.txt"));
  ExpectEscape(client_->ReadFile("/a/../../outside/secret.txt"));
  ExpectEscape(client_->WriteFile("/../outside/new.txt", "x"));
  ExpectEscape(client_->List("/.."));
  ExpectEscape(client_->Remove("/../outside/secret.txt", false));
  EXPECT_FALSE(fs::exists(outside_ / "new.txt"));
  EXPECT_TRUE(fs::exists(outside_ / "secret.txt"));
  // `..` that stays inside is fine.
  WriteFile(agent_.root() / "inside.txt", "in");
  auto read = client_->ReadFile("/a/../inside.txt");
  ASSERT_TRUE(read);
  EXPECT_EQ(*read, "in");
}

TEST_F(FilesTest, AbsoluteSymlinksAreRefused) {
  fs::create_directory_symlink(outside_, agent_.root() / "abs");
  ExpectEscape(client_->ReadFile("/abs/secret.txt"));
  ExpectEscape(client_->WriteFile("/abs/new.txt", "x"));
  ExpectEscape(client_->WriteFile("/abs/sub/new.txt", "x", 0644, true));
  ExpectEscape(client_->List("/abs"));
  EXPECT_FALSE(fs::exists(outside_ / "new.txt"));
  EXPECT_FALSE(fs::exists(outside_ / "sub"));
  // Even one pointing inside the root: an absolute target is resolved from the real root.
  fs::create_symlink(agent_.root() / "target", agent_.root() / "abs-inside");
  WriteFile(agent_.root() / "target", "t");
  ExpectEscape(client_->ReadFile("/abs-inside"));
}

TEST_F(FilesTest, RelativeSymlinksOutOfTheRootAreRefused) {
  fs::create_directory(agent_.root() / "d");
  fs::create_directory_symlink("../../outside", agent_.root() / "d/rel");
  ExpectEscape(client_->ReadFile("/d/rel/secret.txt"));
  ExpectEscape(client_->WriteFile("/d/rel/new.txt", "x"));
  fs::create_symlink("../outside/secret.txt", agent_.root() / "file-link");
  ExpectEscape(client_->ReadFile("/file-link"));
  // A dangling link out of the root must not let a write create its target.
  fs::create_symlink("../outside/created.txt", agent_.root() / "dangling");
  ExpectEscape(client_->WriteFile("/dangling", "x"));
  EXPECT_FALSE(fs::exists(outside_ / "created.txt"));
}

TEST_F(FilesTest, SymlinksInsideTheRootAreFollowed) {
  fs::create_directory(agent_.root() / "real");
  WriteFile(agent_.root() / "real/f", "followed");
  fs::create_directory_symlink("real", agent_.root() / "alias");
  auto read = client_->ReadFile("/alias/f");
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(*read, "followed");
}

TEST_F(FilesTest, RemovingASymlinkRemovesTheLinkOnly) {
  fs::create_directory_symlink(outside_, agent_.root() / "abs");
  ASSERT_TRUE(client_->Remove("/abs", false));
  EXPECT_FALSE(fs::exists(fs::symlink_status(agent_.root() / "abs")));
  EXPECT_TRUE(fs::exists(outside_ / "secret.txt"));
}

TEST_F(FilesTest, RecursiveRemoveDoesNotFollowSymlinks) {
  fs::create_directories(agent_.root() / "tree/sub");
  WriteFile(agent_.root() / "tree/sub/f", "x");
  fs::create_directory_symlink(outside_, agent_.root() / "tree/abs");
  fs::create_directory_symlink("../../../outside", agent_.root() / "tree/sub/rel");
  ASSERT_TRUE(client_->Remove("/tree", true));
  EXPECT_FALSE(fs::exists(fs::symlink_status(agent_.root() / "tree")));
  EXPECT_EQ(ReadFile(outside_ / "secret.txt"), "secret");
}

TEST(FilesMagicLinkTest, ProcMagicLinksAreRefused) {
  // With the real root, /proc/self/root is the only way out that RESOLVE_BENEATH alone would let
  // through; RESOLVE_NO_MAGICLINKS closes it.
  AgentProcess agent({}, "/");
  auto client = agent.Connect();
  ASSERT_TRUE(client) << client.error().message;
  auto read = client->ReadFile("/proc/self/root/etc/hostname");
  ASSERT_FALSE(read);
  EXPECT_NE(read.error().message.find("magic link"), std::string::npos) << read.error().message;
}

// FileMake, what a snapshot restore writes besides files: directories with their modes, and
// symlinks stored as given; confined like every other request.
TEST_F(FilesTest, MakeDirectoryAndSymlink) {
  ASSERT_TRUE(client_->MakeDirectory("/d", 0700));
  EXPECT_TRUE(fs::is_directory(agent_.root() / "d"));
  EXPECT_EQ(ModeOf(agent_.root() / "d"), 0700u);
  // An existing directory is kept, with the new mode.
  WriteFile(agent_.root() / "d" / "kept", "k");
  ASSERT_TRUE(client_->MakeDirectory("/d", 01777));
  EXPECT_EQ(ModeOf(agent_.root() / "d"), 01777u);
  EXPECT_TRUE(fs::exists(agent_.root() / "d" / "kept"));
  EXPECT_FALSE(client_->MakeDirectory("/d", 010000));  // beyond 07777

  ASSERT_TRUE(client_->MakeSymlink("/d/link", "../elsewhere/x"));
  EXPECT_EQ(fs::read_symlink(agent_.root() / "d" / "link"), "../elsewhere/x");
  auto again = client_->MakeSymlink("/d/link", "y");
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find("File exists"), std::string::npos) << again.error().message;
  EXPECT_FALSE(client_->MakeSymlink("/d/empty", ""));

  // A symlink where a directory is asked for is refused, never followed to set a mode.
  fs::create_directory_symlink(outside_, agent_.root() / "out");
  const uint32_t outside_mode = ModeOf(outside_);
  auto through = client_->MakeDirectory("/out", 0777);
  ASSERT_FALSE(through);
  EXPECT_NE(through.error().message.find("exists and is not a directory"), std::string::npos)
      << through.error().message;
  EXPECT_EQ(ModeOf(outside_), outside_mode);
  // Neither can leave the root through `..` or a symlinked parent.
  ExpectEscape(client_->MakeDirectory("/../outside/new", 0755));
  ExpectEscape(client_->MakeSymlink("/out/new-link", "x"));
  EXPECT_FALSE(fs::exists(outside_ / "new"));
  EXPECT_FALSE(fs::exists(outside_ / "new-link"));
}

}  // namespace
}  // namespace mvm::runtime::agent::testing
