#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "passes/pass.h"
#include "tests/passes/pass_test_util.h"

namespace mvm::passes {
namespace {

using testing::AddWorkload;
using testing::At;
using testing::RunPass;

using Strings = std::vector<std::string>;

std::vector<std::string> Rules(const ir::v1::Workload& w) {
  std::vector<std::string> out;
  for (const ir::v1::NetworkRule& rule : w.network().rules()) {
    out.push_back(rule.host() + " " + rule.protocol());
  }
  return out;
}

void AddRule(ir::v1::Workload* w, const std::string& protocol, const std::string& host,
             uint32_t line = 0) {
  ir::v1::NetworkRule* rule = w->mutable_network()->add_rules();
  rule->set_protocol(protocol);
  rule->set_host(host);
  if (line != 0) {
    *rule->mutable_loc() = ir::ToProto(At(line));
  }
}

TEST(NormalizeTest, RulesAreLowercasedSortedByHostThenProtocolAndDeduplicated) {
  ir::Module m;
  ir::v1::Workload* w = AddWorkload(m, "tool");
  AddRule(w, "https", "b.example.com");
  AddRule(w, "https", "A.example.com", 3);
  AddRule(w, "http", "a.example.com");
  AddRule(w, "https", "a.EXAMPLE.com", 5);
  AddRule(w, "https", "*.example.com");
  AddRule(w, "https", "Z.example.com");
  EXPECT_TRUE(RunPass(&RunNormalize, m).empty());
  EXPECT_EQ(Rules(*w), (Strings{"*.example.com https", "a.example.com http", "a.example.com https",
                                "b.example.com https", "z.example.com https"}));
  // the first of duplicated rules is the one kept
  EXPECT_EQ(w->network().rules(2).loc().line(), 3);
}

TEST(NormalizeTest, SecretsAreSortedByEnvAndTheirHostsSortedAndDeduplicated) {
  ir::Module m;
  ir::v1::Workload* w = AddWorkload(m, "tool");
  for (const auto& [env, name] : std::vector<std::pair<std::string, std::string>>{
           {"ZED", "z"}, {"ALPHA", "a1"}, {"MID", "m"}, {"ALPHA", "a2"}}) {
    ir::v1::Secret* secret = w->add_secrets();
    secret->set_env(env);
    secret->set_name(name);
  }
  for (const char* host :
       {"b.example.com", "API.example.com", "api.example.com", "B.example.com"}) {
    w->mutable_secrets(0)->add_hosts(host);
  }
  RunPass(&RunNormalize, m);
  Strings envs;
  for (const ir::v1::Secret& secret : w->secrets()) {
    envs.push_back(secret.env() + "=" + secret.name());
  }
  // stable: equal envs keep their declaration order (validate reports them)
  EXPECT_EQ(envs, (Strings{"ALPHA=a1", "ALPHA=a2", "MID=m", "ZED=z"}));
  const ir::v1::Secret& zed = w->secrets(3);
  EXPECT_EQ(Strings(zed.hosts().begin(), zed.hosts().end()),
            (Strings{"api.example.com", "b.example.com"}));
}

TEST(NormalizeTest, OrderedListsKeepDeclarationOrder) {
  ir::Module m;
  ir::v1::Workload* w = AddWorkload(m, "tool");
  w->mutable_entrypoints(0)->set_name("zeta");
  w->add_entrypoints()->set_name("alpha");
  w->add_services()->set_name("zsvc");
  w->add_services()->set_name("asvc");
  w->add_ports(9000);
  w->add_ports(80);
  for (const char* target : {"/z", "/a"}) {
    ir::v1::Volume* v = w->add_volumes();
    v->set_kind("memory");
    v->set_target(target);
  }
  w->add_files()->set_path("/z");
  w->add_files()->set_path("/a");
  ir::v1::Workload before = *w;
  RunPass(&RunNormalize, m);
  EXPECT_EQ(w->SerializeAsString(), before.SerializeAsString());
}

TEST(NormalizeTest, NoNetworkStaysNoNetwork) {
  ir::Module m;
  ir::v1::Workload* w = AddWorkload(m, "tool");
  RunPass(&RunNormalize, m);
  EXPECT_FALSE(w->has_network());
}

TEST(NormalizeTest, IsIdempotent) {
  ir::Module m;
  ir::v1::Workload* w = AddWorkload(m, "tool");
  AddRule(w, "https", "B.example.com");
  AddRule(w, "http", "a.example.com");
  ir::v1::Secret* secret = w->add_secrets();
  secret->set_env("K");
  secret->add_hosts("B.example.com");
  secret->add_hosts("a.example.com");
  RunPass(&RunNormalize, m);
  std::string once = m.proto.SerializeAsString();
  RunPass(&RunNormalize, m);
  EXPECT_EQ(m.proto.SerializeAsString(), once);
}

TEST(NormalizeTest, LeavesTheLocationTableAlone) {
  ir::Module m;
  ir::v1::Workload* w = AddWorkload(m, "tool");
  AddRule(w, "https", "b.example.com");
  AddRule(w, "https", "a.example.com");
  m.locs[0].Set("/network/rules/0", At(4, 20));
  RunPass(&RunNormalize, m);
  ASSERT_EQ(m.locs.size(), 1u);
  EXPECT_EQ(m.Loc(0, "/network/rules/0"), At(4, 20));
}

}  // namespace
}  // namespace mvm::passes
