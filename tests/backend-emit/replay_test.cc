#include "backend-emit/plan/replay.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/backend-emit/plan_test_util.h"
#include "tests/support/temp_dir.h"

namespace mvm::plan {
namespace {

namespace fs = std::filesystem;

const std::string kDigestA = "sha256:" + std::string(64, 'a');
const std::string kDigestB = "sha256:" + std::string(64, 'b');

class ReplayTest : public ::testing::Test {
 protected:
  // "first", "newer", "same" or "refused: <message>".
  std::string Admit(ReplayState& state, std::string_view id, uint32_t epoch,
                    const std::string& digest) {
    auto result = state.Admit(id, epoch, digest);
    if (!result.ok()) {
      return "error: " + result.error().message;
    }
    if (!result->ok()) {
      EXPECT_EQ(result->error().reason, RefusalReason::kReplayed);
      return "refused: " + result->error().message;
    }
    switch (**result) {
      case Admission::kFirst:
        return "first";
      case Admission::kNewer:
        return "newer";
      case Admission::kSame:
        return "same";
    }
    return "?";
  }

  mvm::testing::TempDir tmp_;
  const fs::path dir_ = tmp_.path() / "replay";  // made by the code under test
};

TEST_F(ReplayTest, StateTransitions) {
  ReplayState state(dir_ / "state");
  EXPECT_FALSE(state.Last("tool")->has_value());
  EXPECT_EQ(Admit(state, "tool", 5, kDigestA), "first");
  EXPECT_EQ(state.Last("tool")->value(), (ReplayRecord{5, kDigestA}));
  // The same plan again (a restart, a warm pool) is allowed and changes nothing.
  EXPECT_EQ(Admit(state, "tool", 5, kDigestA), "same");
  // Another plan under the same epoch is a replay or a forgery.
  EXPECT_EQ(Admit(state, "tool", 5, kDigestB)
                .rfind("refused: epoch 5 of workload `tool` was already "
                       "admitted for a different plan",
                       0),
            0u);
  // Going back is refused.
  EXPECT_EQ(Admit(state, "tool", 4, kDigestB),
            "refused: epoch 4 of workload `tool` is lower than epoch 5, admitted before");
  EXPECT_EQ(Admit(state, "tool", 0, kDigestA).rfind("refused:", 0), 0u);
  // Forward is fine, and then the old plan is too old.
  EXPECT_EQ(Admit(state, "tool", 6, kDigestB), "newer");
  EXPECT_EQ(Admit(state, "tool", 5, kDigestA).rfind("refused:", 0), 0u);
  EXPECT_EQ(state.Last("tool")->value(), (ReplayRecord{6, kDigestB}));
  // Workloads are independent.
  EXPECT_EQ(Admit(state, "other", 1, kDigestA), "first");
  EXPECT_EQ(Admit(state, "tool", UINT32_MAX, kDigestA), "newer");
  EXPECT_EQ(Admit(state, "tool", UINT32_MAX, kDigestA), "same");
}

TEST_F(ReplayTest, StatePersistsAcrossInstancesAndLeavesNoTemporaries) {
  {
    ReplayState state(dir_);
    EXPECT_EQ(Admit(state, "tool", 9, kDigestA), "first");
  }
  ReplayState again(dir_);
  EXPECT_EQ(Admit(again, "tool", 8, kDigestA).rfind("refused:", 0), 0u);
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"tool.json", "tool.lock"}));
  std::ifstream in(dir_ / "tool.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, R"({"epoch":9,"payload_digest":")" + kDigestA + R"("})");
}

TEST_F(ReplayTest, CorruptStateIsAnErrorNotAFreshStart) {
  ReplayState state(dir_);
  ASSERT_EQ(Admit(state, "tool", 9, kDigestA), "first");
  for (const std::string& text :
       std::vector<std::string>{"", "{", "{\"epoch\":9}", "{\"epoch\":-1,\"payload_digest\":\"x\"}",
                                R"({"epoch":4294967296,"payload_digest":")" + kDigestA + "\"}",
                                R"({"epoch":1,"payload_digest":"sha256:zz"})"}) {
    std::ofstream(dir_ / "tool.json", std::ios::trunc) << text;
    std::string result = Admit(state, "tool", 10, kDigestA);
    EXPECT_NE(result.find("error: replay state"), std::string::npos) << text << " -> " << result;
    EXPECT_NE(result.find("is corrupt"), std::string::npos);
  }
}

TEST_F(ReplayTest, RefusesIdsThatAreNotFileNamesAndBadDigests) {
  ReplayState state(dir_);
  EXPECT_EQ(Admit(state, "../x", 1, kDigestA).rfind("error: invalid workload id", 0), 0u);
  EXPECT_EQ(Admit(state, "", 1, kDigestA).rfind("error: invalid workload id", 0), 0u);
  EXPECT_EQ(Admit(state, "Tool", 1, kDigestA).rfind("error: invalid workload id", 0), 0u);
  EXPECT_EQ(Admit(state, "tool", 1, "sha256:abc").rfind("error: invalid payload digest", 0), 0u);
  EXPECT_FALSE(fs::exists(dir_ / "..x.json"));
}

TEST_F(ReplayTest, ConcurrentAdmissionsOfOneEpochAdmitOnePlan) {
  ReplayState state(dir_);
  std::vector<std::string> results(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      ReplayState own(dir_);
      std::string digest = "sha256:" + std::string(64, "0123456789abcdef"[i]);
      results[i] = Admit(own, "race", 1, digest);
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_EQ(std::count(results.begin(), results.end(), "first"), 1)
      << ::testing::PrintToString(results);
  EXPECT_EQ(std::count_if(results.begin(), results.end(),
                          [](const std::string& r) { return r.rfind("refused:", 0) == 0; }),
            7)
      << ::testing::PrintToString(results);
}

TEST_F(ReplayTest, AdmitsVerifiedPlans) {
  SecretKey key = testing::TestKey();
  std::vector<TrustedKey> trusted = {testing::Trusted(key)};
  FixedClock clock(testing::kNotBefore + 10);
  auto v7 = VerifyPlan(testing::SignedPlanFile(key, 7), trusted, clock);
  auto v8 = VerifyPlan(testing::SignedPlanFile(key, 8), trusted, clock);
  ASSERT_TRUE(v7.ok() && v8.ok());
  ReplayState state(dir_);
  EXPECT_EQ(**state.Admit(*v7), Admission::kFirst);
  EXPECT_EQ(**state.Admit(*v7), Admission::kSame);
  EXPECT_EQ(**state.Admit(*v8), Admission::kNewer);
  auto replayed = state.Admit(*v7);
  ASSERT_TRUE(replayed.ok());
  ASSERT_FALSE(replayed->ok());
  EXPECT_EQ(replayed->error().reason, RefusalReason::kReplayed);
}

}  // namespace
}  // namespace mvm::plan
