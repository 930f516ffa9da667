// The Debian images of the rootfs cache as `mvmctl templates` lists them and `mvmctl gc
// --debian-images` collects them (runtime/launcher/rootfs_cache.h): sizes, pins and package counts
// read from the cache's own layout, users found in sandbox records and snapshots, and only the
// images nothing uses removed, sealed trees and all.

#include "runtime/launcher/rootfs_cache.h"

#include <sys/file.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/support/os/unique_fd.h"
#include "tests/support/files.h"
#include "tests/support/mvmctl.h"
#include "tests/support/temp_dir.h"

namespace mvm::runtime {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Hex(char c) { return std::string(64, c); }

/// A pin's directory as MaterializeDebianImage leaves it: `packages.lock` with `packages` lines, a
/// sealed tree `sha256-<tree>` holding `bytes` bytes, and `current` naming it.
fs::path MakeImage(const fs::path& cache, char pin, char tree, size_t packages, size_t bytes) {
  const fs::path dir = cache / "debian" / ("sha256-" + Hex(pin));
  const fs::path root = dir / ("sha256-" + Hex(tree));
  std::string lock;
  for (size_t i = 0; i < packages; ++i) {
    lock += "pkg" + std::to_string(i) + " 1.0 amd64 " + Hex('0') + "\n";
  }
  testing::WriteFile(dir / "packages.lock", lock);
  testing::WriteFile(dir / "lock", "");
  testing::WriteFile(root / "usr" / "bin" / "tool", std::string(bytes, 'x'));
  fs::create_symlink("/usr/bin/tool", root / "usr" / "bin" / "alias");
  fs::create_symlink("sha256-" + Hex(tree), dir / "current");
  for (const fs::path& p :
       {root / "usr" / "bin" / "tool", (root / "usr" / "bin"), root / "usr", root}) {
    ::chmod(p.c_str(), fs::is_directory(p) ? 0555 : 0444);
  }
  return dir;
}

class RootfsCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_.root = dir_.path() / "state";
    fs::create_directories(state_.Sandboxes());
    used_ = MakeImage(state_.RootfsCache(), 'a', 'b', 99, 3000);
    snapped_ = MakeImage(state_.RootfsCache(), 'c', 'd', 5, 10);
    unused_ = MakeImage(state_.RootfsCache(), 'e', 'f', 7, 2 << 20);
    // Not a pin's directory: apt's private state beside the images is never listed or removed.
    testing::WriteFile(state_.RootfsCache() / "debian" / "apt-bookworm" / "lists" / "x", "x");
    SandboxRecord r;
    r.name = "web";
    r.workload_id = "web";
    r.backend = "container";
    r.root_fs = "sha256:" + Hex('b');
    r.created_at = "2026-12-07T00:00:00Z";
    ASSERT_TRUE(WriteRecord(state_, r));
    // A snapshot's description names the tree its sandbox ran on.
    testing::WriteFile(state_.root / "snapshots" / "gone" / "s1.json",
                       nlohmann::json{{"schema", "mvm.snapshot/v1"},
                                      {"sandbox", "gone"},
                                      {"label", "s1"},
                                      {"sha256", Hex('0')},
                                      {"bytes", 0},
                                      {"workload_id", "gone"},
                                      {"payload_digest", "sha256:" + Hex('1')},
                                      {"root_fs", "sha256:" + Hex('d')},
                                      {"backend", "container"},
                                      {"created_at", "2026-12-07T00:00:00Z"},
                                      {"paths", nlohmann::json::array()},
                                      {"skipped", nlohmann::json::array()},
                                      {"files", 0},
                                      {"directories", 0},
                                      {"symlinks", 0}}
                           .dump());
  }

  mvm::testing::TempDir dir_;
  StateDir state_;
  fs::path used_, snapped_, unused_;
};

TEST_F(RootfsCacheTest, ListsEachPinWithItsSizePackagesAndUsers) {
  std::vector<std::string> problems;
  const auto uses = ListDebianImageUses(state_, problems);
  EXPECT_TRUE(problems.empty()) << ::testing::PrintToString(problems);
  ASSERT_EQ(uses.size(), 3u);
  EXPECT_EQ(uses[0].image.pin, "sha256:" + Hex('a'));
  EXPECT_EQ(uses[0].image.current, "sha256:" + Hex('b'));
  EXPECT_THAT(uses[0].image.trees, ElementsAre("sha256:" + Hex('b')));
  EXPECT_EQ(uses[0].image.packages, 99u);
  EXPECT_EQ(uses[0].image.bytes, 3000u) << "the symlink is not followed, so the file counts once";
  EXPECT_THAT(uses[0].users, ElementsAre("sandbox web"));
  EXPECT_THAT(uses[1].users, ElementsAre("snapshot gone/s1"));
  EXPECT_EQ(uses[2].image.bytes, 2u << 20);
  EXPECT_TRUE(uses[2].users.empty());
}

