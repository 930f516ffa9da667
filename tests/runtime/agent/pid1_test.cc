// The agent as what it is in a sandbox: PID 1 of its own PID namespace (made with `unshare`, which
// needs root, as CI has). Orphans are its children there, and the kernel drops signals to a
// namespace's init that has no handler, so this checks what the other tests cannot.

#include <gtest/gtest.h>
#include <signal.h>

#include "tests/runtime/agent/agent_process.h"
#include "tests/support/prerequisite.h"

namespace mvm::runtime::agent::testing {
namespace {

class Pid1Test : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      MVM_MISSING_PREREQUISITE() << "a PID namespace needs root";
    }
    // --mount-proc: workloads see the namespace's /proc, so pids they print can be checked there.
    agent_.emplace(std::vector<std::string>{}, "",
                   std::vector<std::string>{"unshare", "--pid", "--fork", "--mount-proc",
                                            "--kill-child=SIGTERM"});
    auto client = agent_->Connect();
    ASSERT_TRUE(client) << client.error().message;
    client_.emplace(std::move(*client));
  }

  std::optional<AgentProcess> agent_;
  std::optional<Client> client_;
};

TEST_F(Pid1Test, IsPid1AndReapsOrphans) {
  auto info = client_->Hello();
  ASSERT_TRUE(info);
  EXPECT_EQ(info->pid, 1);
  auto started = RunCommand(*client_, Sh("sleep 0.2 & echo $!"));
  ASSERT_TRUE(started);
  const std::string orphan = std::to_string(std::stoi(started->out));
  // Gone from the namespace's /proc, zombie included, once PID 1 reaped it.
  EXPECT_TRUE(WaitFor([&] {
    auto exists = RunCommand(*client_, Sh("test -e /proc/" + orphan));
    return exists && exists->result.exit_code == 1;
  })) << "orphan "
      << orphan << " was not reaped";
}

TEST_F(Pid1Test, SurvivesStraySignalsAndStopsOnSigterm) {
  const std::optional<pid_t> agent = OnlyChild(agent_->pid());  // the pid seen from here
  ASSERT_TRUE(agent);
  for (int signal : {SIGUSR1, SIGPIPE, SIGALRM, SIGQUIT}) {
    ASSERT_EQ(kill(*agent, signal), 0);
  }
  auto info = client_->Hello();
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->pid, 1);

  ASSERT_EQ(kill(*agent, SIGTERM), 0);
  auto status = agent_->WaitExit(20s);  // unshare exits with the agent's status
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
}

// The last exec of a sandbox that ends with its PID 1 (agent.proto, Exec.end_when_idle): with
// nothing left running the agent says so and exits, so that the host need not ask for a Shutdown.
TEST_F(Pid1Test, ALastExecThatLeavesNothingRunningEndsTheAgent) {
  ExecRequest request = Sh("echo done");
  request.end_when_idle = true;
  auto ran = RunCommand(*client_, request);
  ASSERT_TRUE(ran) << ran.error().message;
  EXPECT_EQ(ran->out, "done\n");
  EXPECT_EQ(ran->result.exit_code, 0);
  EXPECT_TRUE(ran->result.agent_exits);
  auto status = agent_->WaitExit(20s);  // unshare exits with the agent's status
  ASSERT_TRUE(status) << "the agent did not exit after saying it would";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
}

// What the command left running keeps the agent serving: the host then stops the sandbox with a
// Shutdown, whose SIGTERM and grace reach the process left.
TEST_F(Pid1Test, ALastExecThatLeavesAProcessRunningDoesNotEndTheAgent) {
  ExecRequest request = Sh("sleep 30 & echo started");
  request.end_when_idle = true;
  auto ran = RunCommand(*client_, request);
  ASSERT_TRUE(ran) << ran.error().message;
  EXPECT_EQ(ran->out, "started\n");
  EXPECT_FALSE(ran->result.agent_exits);
  auto info = client_->Hello();
  ASSERT_TRUE(info) << "the agent stopped serving: " << info.error().message;
  // Another exec on another connection is no reason to end either.
  auto other = agent_->Connect();
  ASSERT_TRUE(other) << other.error().message;
  ExecRequest last = Sh("true");
  last.end_when_idle = true;
  auto second = RunCommand(*other, last);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_FALSE(second->result.agent_exits) << "the first exec's background process still runs";
  ASSERT_TRUE(client_->Shutdown());
  auto status = agent_->WaitExit(20s);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
}

// Without the request's flag, an exec that leaves nothing running is an ordinary one.
TEST_F(Pid1Test, AnExecWithoutEndWhenIdleLeavesTheAgentServing) {
  auto ran = RunCommand(*client_, Sh("true"));
  ASSERT_TRUE(ran) << ran.error().message;
  EXPECT_FALSE(ran->result.agent_exits);
  EXPECT_TRUE(client_->Hello());
}

}  // namespace
}  // namespace mvm::runtime::agent::testing
