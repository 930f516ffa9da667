// VolumeOps through the real agent (runtime/agent/volume_ops.h): what a workload does on a volume
// the agent was told to watch comes back counted, exactly for names, handed over once; a volume
// that cannot be watched says why; an agent told of none answers an empty list.

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <thread>

#include "tests/runtime/agent/agent_process.h"

namespace mvm::runtime::agent::testing {
namespace {

/// The counts of `volume` by op name.
std::map<std::string, GuestVolumeOps::Count> ByOp(const GuestVolumeOps& volume) {
  std::map<std::string, GuestVolumeOps::Count> out;
  for (const GuestVolumeOps::Count& c : volume.ops) {
    out[c.op] = c;
  }
  return out;
}

class VolumeOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mvm-volops-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    volume_ = tmpl;
    WriteFile(volume_ / "before.txt", "there before the agent");
    // File requests are confined to the volume, so that they reach it.
    agent_.emplace(std::vector<std::string>{"--watch-volume", volume_.string(), "--watch-volume",
                                            (volume_ / "missing").string()},
                   volume_.string());
    auto client = agent_->Connect();
    ASSERT_TRUE(client) << client.error().message;
    client_.emplace(std::move(*client));
  }
  void TearDown() override {
    client_.reset();
    agent_.reset();
    std::error_code ignored;
    fs::remove_all(volume_, ignored);
  }

  fs::path volume_;
  std::optional<AgentProcess> agent_;
  std::optional<Client> client_;
};

TEST_F(VolumeOpsTest, CountsTheWorkloadsCreatesRenamesAndDeletesExactlyOnce) {
  const std::string v = volume_.string();
  // Two creates of one name with a delete between, a directory and a file in it, two renames
  // there and back, a delete: each one counts, though all have the same few names. (What is
  // removed or renamed inside a new directory before its watch is placed is not: tree_watch.h.)
  auto ran = RunCommand(*client_, Sh("cd " + v + " && echo a > f && rm f && echo b > f && " +
                                     "mkdir d && echo c > d/g && mv f h && mv h f && " +
                                     "rm f && cat before.txt >/dev/null"));
  ASSERT_TRUE(ran) << ran.error().message;
  ASSERT_EQ(ran->result.exit_code, 0) << ran->err;
  auto counts = client_->VolumeOps();
  ASSERT_TRUE(counts) << counts.error().message;
  ASSERT_EQ(counts->size(), 2u);
  const GuestVolumeOps& watched = (*counts)[0];
  EXPECT_EQ(watched.target, v);
  EXPECT_TRUE(watched.watched) << watched.detail;
  auto ops = ByOp(watched);
  EXPECT_EQ(ops["create"].count, 4u);  // f, f again, d, d/g
  EXPECT_FALSE(ops["create"].at_least);
  EXPECT_EQ(ops["rename"].count, 2u);
  EXPECT_EQ(ops["delete"].count, 2u);  // f, f again
  EXPECT_GE(ops["write"].count, 3u);   // a, b, c: merged events make it a lower bound
  EXPECT_TRUE(ops["write"].at_least);
  EXPECT_GE(ops["read"].count, 1u);  // before.txt
  // The target that is not there is reported, unwatched, saying which path and why.
  const GuestVolumeOps& missing = (*counts)[1];
  EXPECT_EQ(missing.target, (volume_ / "missing").string());
  EXPECT_FALSE(missing.watched);
  EXPECT_NE(missing.detail.find("No such file or directory"), std::string::npos) << missing.detail;

  // Handed over: asked again with nothing done since, nothing is counted twice.
  auto again = client_->VolumeOps();
  ASSERT_TRUE(again) << again.error().message;
  ASSERT_EQ(again->size(), 2u);
  EXPECT_TRUE((*again)[0].ops.empty());

  // What a file request of the agent's does there counts too (mount_watch.h: `mvmctl cp`).
  auto made = client_->MakeDirectory("/by-request", 0755);
  ASSERT_TRUE(made) << made.error().message;
  auto later = client_->VolumeOps();
  ASSERT_TRUE(later) << later.error().message;
  EXPECT_EQ(ByOp((*later)[0])["create"].count, 1u);
}

// What a workload does while the agent shuts it down (here: 3 files its SIGTERM handler writes) is
// in the answer to the host's last VolumeOps, which an agent that watches volumes waits for after
// it has answered the Shutdown (event_loop.h, StopPhase::kLastAsk), and then ends.
TEST_F(VolumeOpsTest, TheLastAskAfterAShutdownCountsWhatTheWorkloadDidWhileStopped) {
  const std::string v = volume_.string();
  auto started = RunCommand(
      *client_,
      Sh("(trap 'for i in 1 2 3; do echo t > " + v + "/t$i; done; exit 0' TERM; " + "touch " + v +
         "/trapped; while :; do sleep 1 & wait $!; done) " + "</dev/null >/dev/null 2>&1 &"));
  ASSERT_TRUE(started) << started.error().message;
  ASSERT_EQ(started->result.exit_code, 0) << started->err;
  for (int i = 0; i < 200 && !fs::exists(volume_ / "trapped"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(fs::exists(volume_ / "trapped")) << "the workload never set its trap";
  bool last = true;
  auto before = client_->VolumeOps(&last);  // hands over the counts so far
  ASSERT_TRUE(before) << before.error().message;
  EXPECT_FALSE(last);
  auto asker = agent_->Connect();  // the host's volume-audit helper keeps its own connection
  ASSERT_TRUE(asker) << asker.error().message;

  auto shutdown = client_->Shutdown();
  ASSERT_TRUE(shutdown) << shutdown.error().message;
  auto after = asker->VolumeOps(&last);
  ASSERT_TRUE(after) << "the agent ended before the last question: " << after.error().message;
  EXPECT_TRUE(last);
  ASSERT_EQ(after->size(), 2u);
  auto ops = ByOp((*after)[0]);
  EXPECT_EQ(ops["create"].count, 3u) << "t1, t2, t3, written by the SIGTERM handler";
  EXPECT_GE(ops["write"].count, 1u);
  // Answered, it ends at once, not at the end of its wait.
  EXPECT_TRUE(agent_->WaitExit(std::chrono::milliseconds(1500)).has_value());
}

TEST(VolumeOpsNone, AnAgentToldOfNoVolumeAnswersAnEmptyList) {
  AgentProcess agent;
  auto client = agent.Connect();
  ASSERT_TRUE(client) << client.error().message;
  auto counts = client->VolumeOps();
  ASSERT_TRUE(counts) << counts.error().message;
  EXPECT_TRUE(counts->empty());
}

TEST(VolumeOpsUsage, AWatchedVolumeMustBeAnAbsolutePath) {
  AgentProcess agent({"--watch-volume", "relative/dir"});
  auto status = agent.WaitExit(20s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(WEXITSTATUS(*status), 2);
}

}  // namespace
}  // namespace mvm::runtime::agent::testing