TEST_F(RootfsCacheTest, RemovingAnImageTakesItsSealedTreesAndWaitsForNoBuild) {
  const auto images = rootfs::ListDebianImages(state_.RootfsCache());
  ASSERT_EQ(images.size(), 3u);
  {
    // A build holds the pin's lock: the image is left alone.
    os::UniqueFd held(::open((unused_ / "lock").c_str(), O_RDWR | O_CLOEXEC));
    ASSERT_EQ(::flock(held.get(), LOCK_EX), 0);
    auto refused = rootfs::RemoveDebianImage(images[2]);
    ASSERT_FALSE(refused);
    EXPECT_THAT(refused.error().message, HasSubstr("is being built"));
    EXPECT_TRUE(fs::exists(unused_ / ("sha256-" + Hex('f')) / "usr" / "bin" / "tool"));
  }
  ASSERT_TRUE(rootfs::RemoveDebianImage(images[2]));
  EXPECT_FALSE(fs::exists(unused_));
  EXPECT_TRUE(fs::exists(used_));
}

TEST_F(RootfsCacheTest, TemplatesListsAndGcCollectsOnlyWhatNothingUses) {
  using mvm::testing::Mvmctl;
  mvm::testing::Result listed = Mvmctl({"templates", "--format", "json"}, "", state_.root);
  ASSERT_EQ(listed.status, 0) << mvm::testing::Describe(listed);
  const nlohmann::json j = nlohmann::json::parse(listed.out);
  ASSERT_EQ(j["debian"].size(), 3u) << listed.out;
  EXPECT_EQ(j["debian"][0]["pin"], "sha256:" + Hex('a'));
  EXPECT_EQ(j["debian"][0]["packages"], 99);
  EXPECT_EQ(j["debian"][0]["bytes"], 3000);
  EXPECT_EQ(j["debian"][0]["used_by"], nlohmann::json::array({"sandbox web"}));
  EXPECT_EQ(j["debian"][2]["used_by"], nlohmann::json::array());
  EXPECT_EQ(j["templates"][0]["name"], "busybox");
  EXPECT_EQ(j["templates"][0]["wanted_revision"], "1");
  // The fixture's trees record no recipe revision, as trees from before revisions: stale.
  EXPECT_EQ(j["debian"][0]["stale"], true);
  EXPECT_EQ(j["debian"][0]["revision"], "");
  mvm::testing::Result table = Mvmctl({"templates"}, "", state_.root);
  EXPECT_THAT(table.out, HasSubstr("Debian image sha256:" + Hex('a') +
                                   " was built by recipe revision (none); this mvm builds "
                                   "revision 2"));
  EXPECT_THAT(table.out, HasSubstr("sha256:" + Hex('e')));
  EXPECT_THAT(table.out, HasSubstr("2.0 MiB"));
  EXPECT_THAT(table.out, HasSubstr("`mvmctl gc --debian-images` removes it"));

  // Plain gc keeps every image (it destroys the stopped sandbox `web`, whose record held one).
  mvm::testing::Result plain = Mvmctl({"gc"}, "", state_.root);
  ASSERT_EQ(plain.status, 0) << mvm::testing::Describe(plain);
  EXPECT_THAT(plain.out, HasSubstr("removed 1 stopped sandbox\n"));
  EXPECT_TRUE(fs::exists(unused_));
  EXPECT_TRUE(fs::exists(used_));
  // With the flag, what nothing refers to now goes, audited; the snapshot keeps its image.
  mvm::testing::Result gc = Mvmctl({"gc", "--debian-images"}, "", state_.root);
  ASSERT_EQ(gc.status, 0) << mvm::testing::Describe(gc);
  EXPECT_THAT(gc.out, HasSubstr("removed 2 Debian images (2 MiB)"));
  EXPECT_FALSE(fs::exists(unused_));
  EXPECT_FALSE(fs::exists(used_));
  EXPECT_TRUE(fs::exists(snapped_));
  EXPECT_TRUE(fs::exists(state_.RootfsCache() / "debian" / "apt-bookworm" / "lists" / "x"));
  std::ifstream audit(state_.AuditLog());
  std::string text((std::istreambuf_iterator<char>(audit)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("\"pin\":\"sha256:" + Hex('e') + "\""));
  EXPECT_THAT(text, HasSubstr("\"event\":\"image-delete\""));
}

}  // namespace
}  // namespace mvm::runtime
