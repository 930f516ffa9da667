#include "backend-emit/plan/lower.h"

#include <gtest/gtest.h>

#include "backend-emit/plan/payload.h"
#include "ir/digest.h"
#include "ir/module.h"
#include "tests/backend-emit/plan_test_util.h"

namespace mvm::plan {
namespace {

using testing::TestOptions;
using testing::TestWorkload;

TEST(LowerTest, AppliesDefaultsFromTheOptionTable) {
  ir::v1::Workload w;
  w.set_id("tiny");
  w.mutable_image()->set_kind("template");
  w.mutable_image()->set_ref("busybox");
  ir::v1::Volume& local = *w.add_volumes();
  local.set_kind("local");
  local.set_source("./d");
  local.set_target("/d");
  ir::v1::Volume& memory = *w.add_volumes();
  memory.set_kind("memory");
  memory.set_target("/tmp");
  auto plan = LowerToPlan(w, TestOptions(""));
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  EXPECT_EQ(plan->lifecycle().cpu(), 1);
  EXPECT_EQ(plan->lifecycle().memory_mb(), 512);
  EXPECT_EQ(plan->lifecycle().disk_mb(), 2048);
  EXPECT_EQ(plan->lifecycle().timeout_seconds(), 300);
  EXPECT_EQ(plan->lifecycle().isolation(), "microvm");
  EXPECT_EQ(plan->network().default_(), "deny");
  EXPECT_FALSE(plan->network().dns());
  EXPECT_EQ(plan->network().rules_size(), 0);
  ASSERT_EQ(plan->mounts_size(), 2);
  EXPECT_EQ(plan->mounts(0).mode(), "ro");
  EXPECT_EQ(plan->mounts(0).source(), "./d");
  EXPECT_EQ(plan->mounts(1).mode(), "rw");
  EXPECT_EQ(plan->mounts(1).size_mb(), 64);
  // The IR in the plan still holds only what was declared.
  EXPECT_FALSE(plan->workload().resources().has_cpu());
  EXPECT_FALSE(plan->workload().has_timeout_seconds());
}

// The plan carries what the runtime needs to attach an encrypted or object volume: the store's
// name and bound, the URL, endpoint and mode, and the credentials' secret name, never a key.
TEST(LowerTest, EncryptedAndObjectVolumesCarryNamesNeverSecrets) {
  ir::v1::Workload w;
  w.set_id("tiny");
  w.mutable_image()->set_kind("template");
  w.mutable_image()->set_ref("busybox");
  ir::v1::Volume& encrypted = *w.add_volumes();
  encrypted.set_kind("encrypted");
  encrypted.set_source("notes");
  encrypted.set_target("/notes");
  encrypted.set_size_mb(512);
  ir::v1::Volume& object = *w.add_volumes();
  object.set_kind("object");
  object.set_source("s3://datasets/run-1");
  object.set_target("/datasets");
  object.set_endpoint("https://s3.example.com");
  object.set_credentials("datasets-keys");
  ir::v1::Volume written = object;
  written.set_target("/out");
  written.set_mode("rw");
  *w.add_volumes() = written;
  auto plan = LowerToPlan(w, TestOptions(""));
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  ASSERT_EQ(plan->mounts_size(), 3);
  EXPECT_NE(PlanToCanonicalJson(*plan).find("\"mounts\":[{\"kind\":\"encrypted\",\"mode\":\"rw\","
                                            "\"size_mb\":512,\"source\":\"notes\",\"target\":"
                                            "\"/notes\"},{\"credentials\":\"datasets-keys\","
                                            "\"endpoint\":\"https://s3.example.com\",\"kind\":"
                                            "\"object\",\"mode\":\"ro\",\"source\":\"s3://"
                                            "datasets/run-1\",\"target\":\"/datasets\"}"),
            std::string::npos)
      << PlanToCanonicalJson(*plan);
  EXPECT_EQ(plan->mounts(2).mode(), "rw");
}

TEST(LowerTest, KeepsDeclaredValuesAndDropsSourceLocations) {
  auto plan = LowerToPlan(TestWorkload(), TestOptions("abcdef0123456789", 9));
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->schema(), "mvm.plan/v1");
  EXPECT_EQ(plan->lifecycle().cpu(), 2);
  EXPECT_EQ(plan->lifecycle().timeout_seconds(), 30);
  EXPECT_TRUE(plan->network().dns());
  ASSERT_EQ(plan->network().rules_size(), 1);
  EXPECT_EQ(plan->network().rules(0).host(), "api.openai.com");
  ASSERT_EQ(plan->secrets_size(), 1);
  EXPECT_EQ(plan->secrets(0).name(), "openai-api-key");
  EXPECT_EQ(plan->secrets(0).hosts(0), "api.openai.com");
  EXPECT_FALSE(plan->workload().has_source());
  EXPECT_FALSE(plan->workload().network().has_loc());
  EXPECT_EQ(plan->not_before(), "2025-01-01T00:00:00Z");
  EXPECT_EQ(plan->expires_at(), "2025-01-02T00:00:00Z");
  EXPECT_EQ(plan->epoch(), 9u);
  EXPECT_EQ(plan->key_id(), "abcdef0123456789");
  EXPECT_EQ(plan->profile(), "production");
  EXPECT_EQ(plan->compiler_version(), "0.1.0");
}

TEST(LowerTest, IrDigestIsTheOneWorkloadModuleDigest) {
  ir::Module m;
  *m.proto.add_workloads() = TestWorkload();
  m.locs.emplace_back();
  auto plan = LowerToPlan(TestWorkload(), TestOptions(""));
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->ir_digest(), ir::ModuleDigest(m));
}

