// `Image.debian(packages=["jq"])` really built: apt resolves the set against deb.debian.org and
// mmdebstrap installs it in the builder sandbox, through the builder's egress proxy (network to the
// archive needed, a few minutes). Its own binary, labelled `template_build` in ctest like the
// python-3.11 template's build. Like that test, it hands the image it built to the cache the
// sandbox tests share ($MVM_TEST_ROOTFS_CACHE) when that has none, so that DebianImageE2E finds it
// there instead of building jq a second time.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

#include "runtime/rootfs/debian_image.h"
#include "tests/runtime/rootfs/builder_debootstrap.h"
#include "tests/runtime/rootfs/rootfs_test_util.h"
#include "tests/support/command.h"
#include "tests/support/prerequisite.h"
#include "tests/support/temp_dir.h"

namespace mvm::runtime::rootfs {
namespace {

namespace fs = std::filesystem;
using mvm::testing::TempDir;
using testing::IsRoot;

void Print(std::string_view line) {
  std::fprintf(stderr, "progress: %.*s\n", static_cast<int>(line.size()), line.data());
}

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(DebianImageBuildTest, BuildsJqPinnedByItsPackageSetAndHitsTheCacheAfterwards) {
  if (!IsRoot()) {
    MVM_MISSING_PREREQUISITE() << "mmdebstrap and chroot need root";
  }
  const char* shared_env = std::getenv("MVM_TEST_ROOTFS_CACHE");
  const fs::path shared = shared_env != nullptr ? shared_env : "";
  // Beside the shared cache when there is one: handing the image over is then one rename.
  if (!shared.empty()) {
    fs::create_directories(shared / ".scratch");
  }
  TempDir tmp(shared.empty() ? fs::temp_directory_path() : shared / ".scratch", "mvm-debian-image");
  const fs::path cache = tmp.path() / "rootfs";
  const DebianImageSpec spec{"bookworm", {"jq"}};
  auto builder = testing::TestBuilder::Open(tmp.path() / "state");
  ASSERT_TRUE(builder.ok()) << builder.error().message;
  const DebootstrapFn debootstrap = (*builder)->Debootstrap();

  auto start = std::chrono::steady_clock::now();
  auto first = MaterializeDebianImage(spec, "", cache, Print, debootstrap);
  ASSERT_TRUE(first.ok()) << first.error().message;
  const std::string audit = (*builder)->AuditText();
  EXPECT_NE(audit.find("\"builder-debootstrap\""), std::string::npos) << audit;
  EXPECT_NE(audit.find("\"include\":[\"jq\"]"), std::string::npos) << audit;
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "first build (resolve + mmdebstrap + seal): %.1f s\n", seconds);
  EXPECT_FALSE(first->tree.cache_hit);
  const fs::path& root = first->tree.dir;
  EXPECT_TRUE(fs::is_regular_file(root / "usr/bin/jq"));
  EXPECT_EQ(testing::ForeignOwners(root), "");
  EXPECT_TRUE(fs::is_regular_file(root / "usr/share/doc/jq/copyright"));
  EXPECT_FALSE(fs::exists(root / "usr/share/man/man1/jq.1.gz"));

  // The pin names jq and what it needs, and its digest is over exactly the lock file kept beside.
  const DebianPin& pin = first->pin;
  bool has_jq = false;
  bool has_libjq = false;
  for (const DebianPackage& p : pin.packages) {
    has_jq = has_jq || p.name == "jq";
    has_libjq = has_libjq || p.name == "libjq1";
    EXPECT_EQ(p.sha256.size(), 64u) << p.name;
  }
  EXPECT_TRUE(has_jq);
  EXPECT_TRUE(has_libjq);
  const fs::path image_dir = cache / "debian" / ("sha256-" + pin.digest.substr(7));
  EXPECT_EQ(ReadAll(image_dir / "packages.lock"), PinText(pin.packages));
  EXPECT_EQ(MakePin(pin.packages).digest, pin.digest);
  EXPECT_TRUE(first->tree.dir.string().starts_with(image_dir.string()));

  // A plan's pin is a cache hit with no resolving at all (no network).
  auto pinned = MaterializeDebianImage(spec, pin.digest, cache, Print, debootstrap);
  ASSERT_TRUE(pinned.ok()) << pinned.error().message;
  EXPECT_TRUE(pinned->tree.cache_hit);
  EXPECT_EQ(pinned->tree.digest, first->tree.digest);
  EXPECT_TRUE(pinned->pin.packages.empty());

  // The declaration again: resolved again (the archive has not moved in a minute), same pin, hit.
  auto again = MaterializeDebianImage(spec, "", cache, Print, debootstrap);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_TRUE(again->tree.cache_hit);
  EXPECT_EQ(again->pin.digest, pin.digest);
  EXPECT_EQ(again->tree.dir, first->tree.dir);

  // A pin this machine never built, whose set the archive no longer resolves to: refused, and
  // nothing is published under it.
  const std::string stale = "sha256:" + std::string(64, '0');
  auto refused = MaterializeDebianImage(spec, stale, cache, Print, debootstrap);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("make the plan again"), std::string::npos)
      << refused.error().message;
  EXPECT_FALSE(fs::exists(cache / "debian" / ("sha256-" + std::string(64, '0')) / "current"));

  // The image's whole directory moves (tree, lock files, `current`); a cache that has this set
  // already keeps its own.
  if (!shared.empty() && !HasFailure()) {
    std::error_code ec;
    fs::create_directories(shared / "debian", ec);
    fs::rename(image_dir, shared / "debian" / image_dir.filename(), ec);
    if (ec && ec != std::errc::directory_not_empty && ec != std::errc::file_exists) {
      ADD_FAILURE() << "cannot hand the image to " << shared << ": " << ec.message();
    }
  }
}

TEST(DebianImageBuildTest, AnUnknownPackageIsAnErrorNamingIt) {
  if (!IsRoot()) {
    MVM_MISSING_PREREQUISITE() << "apt's private state directory is created as root";
  }
  TempDir tmp(fs::temp_directory_path(), "mvm-debian-unknown");
  auto made = MaterializeDebianImage({"bookworm", {"no-such-package-mvm"}}, "",
                                     tmp.path() / "rootfs", Print);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().message.find("no-such-package-mvm"), std::string::npos)
      << made.error().message;
}

}  // namespace
}  // namespace mvm::runtime::rootfs
