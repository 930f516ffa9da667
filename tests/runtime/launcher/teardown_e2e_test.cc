// How a `mvmctl run` ends its container sandbox (Destroy in runtime/launcher/launcher.cc), end to
// end: a command that leaves nothing running ends with its agent, which says so in its answer
// (agent.proto, Exec.end_when_idle), and no Shutdown is asked; one that leaves a process running
// gets the graceful stop, SIGTERM to what is left and a grace to act on it. `run -v` names the
// path taken ("teardown" in its timings). Needs root.

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/mvmctl.h"
#include "tests/support/prerequisite.h"
#include "tests/support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using mvm::testing::Describe;
using mvm::testing::Result;
using ::testing::HasSubstr;
using ::testing::Not;

class TeardownE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      MVM_MISSING_PREREQUISITE() << "root (the container backend needs it)";
    }
    state_ = dir_.path() / "state";
    mvm::testing::UseSharedRootfsCache(state_);
    // Outside the project, whose files are signed into the plan.
    const fs::path project = dir_.path() / "project";
    data_ = dir_.path() / "data";
    fs::create_directories(project);
    fs::create_directories(data_);
    source_ = project / "ends.py";
    // `background` leaves a process that, on SIGTERM, writes a file to the host's directory and
    // exits; it is known to run (its `ready` file) before the command itself exits.
    std::ofstream(source_)
        << "from mvm import Volume, entrypoint, workload\n\n"
           "@workload(\"ends\", image=\"template:busybox\", isolation=\"container\",\n"
           "          timeout_seconds=60,\n"
           "          volumes=[Volume.local(\""
        << data_.string()
        << "\", \"/data\", mode=\"rw\")])\n"
           "class Ends:\n"
           "    @entrypoint(\"background\", command=[\"sh\", \"-c\", \"(trap 'echo termed > "
           "/data/termed; exit 0' TERM; echo ready > /data/ready; while :; do sleep 1; done) & "
           "while [ ! -f /data/ready ]; do sleep 0.05; done; echo started\"])\n"
           "    def background(self): ...\n\n"
           "    @entrypoint(\"quick\", command=[\"/bin/true\"])\n"
           "    def quick(self): ...\n";
  }

  Result Run(const std::string& entrypoint) {
    return mvm::testing::Mvmctl({"run", source_.string(), "--entrypoint", entrypoint, "-v"}, "",
                                state_);
  }

  mvm::testing::TempDir dir_{"mvm-teardown-e2e"};
  fs::path state_, data_, source_;
};

TEST_F(TeardownE2E, ACommandThatLeavesNothingRunningEndsWithItsAgent) {
  Result r = Run("quick");
  ASSERT_EQ(r.status, 0) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("\"teardown\":\"agent exited\"")) << Describe(r);
  // Nothing of the sandbox is left: its state directory went with it.
  std::error_code ec;
  EXPECT_TRUE(fs::is_empty(state_ / "sandboxes", ec) || ec) << Describe(r);
}

TEST_F(TeardownE2E, ABackgroundProcessLeftByTheCommandGetsSigtermAndItsGrace) {
  Result r = Run("background");
  ASSERT_EQ(r.status, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("started"));
  EXPECT_THAT(r.err, HasSubstr("\"teardown\":\"shutdown\"")) << Describe(r);
  EXPECT_THAT(r.err, Not(HasSubstr("agent exited")));
  // Its handler ran to the end: it got SIGTERM, not SIGKILL, and the time to act on it, before
  // `run` returned.
  std::ifstream termed(data_ / "termed");
  std::stringstream text;
  text << termed.rdbuf();
  EXPECT_EQ(text.str(), "termed\n") << Describe(r);
}

}  // namespace
