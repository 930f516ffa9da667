// The volume-audit helper's side of a guest agent's counts (runtime/launcher/volume_watch.cc),
// without a VM: the real helper (`mvmctl --mvm-helper volume-audit`) asks the real agent, run on
// the host with --watch-volume on a directory, over the socket a microVM's agent is reached
// through. What a VM that ends without a stop loses is what its agent counted since the helper's
// last question, which comes every second.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/runtime/agent/agent_process.h"
#include "tests/support/audit_records.h"
#include "tests/support/mvmctl.h"
#include "tests/support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using mvm::runtime::agent::testing::AgentProcess;
using mvm::runtime::agent::testing::RunCommand;
using mvm::runtime::agent::testing::Sh;

/// The volume-audit helper of sandbox `name` in `state`, counting the guest volume `target` as
/// `label`; returns once it has asked the agent a first time (its ready byte), or -1.
pid_t StartGuestVolumeAudit(const fs::path& state, const std::string& name,
                            const std::string& label, const std::string& target) {
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) {
    return -1;
  }
  std::vector<std::string> args = {
      MVM_MVMCTL_PATH, "--mvm-helper", "volume-audit", state.string(), name, label, "guest", "-",
      target};
  std::vector<char*> argv;
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(ready[1], 3);  // the helper's ready descriptor, as StartVolumeWatch hands it over
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(ready[1]);
  char answer = 0;
  const bool answered = ::read(ready[0], &answer, 1) == 1 && answer == 'r';
  ::close(ready[0]);
  return answered ? pid : -1;
}

TEST(GuestVolumeAudit, AnAgentThatEndsWithoutAStopLosesOnlyTheLastSecondOfCounts) {
  mvm::testing::TempDir dir("mvm-guest-volume-audit");
  const fs::path state = dir.path() / "state";
  const fs::path volume = dir.path() / "volume";
  fs::create_directories(volume);
  const std::string name = "guest-asked";
  AgentProcess agent({"--watch-volume", volume.string()}, volume.string());
  auto client = agent.Connect();
  ASSERT_TRUE(client) << client.error().message;
  // Where the helper finds a sandbox's agent (StateDir::AgentSocket): a link to the socket's inode,
  // not a symlink, which the client refuses.
  fs::create_directories(state / "sandboxes" / name);
  fs::create_hard_link(agent.socket(), state / "sandboxes" / name / "agent.sock");
  const std::string label = "memory:/scratch";
  const pid_t helper = StartGuestVolumeAudit(state, name, label, volume.string());
  ASSERT_GT(helper, 0) << "the helper did not start";

  auto ran = RunCommand(*client, Sh("cd " + volume.string() + " && touch a b c && mkdir d"));
  ASSERT_TRUE(ran) << ran.error().message;
  ASSERT_EQ(ran->result.exit_code, 0) << ran->err;
  // Two of the helper's questions later, the VM ends without a stop: the agent is killed, as
  // qemu's end takes it.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  ASSERT_EQ(::kill(agent.pid(), SIGKILL), 0);
  ASSERT_TRUE(agent.WaitExit(std::chrono::seconds(5)).has_value());
  ASSERT_EQ(::kill(helper, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(helper, &status, 0), helper);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;

  auto counts = mvm::testing::ReadVolumeCountsByLabel(state, {name, 0, "guest-agent"});
  mvm::testing::VolumeCounts& c = counts[label];
  EXPECT_TRUE(c.attached_ok);
  EXPECT_EQ(c.count["create"], 4u) << "counted by the agent before it ended";
  EXPECT_TRUE(c.detached);
  EXPECT_FALSE(c.detached_ok) << "the last question found no agent";
  auto detach = mvm::testing::AuditRecords(state, name, "volume.detach");
  ASSERT_EQ(detach.size(), 1u);
  EXPECT_NE(detach[0]
                .value("detail", "")
                .find("the guest agent's counts since its last answer "
                      "are lost"),
            std::string::npos)
      << detach[0].dump();
  mvm::testing::Result verify = mvm::testing::Mvmctl({"audit", "verify"}, "", state);
  EXPECT_EQ(verify.status, 0) << mvm::testing::Describe(verify);
}

}  // namespace
