#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>

#include "backend-emit/nix/build.h"
#include "backend-emit/nix/nar.h"
#include "tests/support/files.h"
#include "tests/support/prerequisite.h"
#include "tests/support/temp_dir.h"

namespace mvm::nix {
namespace {

namespace fs = std::filesystem;
using mvm::testing::TempDir;
using mvm::testing::WriteFile;

// A tree with each kind of NAR node: plain and executable files, a symlink, nested and empty
// directories, and a file whose length is not a multiple of 8 (padding).
void MakeTree(const fs::path& root) {
  WriteFile(root / "a.txt", "hello\n");
  WriteFile(root / "run.sh", "#!/bin/sh\necho hi\n", fs::perms(0755));
  fs::create_directory_symlink("a.txt", root / "link");
  WriteFile(root / "sub" / "seven", "1234567");
  fs::create_directories(root / "sub" / "empty");
}

// Computed with `nix hash path --base16` (Nix 2.8) over the same tree.
constexpr std::string_view kTreeHash =
    "sha256:84589cf42bb0550ecd37250eaa6bd19f0120cc00c78fc59f63e740bb537137e0";
constexpr std::string_view kFileHash =
    "sha256:1c37d01af40be2e80691de3cc3df44377a699afbb17c68f080964b2fd071fc13";
constexpr std::string_view kLinkHash =
    "sha256:8d3c00cfa866e4d1b809772afeac240786246221eb2c574d69c4bba168834e81";

TEST(NarHashTest, MatchesNixForEveryKindOfNode) {
  TempDir tmp;
  fs::path tree = tmp.path() / "tree";
  MakeTree(tree);
  auto hash = NarHash(tree);
  ASSERT_TRUE(hash.ok()) << hash.error().message;
  EXPECT_EQ(*hash, kTreeHash);
  EXPECT_EQ(*NarHash(tree / "a.txt"), kFileHash);
  EXPECT_EQ(*NarHash(tree / "link"), kLinkHash);
}

TEST(NarHashTest, IgnoresTimesAndOwnersButNotTheExecutableBit) {
  TempDir tmp;
  fs::path tree = tmp.path() / "tree";
  MakeTree(tree);
  fs::last_write_time(tree / "a.txt", fs::file_time_type::clock::now() - std::chrono::hours(48));
  fs::permissions(tree / "sub", fs::perms(0500));
  EXPECT_EQ(*NarHash(tree), kTreeHash);
  fs::permissions(tree / "sub", fs::perms(0755));
  fs::permissions(tree / "a.txt", fs::perms(0744));
  EXPECT_NE(*NarHash(tree), kTreeHash);
}

TEST(NarHashTest, AgreesWithTheRealNix) {
  auto nix = FindNix();
  if (!nix) {
    MVM_MISSING_PREREQUISITE() << nix.error().message;
  }
  TempDir tmp;
  fs::path tree = tmp.path() / "tree";
  MakeTree(tree);
  WriteFile(tree / "sub" / "big", std::string(200000, 'x'));
  std::string command = nix->string() +
                        " --extra-experimental-features nix-command hash path --base16 " +
                        tree.string();
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char line[128] = {};
  ASSERT_NE(fgets(line, sizeof line, pipe), nullptr);
  ASSERT_EQ(pclose(pipe), 0);
  std::string expected = "sha256:" + std::string(line, 64);
  EXPECT_EQ(*NarHash(tree), expected);
}

TEST(NarHashTest, RefusesWhatANarCannotHold) {
  TempDir tmp;
  fs::path fifo = tmp.path() / "fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  auto hash = NarHash(tmp.path());
  ASSERT_FALSE(hash.ok());
  EXPECT_NE(hash.error().message.find("not a regular file, directory or symlink"),
            std::string::npos);
  EXPECT_FALSE(NarHash(tmp.path() / "missing").ok());
}

TEST(SriToDigestTest, ConvertsSha256AndRefusesTheRest) {
  auto digest = SriToDigest("sha256-G6yIn7+hl0euA95zw1nX1XlvvlH+Va928zE57eRk2io=");
  ASSERT_TRUE(digest.ok()) << digest.error().message;
  EXPECT_EQ(*digest, "sha256:1bac889fbfa19747ae03de73c359d7d5796fbe51fe55af76f33139ede464da2a");
  EXPECT_TRUE(IsSha256Digest(*digest));
  EXPECT_FALSE(SriToDigest("sha512-G6yIn7+hl0euA95zw1nX1XlvvlH+Va928zE57eRk2io=").ok());
  EXPECT_FALSE(SriToDigest("sha256-G6yIn7+hl0euA95zw1nX1XlvvlH+Va928zE57eRk2i=").ok());
  EXPECT_FALSE(SriToDigest("sha256-AAAA").ok());
  EXPECT_FALSE(SriToDigest("sha256:1bac").ok());
}

TEST(SriToDigestTest, IsSha256Digest) {
  EXPECT_TRUE(IsSha256Digest("sha256:" + std::string(64, '0')));
  EXPECT_FALSE(IsSha256Digest("sha256:" + std::string(63, '0')));
  EXPECT_FALSE(IsSha256Digest("sha256:" + std::string(64, 'A')));
  EXPECT_FALSE(IsSha256Digest("sha512:" + std::string(64, '0')));
  EXPECT_FALSE(IsSha256Digest(std::string(64, '0')));
}

}  // namespace
}  // namespace mvm::nix