TEST(LowerTest, Artifacts) {
  auto nix = LowerToPlan(TestWorkload(), TestOptions(""));
  ASSERT_TRUE(nix.ok());
  ASSERT_EQ(nix->artifacts_size(), 1);
  EXPECT_EQ(nix->artifacts(0).role(), "rootfs");
  EXPECT_EQ(nix->artifacts(0).kind(), "nix");
  EXPECT_EQ(nix->artifacts(0).flake_ref(), "./flake");
  EXPECT_EQ(nix->artifacts(0).attr(), "agent-runtime");
  EXPECT_EQ(nix->artifacts(0).digest(), "");  // until `mvmctl build`

  ir::v1::Workload w = TestWorkload();
  std::string digest = "sha256:" + std::string(64, 'c');
  w.mutable_image()->set_kind("oci");
  w.mutable_image()->set_ref("ghcr.io/acme/x@" + digest);
  w.mutable_image()->set_digest(digest);
  auto oci = LowerToPlan(w, TestOptions(""));
  ASSERT_TRUE(oci.ok());
  EXPECT_EQ(oci->artifacts(0).kind(), "oci");
  EXPECT_EQ(oci->artifacts(0).ref(), "ghcr.io/acme/x@" + digest);
  EXPECT_EQ(oci->artifacts(0).digest(), digest);
  EXPECT_EQ(oci->artifacts(0).flake_ref(), "");
}

TEST(LowerTest, RefusesWindowsThatNeverOpen) {
  PlanOptions o = TestOptions("");
  o.expires_at = o.not_before;
  auto plan = LowerToPlan(TestWorkload(), o);
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().message.find("before it becomes valid"), std::string::npos);
  o.expires_at = 400000000000;  // year 14645
  EXPECT_FALSE(LowerToPlan(TestWorkload(), o).ok());
}

TEST(PayloadTest, CanonicalJsonIsIntegersOnlyAndRoundTrips) {
  PlanOptions o = TestOptions("abcdef0123456789", UINT32_MAX);
  auto plan = LowerToPlan(TestWorkload(), o);
  ASSERT_TRUE(plan.ok());
  std::string payload = PlanToCanonicalJson(*plan);
  EXPECT_NE(payload.find("\"epoch\":4294967295,"), std::string::npos);  // a number, not a string
  EXPECT_EQ(payload.find('\n'), std::string::npos);
  auto parsed = ParsePlanPayload(payload);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(PlanToCanonicalJson(*parsed), payload);
  // Member order is sorted (RFC 8785) and empty members are gone.
  EXPECT_EQ(payload.rfind("{\"artifacts\":[", 0), 0u);
  EXPECT_EQ(payload.find("[]"), std::string::npos);
  EXPECT_EQ(payload.find("{}"), std::string::npos);
}

TEST(PayloadTest, WorkloadIds) {
  EXPECT_TRUE(ir::IsWorkloadId("a"));
  EXPECT_TRUE(ir::IsWorkloadId("agent-tool-2"));
  EXPECT_TRUE(ir::IsWorkloadId(std::string(63, 'a')));
  EXPECT_FALSE(ir::IsWorkloadId(std::string(64, 'a')));
  EXPECT_FALSE(ir::IsWorkloadId(""));
  EXPECT_FALSE(ir::IsWorkloadId("-a"));
  EXPECT_FALSE(ir::IsWorkloadId("A"));
  EXPECT_FALSE(ir::IsWorkloadId("a/b"));
  EXPECT_FALSE(ir::IsWorkloadId(".."));
}

}  // namespace
}  // namespace mvm::plan
