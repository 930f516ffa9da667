#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "passes/pass.h"
#include "tests/passes/pass_test_util.h"

namespace mvm::passes {
namespace {

using testing::AddWorkload;
using testing::At;
using testing::Kinds;
using testing::RunPass;

using Strings = std::vector<std::string>;

const std::string kHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

std::vector<Diagnostic> Policy(ir::Module& m, Profile profile = Profile::kDev,
                               std::string project_root = "") {
  return RunPass(&RunPolicy, m, PassOptions{profile, std::move(project_root)});
}

void AddRule(ir::v1::Workload* w, const std::string& protocol, const std::string& host) {
  ir::v1::NetworkRule* rule = w->mutable_network()->add_rules();
  rule->set_protocol(protocol);
  rule->set_host(host);
}

ir::v1::Secret* AddSecret(ir::v1::Workload* w, const std::string& env, const Strings& hosts) {
  ir::v1::Secret* secret = w->add_secrets();
  secret->set_env(env);
  secret->set_name(env + "-name");
  for (const std::string& host : hosts) {
    secret->add_hosts(host);
  }
  return secret;
}

// A workload that satisfies the production profile.
ir::v1::Workload* AddProductionWorkload(ir::Module& m, const std::string& id) {
  ir::v1::Workload* w = AddWorkload(m, id);
  w->set_timeout_seconds(30);
  return w;
}

TEST(PolicyTest, SecretHostsMustBeAllowedByTheNetworkPolicy) {
  ir::Module m;
  ir::v1::Workload* w = AddWorkload(m, "tool");
  AddRule(w, "https", "API.example.com");
  AddRule(w, "http", "mirror.example.org");
  AddRule(w, "https", "*.s3.example.net");
  AddSecret(w, "A", {"api.example.com", "Mirror.Example.org", "bucket.s3.example.net"});
  AddSecret(w, "B", {"evil.example.com", "s3.example.net", "*.s3.example.net"});
  m.locs[0].Set("/secrets/1/hosts/0", At(7, 30));
  m.locs[0].Set("/secrets/1", At(7, 5));
  std::vector<Diagnostic> diags = Policy(m);
  ASSERT_EQ(Kinds(diags), (Strings{"secret-host-not-allowed", "secret-host-not-allowed"}));
  EXPECT_EQ(diags[0].message,
            "secret `B` may be sent to `evil.example.com`, but the network policy does not allow "
            "that host");
  EXPECT_EQ(diags[0].hint,
            "add `.allow_https(\"evil.example.com\")` to the workload's `network=` policy, or "
            "remove the host");
  EXPECT_EQ(diags[0].loc, At(7, 30));
  // the bare suffix of a wildcard rule is not covered by it
  EXPECT_EQ(diags[1].message,
            "secret `B` may be sent to `s3.example.net`, but the network policy does not allow "
            "that host");
  EXPECT_EQ(diags[1].loc, At(7, 5));
}

TEST(PolicyTest, WithoutANetworkNoSecretHostIsAllowed) {
  ir::Module m;
  ir::v1::Workload* w = AddWorkload(m, "tool");
  AddSecret(w, "KEY", {"api.example.com"});
  std::vector<Diagnostic> diags = Policy(m);
  ASSERT_EQ(Kinds(diags), Strings{"secret-host-not-allowed"});
  EXPECT_EQ(diags[0].hint,
            "the workload has no network at all; add `network=NetworkPolicy.deny_by_default()"
            ".allow_https(\"api.example.com\")`, or remove the host");
}

TEST(PolicyTest, MalformedSecretHostsAreLeftToValidate) {
  ir::Module m;
  ir::v1::Workload* w = AddWorkload(m, "tool");
  AddSecret(w, "KEY", {"10.0.0.1", "https://x.example.com"});
  EXPECT_TRUE(Policy(m).empty());
}

TEST(PolicyTest, DevProfileAllowsTagsContainersMissingTimeoutsAndRwMounts) {
  ir::Module m;
  ir::v1::Workload* w = AddWorkload(m, "tool");
  w->mutable_image()->set_kind("oci");
  w->mutable_image()->set_ref("ubuntu:22.04");
  w->set_isolation("container");
  ir::v1::Volume* v = w->add_volumes();
  v->set_kind("local");
  v->set_source("../outside");
  v->set_target("/data");
  v->set_mode("rw");
  EXPECT_TRUE(Policy(m, Profile::kDev).empty());
}

TEST(PolicyTest, ProductionRequiresPinnedOciImages) {
  ir::Module m;
  ir::v1::Workload* tagged = AddProductionWorkload(m, "tagged");
  tagged->mutable_image()->set_kind("oci");
  tagged->mutable_image()->set_ref("docker.io/library/ubuntu:22.04");
  m.locs[0].Set("/image", At(2, 11));
  ir::v1::Workload* pinned = AddProductionWorkload(m, "pinned");
  pinned->mutable_image()->set_kind("oci");
  pinned->mutable_image()->set_ref("ubuntu:22.04@sha256:" + kHex);
  pinned->mutable_image()->set_digest("sha256:" + kHex);
  AddProductionWorkload(m, "template");
  ir::v1::Workload* invalid = AddProductionWorkload(m, "invalid");
  invalid->mutable_image()->set_kind("oci");
  invalid->mutable_image()->set_ref("library/Ubuntu:22.04");  // validate's invalid-image-ref
  std::vector<Diagnostic> diags = Policy(m, Profile::kProduction);
  ASSERT_EQ(Kinds(diags), Strings{"mutable-image-tag"});
  EXPECT_EQ(diags[0].message, "image `oci:docker.io/library/ubuntu:22.04` is not pinned by digest");
  EXPECT_EQ(diags[0].loc, At(2, 11));
}

TEST(PolicyTest, ProductionRequiresAWorkloadTimeout) {
  ir::Module m;
  ir::v1::Workload* w = AddWorkload(m, "tool", 6);
  w->mutable_entrypoints(0)->set_timeout_seconds(10);  // does not bound the whole workload
  m.locs[0].Set("/id", At(6, 11));
  std::vector<Diagnostic> diags = Policy(m, Profile::kProduction);
  ASSERT_EQ(Kinds(diags), Strings{"missing-timeout"});
  EXPECT_EQ(diags[0].message, "workload `tool` has no explicit `timeout_seconds`");
  EXPECT_EQ(diags[0].loc, At(6));
}

TEST(PolicyTest, ProductionRefusesContainerIsolation) {
  ir::Module m;
  AddProductionWorkload(m, "vm")->set_isolation("microvm");
  AddProductionWorkload(m, "ct")->set_isolation("container");
  m.locs[1].Set("/isolation", At(9, 15));
  std::vector<Diagnostic> diags = Policy(m, Profile::kProduction);
  ASSERT_EQ(Kinds(diags), Strings{"weak-isolation"});
  EXPECT_EQ(diags[0].message,
            "workload `ct` asks for `container` isolation, which is weaker than a microVM");
  EXPECT_EQ(diags[0].loc, At(9, 15));
}

TEST(PolicyTest, ProductionRefusesReadWriteLocalMounts) {
  ir::Module m;
  ir::v1::Workload* w = AddProductionWorkload(m, "tool");
  for (const char* mode : {"ro", "", "rw"}) {
    ir::v1::Volume* v = w->add_volumes();
    v->set_kind("local");
    v->set_source("./data");
    v->set_target(std::string("/data-") + mode);
    v->set_mode(mode);
  }
  ir::v1::Volume* memory = w->add_volumes();
  memory->set_kind("memory");
  memory->set_target("/scratch");
  m.locs[0].Set("/volumes/2", At(4, 14));
  std::vector<Diagnostic> diags = Policy(m, Profile::kProduction);
  ASSERT_EQ(Kinds(diags), Strings{"unsafe-mount"});
  EXPECT_EQ(diags[0].message,
            "unsafe volume `./data`: read-write host mounts are not allowed in the production "
            "profile");
  EXPECT_EQ(diags[0].loc, At(4, 14));
}

// What outlives the run is written, in production, only to an encrypted volume: a read-write object
// volume is refused, a read-only one (its default mode) and an encrypted one are not, and the dev
// profile refuses none of them.
TEST(PolicyTest, ProductionWritesDataThatOutlivesTheRunOnlyToEncryptedVolumes) {
  ir::Module m;
  ir::v1::Workload* w = AddProductionWorkload(m, "tool");
  for (const char* mode : {"ro", "", "rw"}) {
    ir::v1::Volume* v = w->add_volumes();
    v->set_kind("object");
    v->set_source(std::string("s3://bucket/") + (*mode ? mode : "default"));
    v->set_target(std::string("/o-") + mode);
    v->set_endpoint("https://s3.example.com");
    v->set_credentials("keys");
    v->set_mode(mode);
  }
  ir::v1::Volume* encrypted = w->add_volumes();
  encrypted->set_kind("encrypted");
  encrypted->set_source("notes");
  encrypted->set_target("/notes");
  encrypted->set_size_mb(64);
  m.locs[0].Set("/volumes/2/mode", At(7, 20));
  std::vector<Diagnostic> diags = Policy(m, Profile::kProduction);
  ASSERT_EQ(Kinds(diags), Strings{"unsafe-mount"});
  EXPECT_EQ(diags[0].message,
            "unsafe volume `s3://bucket/rw`: the production profile writes data that outlives the "
            "run only to `Volume.encrypted` volumes, and object storage is not encrypted by mvm");
  EXPECT_EQ(diags[0].loc, At(7, 20));
  EXPECT_NE(diags[0].hint.find("Volume.encrypted(...)"), std::string::npos) << diags[0].hint;
  EXPECT_TRUE(Policy(m, Profile::kDev).empty());
}

struct MountCase {
  std::string file;
  std::string project_root;
  std::string source;
  bool escapes;
};

TEST(PolicyTest, ProductionKeepsLocalSourcesInsideTheProject) {
  const MountCase cases[] = {
      {"app.py", "", "./data", false},
      {"app.py", "", ".", false},
      {"app.py", "", "data/../other", false},
      {"app.py", "", "../x", true},
      {"app.py", "", "data/../../x", true},
      {"app.py", "", "/etc", true},
      {"proj/app.py", "", "data", false},
      {"proj/app.py", "", "../proj/data", false},
      {"proj/app.py", "", "../proj2", true},
      {"/srv/proj/app.py", "", "/srv/proj/data", false},
      {"/srv/proj/app.py", "", "/srv/project", true},
      // relative sources resolve against the project root, not the declaring file's directory
      {"/srv/proj/sub/app.py", "/srv/proj", "data", false},
      {"/srv/proj/sub/app.py", "/srv/proj", "../data", true},
      {"app.py", "root", "../root/x", false},
  };
  for (const MountCase& c : cases) {
    ir::Module m;
    ir::v1::Workload* w = AddProductionWorkload(m, "tool");
    w->mutable_source()->set_file(c.file);
    ir::v1::Volume* v = w->add_volumes();
    v->set_kind("local");
    v->set_source(c.source);
    v->set_target("/data");
    v->set_mode("ro");
    std::vector<Diagnostic> diags = Policy(m, Profile::kProduction, c.project_root);
    if (!c.escapes) {
      EXPECT_EQ(Kinds(diags), Strings{}) << c.file << " " << c.source;
      continue;
    }
    ASSERT_EQ(Kinds(diags), Strings{"unsafe-mount"}) << c.file << " " << c.source;
  }
}

TEST(PolicyTest, EscapingMountNamesTheProjectDirectory) {
  ir::Module m;
  ir::v1::Workload* w = AddProductionWorkload(m, "tool");
  w->mutable_source()->set_file("examples/app.py");
  ir::v1::Volume* v = w->add_volumes();
  v->set_kind("local");
  v->set_source("../x");
  v->set_target("/x");
  v->set_mode("rw");
  std::vector<Diagnostic> diags = Policy(m, Profile::kProduction);
  ASSERT_EQ(Kinds(diags), (Strings{"unsafe-mount", "unsafe-mount"}));
  EXPECT_EQ(diags[1].message,
            "unsafe volume `../x`: `../x` resolves outside the project directory `examples`");

  diags = Policy(m, Profile::kProduction, "/work/project");
  ASSERT_EQ(diags.size(), 2u);
  EXPECT_EQ(diags[1].message,
            "unsafe volume `../x`: `../x` resolves outside the project directory `/work/project`");
}

}  // namespace
}  // namespace mvm::passes
