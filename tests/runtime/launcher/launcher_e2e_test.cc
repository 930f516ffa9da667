// End to end: the real mvmctl, the real agent, real namespaces and cgroups (CI runs as root). Each
// test uses sandbox names of its own; the rootfs cache is shared through one state directory in the
// build tree so a template is built once per build directory, not once per test.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/mvmctl.h"

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

const fs::path kFixture =
    fs::path(MVM_SOURCE_DIR) / "tests" / "fixtures" / "runtime" / "hostile.py";
const fs::path kExamples = fs::path(MVM_SOURCE_DIR) / "examples";

using mvm::testing::Describe;
using mvm::testing::Result;
using mvm::testing::SharedState;
using mvm::testing::Spawn;

class LauncherE2E : public ::testing::Test {
 protected:
  Result Mvmctl(std::vector<std::string> args, const std::string& stdin_data = "",
                const fs::path& state = SharedState()) {
    return mvm::testing::Mvmctl(std::move(args), stdin_data, state);
  }

  Result Run(const std::string& workload, const std::string& entrypoint = "",
             const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"run", kFixture.string(), "--workload", workload};
    if (!entrypoint.empty()) {
      args.insert(args.end(), {"--entrypoint", entrypoint});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return Mvmctl(args);
  }
};

TEST_F(LauncherE2E, MicrovmWorkloadRunsOnContainerOnlyInDevWithAWarning) {
  const std::string file = (kFixture.parent_path() / "default_isolation.py").string();
  Result dev = Mvmctl({"run", file});
  EXPECT_EQ(dev.status, 0) << Describe(dev);
  EXPECT_THAT(dev.err, HasSubstr("[weak-isolation]"));
  // A production plan signed by the dev key is refused before anything starts.
  Result prod = Mvmctl({"run", file, "--profile", "production"});
  EXPECT_EQ(prod.status, 125) << Describe(prod);
  EXPECT_THAT(prod.err, HasSubstr("dev key"));
}

TEST_F(LauncherE2E, AuditLogRecordsTheRunAndDetectsTampering) {
  fs::path state = fs::temp_directory_path() / ("mvm-audit-e2e-" + std::to_string(::getpid()));
  fs::remove_all(state);
  // Share the built rootfs: the audit test is about the log, not the template.
  mvm::testing::UseSharedRootfsCache(state);
  Result run = Mvmctl({"run", kFixture.string(), "--workload", "echo-args"}, "", state);
  EXPECT_EQ(run.status, 7) << Describe(run);
  Result ok = Mvmctl({"audit", "verify"}, "", state);
  EXPECT_EQ(ok.status, 0) << Describe(ok);
  EXPECT_THAT(ok.out, HasSubstr("audit log OK"));

  std::ifstream in(state / "audit.jsonl");
  std::stringstream text;
  text << in.rdbuf();
  std::string log = text.str();
  for (const char* event : {"\"verify\"", "\"admit\"", "\"launch\"", "\"exec\"", "\"destroy\""}) {
    EXPECT_THAT(log, HasSubstr(event));
  }
  size_t at = log.find("\"launch\"");
  ASSERT_NE(at, std::string::npos);
  log[at + 1] = 'L';
  {
    std::ofstream rewrite(state / "audit.jsonl", std::ios::trunc);
    rewrite << log;
  }
  Result broken = Mvmctl({"audit", "verify"}, "", state);
  EXPECT_EQ(broken.status, 4) << Describe(broken);
  EXPECT_THAT(broken.out + broken.err, HasSubstr("BROKEN"));
  fs::remove_all(state);
}

// The shipped examples do what their docstrings say (python-3.11 template: built once, ~1 min).
// The shared state's templates are the run's shared cache (MVM_TEST_ROOTFS_CACHE), not a cache of
// its own: one that something made before the link (a test list evaluated without the tests'
// environment did) builds python-3.11 a second time in every preset, minutes of CI.
TEST_F(LauncherE2E, TheSharedStateUsesTheSharedTemplateCache) {
  const char* shared = std::getenv("MVM_TEST_ROOTFS_CACHE");
  ASSERT_TRUE(shared != nullptr && *shared != '\0')
      << "ctest gives every sandbox test MVM_TEST_ROOTFS_CACHE (CMakeLists.txt)";
  const fs::path rootfs = SharedState() / "rootfs";
  ASSERT_TRUE(fs::is_symlink(rootfs)) << rootfs << " is a cache of its own";
  EXPECT_TRUE(fs::equivalent(rootfs, shared)) << rootfs << " -> " << fs::read_symlink(rootfs);
}

TEST_F(LauncherE2E, ExamplesBehaveAsDocumented) {
  Result hello = Mvmctl({"run", (kExamples / "hello.py").string()});
  EXPECT_EQ(hello.status, 0) << Describe(hello);
  EXPECT_THAT(hello.out, HasSubstr("hello from mvm"));
  Result files = Mvmctl({"run", (kExamples / "files.py").string()});
  EXPECT_EQ(files.status, 0) << Describe(files);
  EXPECT_THAT(files.out, HasSubstr("/scratch/blob.bin: wrote and read back 1048576 bytes"));
  EXPECT_THAT(files.out, HasSubstr("read-only"));
  Result hog = Mvmctl({"run", (kExamples / "memory_hog.py").string()});
  EXPECT_EQ(hog.status, 137) << Describe(hog);
  EXPECT_THAT(hog.err, HasSubstr("killed: memory limit 64 MiB reached"));
  Result net = Mvmctl({"run", (kExamples / "network.py").string()});
  EXPECT_EQ(net.status, 0) << Describe(net);
  EXPECT_THAT(net.out, HasSubstr("blocked"));
  Result slow = Mvmctl({"run", (kExamples / "timeout.py").string()});
  EXPECT_EQ(slow.status, 124) << Describe(slow);
}

}  // namespace
