// The python-3.11 template, really built: mmdebstrap in the builder sandbox downloads Debian
// bookworm packages through the builder's egress proxy (a few minutes, network to the archive
// needed). Its own binary, labelled `template_build` in ctest.
//
// It always builds from scratch, and then hands the tree to the cache the sandbox tests share
// ($MVM_TEST_ROOTFS_CACHE) if that has none of this recipe revision yet: ctest runs it before them,
// so in a `.ci/run` python-3.11 is built by mmdebstrap once, here, instead of once more per state
// directory and preset.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "runtime/rootfs/rootfs.h"
#include "tests/runtime/rootfs/builder_debootstrap.h"
#include "tests/runtime/rootfs/rootfs_test_util.h"
#include "tests/support/command.h"
#include "tests/support/prerequisite.h"
#include "tests/support/temp_dir.h"

namespace mvm::runtime::rootfs {
namespace {

namespace fs = std::filesystem;
using mvm::testing::CommandResult;
using mvm::testing::TempDir;
using testing::IsRoot;

// stdout and stderr together, as a person at a terminal would see them.
CommandResult RunTool(const std::vector<std::string>& argv) {
  return mvm::testing::RunCommand(argv, mvm::testing::MergedOutput());
}

TEST(PythonTemplateTest, BuildsARootfsThatRunsPythonAndTheRunShim) {
  if (!IsRoot()) {
    MVM_MISSING_PREREQUISITE() << "mmdebstrap and chroot need root";
  }
  const char* shared_env = std::getenv("MVM_TEST_ROOTFS_CACHE");
  const fs::path shared = shared_env != nullptr ? shared_env : "";
  // Beside the shared cache when there is one: handing the tree over is then one rename.
  if (!shared.empty()) {
    fs::create_directories(shared / ".scratch");
  }
  TempDir tmp(shared.empty() ? fs::temp_directory_path() : shared / ".scratch",
              "mvm-python-template");
  const fs::path cache = tmp.path() / "cache";
  auto builder = testing::TestBuilder::Open(tmp.path() / "state");
  ASSERT_TRUE(builder.ok()) << builder.error().message;
  auto made = MaterializeTemplate(
      "python-3.11", cache,
      [](std::string_view line) {
        std::fprintf(stderr, "progress: %.*s\n", static_cast<int>(line.size()), line.data());
      },
      (*builder)->Debootstrap());
  ASSERT_TRUE(made.ok()) << made.error().message;
  // Made in the builder, not on the host: its record names the builder and the archive it reached.
  const std::string audit = (*builder)->AuditText();
  EXPECT_NE(audit.find("\"builder-debootstrap\""), std::string::npos) << audit;
  EXPECT_NE(audit.find("\"include\":[\"python3\",\"python3.11\"]"), std::string::npos);
  EXPECT_FALSE(made->cache_hit);
  EXPECT_GT(made->build_ms, 0u);
  const fs::path& root = made->dir;

  // What a hit would cost if it re-hashed the tree (it does not; see rootfs.h).
  auto start = std::chrono::steady_clock::now();
  auto digest = TreeDigest(root);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  ASSERT_TRUE(digest.ok()) << digest.error().message;
  EXPECT_EQ(*digest, made->digest);
  size_t entries = 0;
  uintmax_t bytes = 0;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    ++entries;
    bytes += it->is_regular_file() && !it->is_symlink() ? it->file_size() : 0;
  }
  EXPECT_EQ(testing::ForeignOwners(root), "");
  std::fprintf(stderr, "TreeDigest of the python-3.11 tree: %lld ms for %zu entries, %ju MiB\n",
               static_cast<long long>(ms), entries, bytes >> 20);
  RecordProperty("tree_digest_ms", std::to_string(ms));

  CommandResult version =
      RunTool({"chroot", root.string(), "python3", "-c", "import json,sys; print(sys.version)"});
  EXPECT_EQ(version.status, 0) << version.out;
  EXPECT_TRUE(version.out.starts_with("3.11.")) << version.out;
  CommandResult python =
      RunTool({"chroot", root.string(), "/usr/bin/python", "-c", "print(6 * 7)"});
  EXPECT_EQ(python.out, "42\n");

  // Stripped as documented in python_template.cc, and nothing more.
  EXPECT_TRUE(fs::is_empty(root / "dev"));
  EXPECT_FALSE(fs::exists(fs::symlink_status(root / "etc/resolv.conf")));
  EXPECT_TRUE(fs::is_empty(root / "usr/share/locale"));
  EXPECT_TRUE(fs::is_empty(root / "var/log"));
  EXPECT_TRUE(fs::is_regular_file(root / "usr/share/doc/python3.11-minimal/copyright"));
  EXPECT_TRUE(fs::is_regular_file(root / "var/lib/dpkg/status"));
  for (const char* dir : {"proc", "sys", "tmp", "run/mvm", ".mvm/sdk/python", "app", "home"}) {
    EXPECT_TRUE(fs::is_directory(root / dir)) << dir;
  }

  // The run shim in the template's interpreter, mounted the way the launcher mounts it: the SDK
  // read-only on /.mvm/sdk/python (PYTHONPATH) and the declaring file in /app. Private mounts in a
  // mount namespace of their own, so nothing outlives the command.
  const fs::path app = tmp.path() / "app";
  fs::create_directories(app);
  std::ofstream(app / "tiny.py") << "from mvm import workload\n"
                                    "\n"
                                    "@workload(\"tiny\", image=\"template:python-3.11\")\n"
                                    "def tiny():\n"
                                    "    print(\"hello from mvm\")\n"
                                    "    return 3\n";
  const std::string script =
      "mount --bind -o ro \"$1\" \"$3/.mvm/sdk/python\" && mount --bind -o ro \"$2\" \"$3/app\" && "
      "exec chroot \"$3\" /usr/bin/env PYTHONPATH=/.mvm/sdk/python PYTHONDONTWRITEBYTECODE=1 "
      "python3 -m mvm.run /app/tiny.py tiny";
  CommandResult shim =
      RunTool({"unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
               std::string(MVM_SOURCE_DIR) + "/sdks/python", app.string(), root.string()});
  EXPECT_EQ(shim.status, 3) << shim.out;
  EXPECT_EQ(shim.out, "hello from mvm\n");

  auto again = MaterializeTemplate("python-3.11", cache, nullptr);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_TRUE(again->cache_hit);
  EXPECT_EQ(again->digest, made->digest);

  // The tree moves when the shared cache has none of this recipe revision (none, or one an older
  // recipe built, which would otherwise be used forever); under that cache's lock, so tests
  // reading it meanwhile see the old tree or this one.
  if (!shared.empty() && !HasFailure()) {
    auto moved = HandOverTemplate("python-3.11", cache, shared);
    EXPECT_TRUE(moved.ok()) << "cannot hand the tree to " << shared << ": "
                            << moved.error().message;
  }
}

}  // namespace
}  // namespace mvm::runtime::rootfs
