#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "passes/pass.h"
#include "tests/passes/pass_test_util.h"

namespace mvm::passes {
namespace {

using testing::AddWorkload;
using testing::Kinds;

using Strings = std::vector<std::string>;

Strings Names(const std::vector<const PassInfo*>& pipeline) {
  Strings out;
  for (const PassInfo* pass : pipeline) {
    out.emplace_back(pass->name);
  }
  return out;
}

TEST(PassManagerTest, RegistryListsThePassesInDefaultOrder) {
  Strings names;
  for (const PassInfo& pass : AllPasses()) {
    names.emplace_back(pass.name);
    EXPECT_NE(pass.run, nullptr);
    EXPECT_FALSE(pass.description.empty());
  }
  EXPECT_EQ(names, (Strings{"validate", "policy", "org-policy", "normalize"}));
}

TEST(PassManagerTest, ParsesTheDefaultPipeline) {
  auto pipeline = ParsePipeline(kDefaultPipeline);
  ASSERT_TRUE(pipeline.ok()) << pipeline.error().message;
  EXPECT_EQ(Names(*pipeline), (Strings{"validate", "policy", "org-policy", "normalize"}));
  EXPECT_EQ((*pipeline)[0]->run, &RunValidate);
}

TEST(PassManagerTest, ToleratesWhitespaceAndKeepsTheGivenOrder) {
  auto pipeline = ParsePipeline("  normalize ,\tvalidate\n");
  ASSERT_TRUE(pipeline.ok()) << pipeline.error().message;
  EXPECT_EQ(Names(*pipeline), (Strings{"normalize", "validate"}));
}

TEST(PassManagerTest, UnknownPassListsTheKnownOnes) {
  auto pipeline = ParsePipeline("validate,optimize");
  ASSERT_FALSE(pipeline.ok());
  EXPECT_EQ(pipeline.error().message,
            "unknown pass `optimize`; known passes: validate, policy, org-policy, normalize");
}

TEST(PassManagerTest, UnknownPassSuggestsACloseName) {
  auto pipeline = ParsePipeline("valdate");
  ASSERT_FALSE(pipeline.ok());
  EXPECT_EQ(
      pipeline.error().message,
      "unknown pass `valdate`; known passes: validate, policy, org-policy, normalize; did you mean "
      "`validate`?");
}

TEST(PassManagerTest, RepeatedPassIsAnError) {
  auto pipeline = ParsePipeline("validate, policy, validate");
  ASSERT_FALSE(pipeline.ok());
  EXPECT_EQ(pipeline.error().message,
            "pass `validate` appears more than once in the pipeline; each pass runs at most once");
}

TEST(PassManagerTest, EmptyPipelinesAndNamesAreErrors) {
  for (const char* text : {"", "   ", "\t\n"}) {
    auto pipeline = ParsePipeline(text);
    ASSERT_FALSE(pipeline.ok()) << text;
    EXPECT_EQ(pipeline.error().message,
              "empty pass pipeline; known passes: validate, policy, org-policy, normalize");
  }
  for (const char* text : {"validate,", ",validate", "validate,,policy", "validate, ,policy"}) {
    auto pipeline = ParsePipeline(text);
    ASSERT_FALSE(pipeline.ok()) << text;
    EXPECT_EQ(pipeline.error().message,
              "empty pass name in pipeline `" + std::string(text) +
                  "`; known passes: validate, policy, org-policy, normalize");
  }
}

TEST(PassManagerTest, RunsEveryPassEvenAfterErrors) {
  ir::Module m;
  ir::v1::Workload* w = AddWorkload(m, "Bad_Id");
  ir::v1::NetworkRule* rule = w->mutable_network()->add_rules();
  rule->set_protocol("https");
  rule->set_host("B.example.com");
  ir::v1::Secret* secret = w->add_secrets();
  secret->set_env("KEY");
  secret->add_hosts("other.example.com");
  auto pipeline = ParsePipeline(kDefaultPipeline);
  ASSERT_TRUE(pipeline.ok());
  PassOptions options;
  DiagnosticSink sink;
  PassContext context{options, sink};
  RunPipeline(*pipeline, m, context);
  EXPECT_EQ(Kinds(sink.diagnostics()), (Strings{"invalid-id", "secret-host-not-allowed"}));
  EXPECT_EQ(w->network().rules(0).host(), "b.example.com");  // normalize ran too
}

TEST(PassManagerTest, ProfileReachesThePasses) {
  ir::Module m;
  AddWorkload(m, "tool")->set_isolation("container");
  auto pipeline = ParsePipeline("validate,policy");
  ASSERT_TRUE(pipeline.ok());
  PassOptions options{Profile::kProduction, ""};
  DiagnosticSink sink;
  PassContext context{options, sink};
  RunPipeline(*pipeline, m, context);
  EXPECT_EQ(Kinds(sink.diagnostics()), (Strings{"missing-timeout", "weak-isolation"}));
}

#ifdef MVM_VERIFY_BETWEEN_PASSES
TEST(PassManagerDeathTest, VerifierFindingAfterAPassAborts) {
  ir::Module m;
  AddWorkload(m, "tool");
  m.locs.clear();  // one LocTable per workload is a structural invariant
  auto pipeline = ParsePipeline("validate");
  ASSERT_TRUE(pipeline.ok());
  PassOptions options;
  DiagnosticSink sink;
  PassContext context{options, sink};
  EXPECT_DEATH(RunPipeline(*pipeline, m, context),
               "internal error: IR verifier failed after pass `validate`: ");
}
#endif

}  // namespace
}  // namespace mvm::passes
