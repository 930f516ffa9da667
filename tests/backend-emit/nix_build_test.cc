// RunNixBuild against a stand-in `nix`: a real shell script run as a real process, so the process
// handling, streaming, heartbeat and parsing are the code paths `mvmctl build` uses. The real Nix
// is exercised by tests/integration/nix.

#include <gtest/gtest.h>
#include <sodium.h>

#include <cstdlib>

#include "backend-emit/nix/build.h"
#include "backend-emit/nix/nar.h"
#include "backend-emit/plan/base64.h"
#include "tests/support/files.h"
#include "tests/support/temp_dir.h"

namespace mvm::nix {
namespace {

namespace fs = std::filesystem;
using mvm::testing::TempDir;
using mvm::testing::WriteFile;

std::string Sri(std::string_view digest) {
  std::string hex(digest.substr(7));
  std::string raw(hex.size() / 2, '\0');
  EXPECT_EQ(sodium_hex2bin(reinterpret_cast<unsigned char*>(raw.data()), raw.size(), hex.data(),
                           hex.size(), nullptr, nullptr, nullptr),
            0);
  return "sha256-" + plan::Base64Encode(raw);
}

struct FakeNix {
  fs::path exe;
  fs::path args_file;
  NixBuildRequest request;
  std::string nar_hash;
};

// A store at `<tmp>/store` holding `/nix/store/abc-rootfs`, and a `nix` that "builds" it: it logs,
// stays quiet for `quiet_seconds`, then answers like Nix 2.8 does. `path_info_hash` overrides the
// narHash it reports; `fail` makes the build fail with a log.
FakeNix MakeFakeNix(const TempDir& tmp, int quiet_seconds = 0, std::string path_info_hash = "",
                    bool fail = false) {
  FakeNix f;
  fs::path tree = tmp.path() / "store" / "nix" / "store" / "abc-rootfs";
  WriteFile(tree / "bin" / "busybox", "#!/bin/true\n", fs::perms(0555));
  fs::create_symlink("busybox", tree / "bin" / "sh");
  f.nar_hash = *NarHash(tree);
  f.exe = tmp.path() / "bin" / "nix";
  f.args_file = tmp.path() / "args.txt";
  std::string reported = path_info_hash.empty() ? Sri(f.nar_hash) : path_info_hash;
  std::string script = "#!/bin/sh\ncase \"$3\" in\nbuild)\n  printf '%s\\n' \"$@\" > '" +
                       f.args_file.string() +
                       "'\n"
                       "  echo \"building '/nix/store/xyz-rootfs.drv'...\" >&2\n"
                       "  sleep " +
                       std::to_string(quiet_seconds) + "\n";
  if (fail) {
    script +=
        "  echo 'error: store path mismatch in (possibly filtered) path added from "
        "'\"'\"'/usr/bin'\"'\"'' >&2\n"
        "  exit 1\n";
  }
  script +=
      "  printf 'rootfs> done' >&2\n"
      "  printf '%s\\n' '[{\"drvPath\":\"/nix/store/xyz-rootfs.drv\",\"outputs\":{\"out\":"
      "\"/nix/store/abc-rootfs\"}}]'\n"
      "  ;;\n"
      "path-info)\n"
      "  printf '%s\\n' '[{\"path\":\"/nix/store/abc-rootfs\",\"narHash\":\"" +
      reported +
      "\",\"references\":[\"/nix/store/abc-rootfs\",\"/nix/store/def-glibc\"]}]'\n"
      "  ;;\n"
      "*) exit 2 ;;\n"
      "esac\n";
  WriteFile(f.exe, script, fs::perms(0755));
  f.request.workload_id = "tiny";
  f.request.image = "template:busybox";
  f.request.flake_ref = "path:/templates";
  f.request.attr = "packages.x86_64-linux.busybox";
  f.request.store = (tmp.path() / "store").string();
  f.request.argv = NixBuildArgv(f.request.flake_ref, f.request.attr, f.request.store);
  f.request.outputs = {"out"};
  return f;
}

TEST(NixBuildTest, RunsTheRequestAndReadsTheResult) {
  TempDir tmp;
  FakeNix f = MakeFakeNix(tmp);
  std::vector<std::string> lines;
  BuildProgress progress;
  progress.on_log = [&](std::string_view line) { lines.emplace_back(line); };
  auto result = RunNixBuild(f.exe, f.request, progress);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->store_path, "/nix/store/abc-rootfs");
  EXPECT_EQ(result->nar_hash, f.nar_hash);
  EXPECT_EQ(result->tree, tmp.path() / "store" / "nix" / "store" / "abc-rootfs");
  EXPECT_EQ(result->references, std::vector<std::string>{"/nix/store/def-glibc"});
  // Lines as they came, the last one without its newline too.
  EXPECT_EQ(lines,
            (std::vector<std::string>{"building '/nix/store/xyz-rootfs.drv'...", "rootfs> done"}));
  // The exact argv reached nix, argv[0] aside (the script sees its own path there).
  std::ifstream in(f.args_file);
  std::vector<std::string> seen;
  for (std::string arg; std::getline(in, arg);) {
    seen.push_back(arg);
  }
  EXPECT_EQ(seen, std::vector<std::string>(f.request.argv.begin() + 1, f.request.argv.end()));
}

TEST(NixBuildTest, QuietBuildsGetHeartbeats) {
  TempDir tmp;
  // Four seconds of silence against a one-second heartbeat: at least one beat even on a slow,
  // loaded machine.
  FakeNix f = MakeFakeNix(tmp, /*quiet_seconds=*/4);
  std::vector<std::chrono::seconds> beats;
  BuildProgress progress;
  progress.heartbeat = std::chrono::seconds(1);
  progress.on_heartbeat = [&](std::chrono::seconds elapsed) { beats.push_back(elapsed); };
  auto result = RunNixBuild(f.exe, f.request, progress);
  ASSERT_TRUE(result.ok()) << result.error().message;
  ASSERT_FALSE(beats.empty());
  EXPECT_GE(beats.front().count(), 1);
}

TEST(NixBuildTest, AFailedBuildShowsTheLogTailAndAHint) {
  TempDir tmp;
  FakeNix f = MakeFakeNix(tmp, 0, "", /*fail=*/true);
  auto result = RunNixBuild(f.exe, f.request, BuildProgress{});
  ASSERT_FALSE(result.ok());
  const std::string& message = result.error().message;
  EXPECT_NE(message.find("failed (exit status 1)"), std::string::npos) << message;
  EXPECT_NE(message.find("  building '/nix/store/xyz-rootfs.drv'..."), std::string::npos)
      << message;
  EXPECT_NE(message.find("hint: the host's /usr/bin/busybox"), std::string::npos) << message;
}

TEST(NixBuildTest, ATreeThatDoesNotHashAsNixSaysIsRefused) {
  TempDir tmp;
  FakeNix f = MakeFakeNix(tmp, 0, "sha256-G6yIn7+hl0euA95zw1nX1XlvvlH+Va928zE57eRk2io=");
  auto result = RunNixBuild(f.exe, f.request, BuildProgress{});
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("the store is damaged"), std::string::npos)
      << result.error().message;
}

TEST(NixBuildTest, FindNixLooksOnPathOnly) {
  TempDir tmp;
  FakeNix f = MakeFakeNix(tmp);
  const char* old = std::getenv("PATH");
  std::string saved = old == nullptr ? "" : old;
  ASSERT_EQ(setenv("PATH", (tmp.path().string() + ":" + f.exe.parent_path().string()).c_str(), 1),
            0);
  auto found = FindNix();
  ASSERT_EQ(setenv("PATH", tmp.path().c_str(), 1), 0);
  auto missing = FindNix();
  ASSERT_EQ(setenv("PATH", saved.c_str(), 1), 0);
  ASSERT_TRUE(found.ok()) << found.error().message;
  EXPECT_EQ(*found, f.exe);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message,
            "nix not found on PATH; install Debian's nix-bin (apt-get install nix-bin)");
}

}  // namespace
}  // namespace mvm::nix
