#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "passes/pass.h"
#include "tests/passes/pass_test_util.h"

namespace mvm::passes {
namespace {

using testing::AddWorkload;
using testing::Kinds;
using testing::RunPass;

using Strings = std::vector<std::string>;

const std::string kDigest =
    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

std::vector<Diagnostic> Check(ir::Module& m, const OrgPolicy& policy) {
  PassOptions options;
  options.org_policy = policy;
  return RunPass(&RunOrgPolicy, m, options);
}

Strings Messages(const std::vector<Diagnostic>& diags) {
  Strings out;
  for (const Diagnostic& d : diags) {
    out.push_back(d.message);
  }
  return out;
}

void SetOci(ir::v1::Workload* w, const std::string& name) {
  w->mutable_image()->set_kind("oci");
  w->mutable_image()->set_ref(name + "@" + kDigest);
  w->mutable_image()->set_digest(kDigest);
}

TEST(OrgPolicyTest, NoPolicyNoFindings) {
  ir::Module m;
  AddWorkload(m, "a")->mutable_resources()->set_cpu(64);
  EXPECT_TRUE(RunPass(&RunOrgPolicy, m).empty());
}

TEST(OrgPolicyTest, RegistriesMatchWholeComponents) {
  OrgPolicy policy;
  policy.path = "p.json";
  policy.allowed_registries = Strings{"ghcr.io/acme", "docker.io/library", "127.0.0.1:5000"};
  auto verdict = [&](const std::string& image) {
    ir::Module m;
    SetOci(AddWorkload(m, "a"), image);
    return Check(m, policy).empty();
  };
  EXPECT_TRUE(verdict("ghcr.io/acme/agent"));
  EXPECT_TRUE(verdict("ghcr.io/acme/tools/agent"));
  EXPECT_FALSE(verdict("ghcr.io/acme-evil/agent"));
  EXPECT_FALSE(verdict("ghcr.io/other/agent"));
  EXPECT_TRUE(verdict("python"));  // docker.io/library/python
  EXPECT_TRUE(verdict("docker.io/library/python"));
  EXPECT_FALSE(verdict("someone/python"));  // docker.io/someone/python
  EXPECT_TRUE(verdict("127.0.0.1:5000/agent"));
  EXPECT_FALSE(verdict("127.0.0.1:5001/agent"));
  // Other kinds are not registry images.
  ir::Module m;
  AddWorkload(m, "t");
  EXPECT_TRUE(Check(m, policy).empty());

  ir::Module none;
  SetOci(AddWorkload(none, "a"), "ghcr.io/acme/agent");
  policy.allowed_registries = Strings{};
  EXPECT_EQ(Messages(Check(none, policy)),
            (Strings{"image `oci:ghcr.io/acme/agent@" + kDigest +
                     "` comes from `ghcr.io/acme/agent`: the organisation policy `p.json` sets "
                     "`allowed_registries` to [] (none)"}));
}

TEST(OrgPolicyTest, EgressHostsMustBeCovered) {
  OrgPolicy policy;
  policy.path = "p.json";
  policy.egress_allow = Strings{"api.openai.com", "*.acme.dev"};
  ir::Module m;
  ir::v1::Workload* w = AddWorkload(m, "a");
  for (const char* host : {"api.openai.com", "x.acme.dev", "*.eu.acme.dev", "acme.dev",
                           "*.acme.dev", "openai.com", "*.openai.com"}) {
    ir::v1::NetworkRule* r = w->mutable_network()->add_rules();
    r->set_protocol("https");
    r->set_host(host);
  }
  EXPECT_EQ(
      Messages(Check(m, policy)),
      (Strings{
          "https egress to `acme.dev`: the organisation policy `p.json` sets `egress_allow` "
          "to [`api.openai.com`, `*.acme.dev`]",
          "https egress to `openai.com`: the organisation policy `p.json` sets `egress_allow` "
          "to [`api.openai.com`, `*.acme.dev`]",
          "https egress to `*.openai.com`: the organisation policy `p.json` sets "
          "`egress_allow` to [`api.openai.com`, `*.acme.dev`]",
      }));
}

TEST(OrgPolicyTest, LimitsApplyToDeclaredValuesAndDefaults) {
  OrgPolicy policy;
  policy.path = "p.json";
  policy.max_cpu = 2;
  policy.max_memory_mb = 256;  // below the default 512
  policy.max_disk_mb = 4096;   // above the default 2048
  policy.max_timeout_seconds = 60;
  ir::Module m;
  ir::v1::Workload* w = AddWorkload(m, "a");
  w->mutable_resources()->set_cpu(4);
  w->set_timeout_seconds(60);
  auto diags = Check(m, policy);
  EXPECT_EQ(Kinds(diags), (Strings{"policy-violation", "policy-violation"}));
  EXPECT_EQ(Messages(diags),
            (Strings{"`cpu` is 4: the organisation policy `p.json` sets `max_cpu` to 2",
                     "`memory_mb` is not declared and defaults to 512: the organisation policy "
                     "`p.json` sets `max_memory_mb` to 256"}));
  EXPECT_EQ(diags[1].hint, "declare `memory_mb=` with a value up to 256");
  // A value outside the option's own range is validate's to report, not the policy's.
  w->mutable_resources()->set_cpu(1000);
  w->mutable_resources()->set_memory_mb(128);
  EXPECT_TRUE(Check(m, policy).empty());
}

TEST(OrgPolicyTest, RequiredIsolation) {
  OrgPolicy policy;
  policy.path = "p.json";
  policy.required_isolation = "microvm";
  ir::Module m;
  AddWorkload(m, "default");
  AddWorkload(m, "vm")->set_isolation("microvm");
  AddWorkload(m, "ct")->set_isolation("container");
  EXPECT_EQ(Messages(Check(m, policy)),
            (Strings{"`isolation` is `container`: the organisation policy `p.json` sets "
                     "`required_isolation` to `microvm`"}));
}

TEST(OrgPolicyTest, RunsInTheDefaultPipelineBeforeNormalize) {
  auto pipeline = ParsePipeline(kDefaultPipeline);
  ASSERT_TRUE(pipeline.ok());
  std::vector<std::string_view> names;
  for (const PassInfo* p : *pipeline) {
    names.push_back(p->name);
  }
  auto org = std::find(names.begin(), names.end(), "org-policy");
  auto normalize = std::find(names.begin(), names.end(), "normalize");
  ASSERT_NE(org, names.end());
  EXPECT_LT(org, normalize);  // diagnostics point at values, which normalize reorders
}

}  // namespace
}  // namespace mvm::passes
