// WriteFileAtomically on a real directory: contents, modes, no leftovers.

#include "ir/support/os/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "tests/support/files.h"
#include "tests/support/temp_dir.h"

namespace mvm::os {
namespace {

namespace fs = std::filesystem;

TEST(WriteFileAtomicallyTest, ReplacesTheFileAndLeavesNothingElse) {
  testing::TempDir dir;
  fs::path path = dir.path() / "state.json";
  ASSERT_TRUE(WriteFileAtomically(path, "one").ok());
  EXPECT_EQ(testing::ReadFile(path), "one");
  ASSERT_TRUE(WriteFileAtomically(path, "two, longer").ok());
  EXPECT_EQ(testing::ReadFile(path), "two, longer");
  ASSERT_TRUE(WriteFileAtomically(path, "").ok());
  EXPECT_EQ(testing::ReadFile(path), "");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST(WriteFileAtomicallyTest, ThisBootOnlyStillReplacesWholeFilesWithTheirMode) {
  testing::TempDir dir;
  fs::path path = dir.path() / "sandbox.json";
  for (std::string_view text : {"one", "two, longer", ""}) {
    ASSERT_TRUE(WriteFileAtomically(path, text, kPrivateFile, Durability::kThisBootOnly).ok());
    EXPECT_EQ(testing::ReadFile(path), text);
  }
  EXPECT_EQ(fs::status(path).permissions(), fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST(WriteFileAtomicallyTest, ModesFollowTheUmaskUnlessExact) {
  testing::TempDir dir;
  mode_t old = umask(077);
  auto masked = WriteFileAtomically(dir.path() / "masked", "x", {0644, false});
  auto exact = WriteFileAtomically(dir.path() / "exact", "x", {0644, true});
  umask(old);
  ASSERT_TRUE(masked.ok() && exact.ok());
  struct stat st {};
  ASSERT_EQ(stat((dir.path() / "masked").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(stat((dir.path() / "exact").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
}

TEST(WriteFileAtomicallyTest, ReplacesASymlinkInsteadOfFollowingIt) {
  testing::TempDir dir;
  testing::WriteFile(dir.path() / "target", "keep");
  fs::create_symlink("target", dir.path() / "link");
  ASSERT_TRUE(WriteFileAtomically(dir.path() / "link", "new").ok());
  EXPECT_FALSE(fs::is_symlink(dir.path() / "link"));
  EXPECT_EQ(testing::ReadFile(dir.path() / "target"), "keep");
}

TEST(WriteFileAtomicallyTest, AMissingDirectoryIsAnErrorNamingThePath) {
  testing::TempDir dir;
  auto written = WriteFileAtomically(dir.path() / "no" / "file", "x");
  ASSERT_FALSE(written.ok());
  EXPECT_NE(written.error().message.find("cannot write `" + (dir.path() / "no/file").string() +
                                         "`: No such file or directory"),
            std::string::npos)
      << written.error().message;
}

}  // namespace
}  // namespace mvm::os
