// Attacks on the reach of timeouts and signals: a workload's processes that leave its session and
// process group (setsid), directly or after a double fork that orphans them, must still be killed
// by the exec's timeout and stopped by the agent's Signal (what `mvmctl snapshot` pauses with).

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <thread>

#include "tests/runtime/agent/agent_process.h"

namespace mvm::runtime::agent::testing {
namespace {

// The state letter of /proc/<pid>/stat ('T' stopped), or '\0' once the process is gone.
char StateOf(pid_t pid) {
  const std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() ? '\0' : stat[paren + 2];
}

class EscapeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto client = agent_.Connect();
    ASSERT_TRUE(client) << client.error().message;
    client_.emplace(std::move(*client));
  }

  // A script that starts two processes in sessions of their own, one a child of the script's
  // shell and one orphaned by a double fork, each writing its pid to a file, then says "ready".
  std::string EscapingScript() const {
    const std::string child = (agent_.root() / "child.pid").string();
    const std::string orphan = (agent_.root() / "orphan.pid").string();
    return "setsid sh -c 'echo $$ > " + child + ".tmp; mv " + child + ".tmp " + child +
           "; exec sleep 1000' & (setsid sh -c 'echo $$ > " + orphan + ".tmp; mv " + orphan +
           ".tmp " + orphan + "; exec sleep 1000' &); while [ ! -s " + child + " ] || [ ! -s " +
           orphan + " ]; do sleep 0.02; done; echo ready; sleep 1000";
  }

  std::vector<pid_t> EscapedPids() const {
    std::vector<pid_t> pids;
    for (const char* name : {"child.pid", "orphan.pid"}) {
      const std::string text = ReadFile(agent_.root() / name);
      if (!text.empty()) {
        pids.push_back(std::stoi(text));
      }
    }
    return pids;
  }

  AgentProcess agent_;
  std::optional<Client> client_;
};

TEST_F(EscapeTest, TimeoutKillsProcessesThatCalledSetsid) {
  ExecRequest request = Sh(EscapingScript());
  request.timeout_ms = 2000;
  auto ran = RunCommand(*client_, request);
  ASSERT_TRUE(ran) << ran.error().message;
  EXPECT_TRUE(ran->result.timed_out);
  EXPECT_EQ(ran->result.signal, SIGKILL);
  ASSERT_EQ(ran->out, "ready\n") << "the script did not start its setsid processes in 2 s";
  const std::vector<pid_t> escaped = EscapedPids();
  ASSERT_EQ(escaped.size(), 2u);
  for (pid_t pid : escaped) {
    EXPECT_TRUE(WaitFor([&] { return !ProcessExists(pid); }, 5s))
        << "setsid process " << pid << " survived the timeout (state " << StateOf(pid) << ")";
  }
}

TEST_F(EscapeTest, SignalStopsAndContinuesProcessesThatCalledSetsid) {
  std::atomic<bool> ready = false;
  std::optional<ErrorOr<ExecResult>> result;
  std::thread runner([&] {
    auto client = agent_.Connect();
    ASSERT_TRUE(client);
    result.emplace(client->Exec(Sh(EscapingScript()), [&](Stream, std::string_view data) {
      if (data.find("ready") != std::string_view::npos) {
        ready = true;
      }
    }));
  });
  ASSERT_TRUE(WaitFor([&] { return ready.load(); }));
  const std::vector<pid_t> escaped = EscapedPids();
  ASSERT_EQ(escaped.size(), 2u);

  ASSERT_TRUE(client_->Signal(SIGSTOP));
  for (pid_t pid : escaped) {
    EXPECT_TRUE(WaitFor([&] { return StateOf(pid) == 'T'; }, 5s))
        << "setsid process " << pid << " was not stopped (state " << StateOf(pid) << ")";
  }
  ASSERT_TRUE(client_->Signal(SIGCONT));
  for (pid_t pid : escaped) {
    EXPECT_TRUE(WaitFor([&] { return StateOf(pid) != 'T'; }, 5s))
        << "setsid process " << pid << " was not continued";
  }
  ASSERT_TRUE(client_->Signal(SIGKILL));
  runner.join();
  ASSERT_TRUE(result && *result) << (result ? result->error().message : "no result");
  EXPECT_EQ((*result)->signal, SIGKILL);
  for (pid_t pid : escaped) {
    EXPECT_TRUE(WaitFor([&] { return !ProcessExists(pid); }, 5s)) << pid << " survived SIGKILL";
  }
}

TEST_F(EscapeTest, KillingItsShimDoesNotHideAWorkloadFromSignal) {
  // The command kills its parent (the exec shim) and then calls setsid: the agent adopts it, and
  // Signal, which covers every process below the agent but the shims, must still reach it.
  const std::string pid_file = (agent_.root() / "child.pid").string();
  std::atomic<bool> ready = false;
  std::optional<ErrorOr<ExecResult>> result;
  std::thread runner([&] {
    auto client = agent_.Connect();
    ASSERT_TRUE(client);
    result.emplace(
        client->Exec(Sh("kill -KILL $PPID; setsid sh -c 'echo $$ > " + pid_file + ".tmp; mv " +
                        pid_file + ".tmp " + pid_file + "; exec sleep 1000' & while [ ! -s " +
                        pid_file + " ]; do sleep 0.02; done; echo ready; sleep 1000"),
                     [&](Stream, std::string_view data) {
                       if (data.find("ready") != std::string_view::npos) {
                         ready = true;
                       }
                     }));
  });
  // The shim's death ends the exec at once (its status stands for the command's).
  runner.join();
  ASSERT_TRUE(result && *result) << (result ? result->error().message : "no result");
  EXPECT_EQ((*result)->signal, SIGKILL);
  ASSERT_TRUE(WaitFor([&] { return !ReadFile(pid_file).empty(); }));
  const pid_t escaped = std::stoi(ReadFile(pid_file));
  ASSERT_TRUE(client_->Signal(SIGSTOP));
  EXPECT_TRUE(WaitFor([&] { return StateOf(escaped) == 'T'; }, 5s))
      << "adopted process " << escaped << " was not stopped (state " << StateOf(escaped) << ")";
  ASSERT_TRUE(client_->Signal(SIGKILL));
  EXPECT_TRUE(WaitFor([&] { return !ProcessExists(escaped); }, 5s)) << escaped << " survived";
}

}  // namespace
}  // namespace mvm::runtime::agent::testing
