#include "ir/verify.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mvm::ir {
namespace {

using Findings = std::vector<std::string>;

v1::SourceLoc Loc(int line, int column, int end_line = 0, int end_column = 0) {
  v1::SourceLoc loc;
  loc.set_file("app.py");
  loc.set_line(line);
  loc.set_column(column);
  loc.set_end_line(end_line);
  loc.set_end_column(end_column);
  return loc;
}

void AddRule(v1::Workload& w, const std::string& protocol, const std::string& host) {
  v1::NetworkRule& rule = *w.mutable_network()->add_rules();
  rule.set_protocol(protocol);
  rule.set_host(host);
}

v1::Secret& AddSecret(v1::Workload& w, const std::string& env, std::vector<std::string> hosts) {
  v1::Secret& secret = *w.add_secrets();
  secret.set_env(env);
  secret.set_name(env + "-name");
  for (const std::string& host : hosts) {
    secret.add_hosts(host);
  }
  return secret;
}

// A normalised module with locations everywhere.
Module Sound() {
  Module m;
  v1::Workload& w = *m.proto.add_workloads();
  w.set_id("a");
  *w.mutable_source() = Loc(3, 1, 3, 12);
  w.mutable_network()->set_default_("deny");
  *w.mutable_network()->mutable_loc() = Loc(4, 13);
  AddRule(w, "http", "api.example.com");
  AddRule(w, "https", "api.example.com");
  AddRule(w, "https", "b.example.com");
  *w.mutable_network()->mutable_rules(0)->mutable_loc() = Loc(5, 5, 5, 40);
  AddSecret(w, "A_KEY", {"api.example.com", "b.example.com"});
  AddSecret(w, "B_KEY", {"b.example.com"});
  *w.mutable_secrets(0)->mutable_loc() = Loc(6, 5, 7, 1);
  m.locs.resize(1);
  return m;
}

TEST(VerifyTest, SoundModuleHasNoFindings) {
  EXPECT_EQ(Verify(Sound()), Findings{});
  EXPECT_EQ(Verify(Sound(), VerifyLevel::kNormalized), Findings{});
  EXPECT_EQ(Verify(Module()), Findings{});
}

TEST(VerifyTest, SchemaVersion) {
  Module m = Sound();
  m.proto.set_schema_version("mvm.ir/v0");
  EXPECT_EQ(Verify(m), (Findings{"schema_version: expected \"mvm.ir/v1\", got \"mvm.ir/v0\""}));
}

TEST(VerifyTest, OneLocTablePerWorkload) {
  Module m = Sound();
  m.locs.clear();
  EXPECT_EQ(Verify(m), (Findings{"locs: 0 tables for 1 workloads"}));
}

TEST(VerifyTest, SourceLocsMustBeSane) {
  Module m = Sound();
  v1::Workload& w = *m.proto.mutable_workloads(0);
  *w.mutable_source() = Loc(0, 1);
  *w.mutable_network()->mutable_rules(2)->mutable_loc() = Loc(5, 8, 5, 7);
  *w.mutable_secrets(1)->mutable_loc() = Loc(9, 0);
  EXPECT_EQ(Verify(m),
            (Findings{"workloads[0].source: line and column must be >= 1, got 0:1",
                      "workloads[0].network.rules[2].loc: end 5:7 is before start 5:8",
                      "workloads[0].secrets[1].loc: line and column must be >= 1, got 9:0"}));
}

TEST(VerifyTest, EmptyRangeAndMissingEndAreFine) {
  Module m = Sound();
  *m.proto.mutable_workloads(0)->mutable_source() = Loc(3, 4, 3, 4);
  *m.proto.mutable_workloads(0)->mutable_volumes()->Add()->mutable_loc() = Loc(8, 2);
  EXPECT_EQ(Verify(m), Findings{});
}

TEST(VerifyTest, StructuralLevelIgnoresNormalisation) {
  Module m = Sound();
  AddRule(*m.proto.mutable_workloads(0), "https", "API.example.com");
  EXPECT_EQ(Verify(m), Findings{});
  EXPECT_EQ(Verify(m, VerifyLevel::kNormalized),
            (Findings{"workloads[0].network.rules[3].host: \"API.example.com\" is not lowercase",
                      "workloads[0].network.rules: not sorted at index 3"}));
}

TEST(VerifyTest, RulesSortedByHostThenProtocol) {
  Module m = Sound();
  v1::Workload& w = *m.proto.mutable_workloads(0);
  w.mutable_network()->mutable_rules()->SwapElements(0, 1);  // https before http on the same host
  EXPECT_EQ(Verify(m, VerifyLevel::kNormalized),
            (Findings{"workloads[0].network.rules: not sorted at index 1"}));
}

TEST(VerifyTest, DuplicateRules) {
  Module m = Sound();
  AddRule(*m.proto.mutable_workloads(0), "https", "b.example.com");
  EXPECT_EQ(Verify(m, VerifyLevel::kNormalized),
            (Findings{"workloads[0].network.rules: duplicate at index 3"}));
}

TEST(VerifyTest, SecretsSortedByEnv) {
  Module m = Sound();
  AddSecret(*m.proto.mutable_workloads(0), "A_OTHER", {});
  EXPECT_EQ(Verify(m, VerifyLevel::kNormalized),
            (Findings{"workloads[0].secrets: not sorted at index 2"}));
}

TEST(VerifyTest, SecretHostsSortedUniqueLowercase) {
  Module m = Sound();
  v1::Workload& w = *m.proto.mutable_workloads(0);
  w.mutable_secrets(0)->add_hosts("a.example.com");
  w.mutable_secrets(1)->add_hosts("b.example.com");
  w.mutable_secrets(1)->add_hosts("C.example.com");
  EXPECT_EQ(Verify(m, VerifyLevel::kNormalized),
            (Findings{"workloads[0].secrets[0].hosts: not sorted at index 2",
                      "workloads[0].secrets[1].hosts[2]: \"C.example.com\" is not lowercase",
                      "workloads[0].secrets[1].hosts: duplicate at index 1"}));
}

}  // namespace
}  // namespace mvm::ir
