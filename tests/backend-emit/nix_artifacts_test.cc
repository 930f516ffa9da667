#include <gtest/gtest.h>

#include "backend-emit/nix/artifacts.h"
#include "backend-emit/nix/nar.h"
#include "tests/support/files.h"
#include "tests/support/temp_dir.h"

namespace mvm::nix {
namespace {

namespace fs = std::filesystem;
using mvm::testing::TempDir;
using mvm::testing::WriteFile;

struct Built {
  fs::path state;
  BuiltArtifact artifact;
};

// A tree laid out as in a local store at `<tmp>/store`, and its record's fields.
Built MakeBuilt(const TempDir& tmp) {
  Built b;
  b.state = tmp.path() / "state";
  fs::path tree = tmp.path() / "store" / "nix" / "store" / "abc-rootfs";
  WriteFile(tree / "bin" / "busybox", "not really busybox", fs::perms(0555));
  fs::create_symlink("busybox", tree / "bin" / "sh");
  fs::create_directories(tree / "proc");
  b.artifact.nar_hash = *NarHash(tree);
  b.artifact.store_path = "/nix/store/abc-rootfs";
  b.artifact.store = (tmp.path() / "store").string();
  b.artifact.flake_ref = "path:/templates";
  b.artifact.attr = "packages.x86_64-linux.busybox";
  b.artifact.built_at = "2025-01-01T00:00:00Z";
  b.artifact.tree = tree;
  return b;
}

TEST(BuiltArtifactTest, RecordedTreesAreFoundByDigest) {
  TempDir tmp;
  Built b = MakeBuilt(tmp);
  auto recorded = RecordBuiltArtifact(b.state, b.artifact);
  ASSERT_TRUE(recorded.ok()) << recorded.error().message;
  EXPECT_EQ(*recorded, b.state / "artifacts" / (b.artifact.nar_hash.substr(7) + ".json"));
  auto found = FindBuiltArtifact(b.state, b.artifact.nar_hash);
  ASSERT_TRUE(found.ok()) << found.error().message;
  EXPECT_EQ(*found, b.artifact.tree);
  auto read = ReadBuiltArtifact(b.state, b.artifact.nar_hash);
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read->store_path, "/nix/store/abc-rootfs");
  EXPECT_EQ(read->flake_ref, "path:/templates");
  EXPECT_EQ(read->attr, "packages.x86_64-linux.busybox");
  EXPECT_EQ(read->built_at, "2025-01-01T00:00:00Z");
  EXPECT_EQ(read->store, b.artifact.store);
}

TEST(BuiltArtifactTest, AChangedTreeIsRefused) {
  TempDir tmp;
  Built b = MakeBuilt(tmp);
  ASSERT_TRUE(RecordBuiltArtifact(b.state, b.artifact).ok());
  WriteFile(b.artifact.tree / "etc" / "passwd", "intruder::0:0::/:/bin/sh\n");
  auto found = FindBuiltArtifact(b.state, b.artifact.nar_hash);
  ASSERT_FALSE(found.ok());
  EXPECT_NE(found.error().message.find("has changed since it was built"), std::string::npos)
      << found.error().message;
}

TEST(BuiltArtifactTest, AMissingTreeOrRecordSaysToBuild) {
  TempDir tmp;
  Built b = MakeBuilt(tmp);
  auto none = FindBuiltArtifact(b.state, b.artifact.nar_hash);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("has been built here"), std::string::npos);
  EXPECT_NE(none.error().message.find("mvmctl build"), std::string::npos);

  ASSERT_TRUE(RecordBuiltArtifact(b.state, b.artifact).ok());
  fs::remove_all(b.artifact.tree);
  auto gone = FindBuiltArtifact(b.state, b.artifact.nar_hash);
  ASSERT_FALSE(gone.ok());
  EXPECT_NE(gone.error().message.find("is gone"), std::string::npos) << gone.error().message;
}

TEST(BuiltArtifactTest, MalformedDigestsAndRecordsAreRefused) {
  TempDir tmp;
  Built b = MakeBuilt(tmp);
  EXPECT_FALSE(FindBuiltArtifact(b.state, "sha256:../../etc/passwd").ok());
  EXPECT_FALSE(FindBuiltArtifact(b.state, "").ok());
  BuiltArtifact bad = b.artifact;
  bad.nar_hash = "md5:00";
  EXPECT_FALSE(RecordBuiltArtifact(b.state, bad).ok());

  // A record stored under another digest's name.
  ASSERT_TRUE(RecordBuiltArtifact(b.state, b.artifact).ok());
  std::string other = "sha256:" + std::string(64, 'e');
  fs::copy_file(b.state / "artifacts" / (b.artifact.nar_hash.substr(7) + ".json"),
                b.state / "artifacts" / (other.substr(7) + ".json"));
  auto swapped = FindBuiltArtifact(b.state, other);
  ASSERT_FALSE(swapped.ok());
  EXPECT_NE(swapped.error().message.find("is for"), std::string::npos);

  WriteFile(b.state / "artifacts" / (b.artifact.nar_hash.substr(7) + ".json"), "{\"tree\": 1}");
  auto damaged = FindBuiltArtifact(b.state, b.artifact.nar_hash);
  ASSERT_FALSE(damaged.ok());
  EXPECT_NE(damaged.error().message.find("is damaged"), std::string::npos);
}

}  // namespace
}  // namespace mvm::nix
