#include "backend-emit/plan/rootfs_digest.h"

#include <gtest/gtest.h>

#include "backend-emit/plan/verify.h"
#include "tests/backend-emit/plan_test_util.h"

namespace mvm::plan {
namespace {

using testing::kNotBefore;
using testing::SignedPlanFile;
using testing::TestKey;
using testing::Trusted;

constexpr std::string_view kDigest = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

std::string Payload(const std::string& file) {
  auto decoded = DecodePlanFile(file);
  EXPECT_TRUE(decoded.ok());
  return decoded->envelope.payload;
}

std::string RootfsDigest(const v1::ExecutionPlan& plan) {
  for (const v1::Artifact& a : plan.artifacts()) {
    if (a.role() == "rootfs") {
      return a.digest();
    }
  }
  return "";
}

TEST(WithRootfsDigestTest, ResignedPlanVerifiesUnderTheNewKeyAndKeepsItsWindow) {
  SecretKey old_key = TestKey(1);
  SecretKey new_key = TestKey(2);
  std::string file = SignedPlanFile(old_key, /*epoch=*/9);
  auto rebuilt = WithRootfsDigest(Payload(file), kDigest, &new_key);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error().message;
  TrustedKey trusted[] = {Trusted(new_key)};
  FixedClock clock(kNotBefore + 60);
  auto verified = VerifyPlan(*rebuilt, trusted, clock);
  ASSERT_TRUE(verified.ok());
  EXPECT_EQ(verified->key_id, new_key.KeyId());
  EXPECT_EQ(RootfsDigest(verified->plan), kDigest);
  auto before = DecodePlanFile(file);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(verified->plan.epoch(), before->plan.epoch());
  EXPECT_EQ(verified->plan.not_before(), before->plan.not_before());
  EXPECT_EQ(verified->plan.expires_at(), before->plan.expires_at());
}

TEST(WithRootfsDigestTest, WithoutAKeyThePlanIsWrittenUnsigned) {
  SecretKey key = TestKey(1);
  auto rebuilt = WithRootfsDigest(Payload(SignedPlanFile(key)), kDigest, nullptr);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error().message;
  auto decoded = DecodePlanFile(*rebuilt);
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(decoded->envelope.signatures.empty());
  EXPECT_EQ(decoded->plan.key_id(), "");
  EXPECT_EQ(RootfsDigest(decoded->plan), kDigest);
}

TEST(WithRootfsDigestTest, AnInvalidPayloadIsNotSigned) {
  SecretKey key = TestKey(1);
  std::string payload = Payload(SignedPlanFile(key));
  EXPECT_FALSE(WithRootfsDigest(payload + " ", kDigest, &key).ok());
  EXPECT_FALSE(WithRootfsDigest("{}", kDigest, &key).ok());
}

}  // namespace
}  // namespace mvm::plan
