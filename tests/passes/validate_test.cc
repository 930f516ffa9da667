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

std::vector<Diagnostic> Validate(ir::Module& m) { return RunPass(&RunValidate, m); }

TEST(ValidateTest, MinimalWorkloadIsClean) {
  ir::Module m;
  AddWorkload(m, "agent-tool");
  EXPECT_TRUE(Validate(m).empty());
}

TEST(ValidateTest, FullyDeclaredWorkloadIsClean) {
  ir::Module m;
  ir::v1::Workload* w = AddWorkload(m, "agent-tool");
  w->mutable_image()->set_kind("oci");
  w->mutable_image()->set_ref("docker.io/library/python:3.12@sha256:" + kHex);
  w->mutable_image()->set_digest("sha256:" + kHex);
  w->mutable_resources()->set_cpu(64);
  w->mutable_resources()->set_memory_mb(64);
  w->mutable_resources()->set_disk_mb(1048576);
  w->set_timeout_seconds(86400);
  w->set_isolation("container");
  w->mutable_network()->set_default_("deny");
  ir::v1::NetworkRule* rule = w->mutable_network()->add_rules();
  rule->set_protocol("https");
  rule->set_host("*.OpenAI.com");
  ir::v1::Secret* secret = w->add_secrets();
  secret->set_env("OPENAI_API_KEY");
  secret->set_name("openai");
  secret->add_hosts("api.openai.com");
  ir::v1::Volume* local = w->add_volumes();
  local->set_kind("local");
  local->set_source("./data");
  local->set_target("/data");
  local->set_mode("rw");
  ir::v1::Volume* memory = w->add_volumes();
  memory->set_kind("memory");
  memory->set_target("/scratch");
  memory->set_size_mb(65536);
  (*w->mutable_env())["_LOG_LEVEL2"] = "info";
  w->add_ports(1);
  w->add_ports(65535);
  w->mutable_entrypoints(0)->set_timeout_seconds(1);
  w->add_entrypoints()->set_name("Warm_up.v2");
  ir::v1::Service* service = w->add_services();
  service->set_name("api");
  service->set_port(8080);
  EXPECT_EQ(Kinds(Validate(m)), Strings{});
}

TEST(ValidateTest, InvalidWorkloadIdPointsAtTheIdWithASuggestion) {
  ir::Module m;
  AddWorkload(m, "Agent_Tool");
  m.locs[0].Set("/id", At(3, 11));
  std::vector<Diagnostic> diags = Validate(m);
  ASSERT_EQ(Kinds(diags), Strings{"invalid-id"});
  EXPECT_EQ(diags[0].message,
            "invalid workload id `Agent_Tool`: ids are lowercase letters, digits and `-`, starting "
            "with a letter or digit, at most 63 characters");
  EXPECT_EQ(diags[0].hint, "try `agent-tool`");
  EXPECT_EQ(diags[0].loc, At(3, 11));
}

TEST(ValidateTest, WorkloadIdLengthAndEmptiness) {
  ir::Module m;
  AddWorkload(m, std::string(63, 'a'));
  AddWorkload(m, std::string(64, 'a'), 5);
  AddWorkload(m, "", 9);
  AddWorkload(m, "-x", 12);
  std::vector<Diagnostic> diags = Validate(m);
  ASSERT_EQ(Kinds(diags), (Strings{"invalid-id", "invalid-id", "invalid-id"}));
  EXPECT_EQ(diags[0].message, "invalid workload id `" + std::string(64, 'a') +
                                  "`: ids are at most 63 characters, this one has 64");
  EXPECT_EQ(diags[0].loc, At(5));  // no "/id" location: falls back to the decorator
  EXPECT_EQ(diags[1].message, "invalid workload id ``: an id must not be empty");
  EXPECT_EQ(diags[2].hint, "");
}

TEST(ValidateTest, DuplicateWorkloadIdAcrossTheModuleNotesTheFirst) {
  ir::Module m;
  AddWorkload(m, "tool", 1);
  AddWorkload(m, "other", 10);
  AddWorkload(m, "tool", 20);
  m.locs[0].Set("/id", At(1, 11));
  m.locs[2].Set("/id", At(20, 11));
  std::vector<Diagnostic> diags = Validate(m);
  ASSERT_EQ(Kinds(diags), Strings{"duplicate-workload-id"});
  EXPECT_EQ(diags[0].message, "workload id `tool` is declared more than once");
  EXPECT_EQ(diags[0].loc, At(20, 11));
  ASSERT_EQ(diags[0].notes.size(), 1u);
  EXPECT_EQ(diags[0].notes[0].loc, At(1, 11));
  EXPECT_EQ(diags[0].notes[0].message, "first declared here");
}

TEST(ValidateTest, OutOfRangeNamesTheOptionAndTheRange) {
  ir::Module m;
  ir::v1::Workload* w = AddWorkload(m, "tool");
  w->mutable_resources()->set_cpu(65);
  w->mutable_resources()->set_memory_mb(63);
  w->mutable_resources()->set_disk_mb(1048577);
  w->set_timeout_seconds(0);
  w->add_ports(0);
  w->add_ports(65536);
  w->mutable_entrypoints(0)->set_timeout_seconds(86401);
  ir::v1::Service* service = w->add_services();
  service->set_name("api");
  service->set_port(70000);
  ir::v1::Volume* memory = w->add_volumes();
  memory->set_kind("memory");
  memory->set_target("/scratch");
  memory->set_size_mb(0);
  m.locs[0].Set("/resources/cpu", At(2, 5));
  m.locs[0].Set("/resources/memory_mb", At(3, 5));
  m.locs[0].Set("/ports/1", At(4, 5));
  m.locs[0].Set("/entrypoints/0", At(7, 5));
  std::vector<Diagnostic> diags = Validate(m);
  ASSERT_EQ(diags.size(), 9u) << ::testing::PrintToString(Kinds(diags));
  for (const Diagnostic& d : diags) {
    EXPECT_EQ(KindInfo(d.kind).name, "out-of-range");
  }
  EXPECT_EQ(diags[0].message, "`cpu` is 65, outside the range 1..64");
  EXPECT_EQ(diags[0].loc, At(2, 5));
  EXPECT_EQ(diags[1].message, "`memory_mb` is 63, outside the range 64..262144");
  EXPECT_EQ(diags[1].loc, At(3, 5));
  EXPECT_EQ(diags[2].message, "`disk_mb` is 1048577, outside the range 64..1048576");
  EXPECT_EQ(diags[3].message, "`timeout_seconds` is 0, outside the range 1..86400");
  EXPECT_EQ(diags[4].message, "`size_mb` is 0, outside the range 1..65536");
  EXPECT_EQ(diags[5].message, "`ports` is 0, outside the range 1..65535");
  EXPECT_EQ(diags[5].loc, At(1));
  EXPECT_EQ(diags[6].message, "`ports` is 65536, outside the range 1..65535");
  EXPECT_EQ(diags[6].loc, At(4, 5));
  EXPECT_EQ(diags[7].message, "`timeout_seconds` is 86401, outside the range 1..86400");
  EXPECT_EQ(diags[7].loc, At(7, 5));  // "/entrypoints/0/timeout_seconds" falls back to its parent
  EXPECT_EQ(diags[8].message, "`port` is 70000, outside the range 1..65535");
}

TEST(ValidateTest, NoEntrypointPointsAtTheDecorator) {
  ir::Module m;
  ir::v1::Workload* w = AddWorkload(m, "tool", 4);
  w->clear_entrypoints();
  m.locs[0].Set("/id", At(4, 11));
  std::vector<Diagnostic> diags = Validate(m);
  ASSERT_EQ(Kinds(diags), Strings{"no-entrypoint"});
  EXPECT_EQ(diags[0].message, "workload `tool` has no entrypoint and no service");
  EXPECT_EQ(diags[0].loc, At(4));

  w->add_services()->set_name("api");
  EXPECT_TRUE(Validate(m).empty());
}

TEST(ValidateTest, EntrypointAndServiceNamesShareOneNamespace) {
  ir::Module m;
  ir::v1::Workload* w = AddWorkload(m, "tool");
  w->add_entrypoints()->set_name("warmup");
  w->add_services()->set_name("main");
  w->add_services()->set_name("warmup");
  m.locs[0].Set("/entrypoints/0/name", At(5, 17));
  m.locs[0].Set("/services/0/name", At(9, 14));
  m.locs[0].Set("/entrypoints/1", At(7, 5));
  m.locs[0].Set("/services/1", At(11, 5));
  std::vector<Diagnostic> diags = Validate(m);
  ASSERT_EQ(Kinds(diags), (Strings{"duplicate-entrypoint", "duplicate-entrypoint"}));
  EXPECT_EQ(diags[0].message, "service `main` is declared more than once in workload `tool`");
  EXPECT_EQ(diags[0].loc, At(9, 14));
  ASSERT_EQ(diags[0].notes.size(), 1u);
  EXPECT_EQ(diags[0].notes[0].loc, At(5, 17));
  EXPECT_EQ(diags[1].message, "service `warmup` is declared more than once in workload `tool`");
  EXPECT_EQ(diags[1].loc, At(11, 5));
  EXPECT_EQ(diags[1].notes[0].loc, At(7, 5));
}

TEST(ValidateTest, InvalidEntrypointAndServiceNames) {
  ir::Module m;
  ir::v1::Workload* w = AddWorkload(m, "tool");
  w->add_entrypoints()->set_name("has space");
  w->add_services()->set_name("-api");
  w->add_services()->set_name(std::string(64, 's'));
  std::vector<Diagnostic> diags = Validate(m);
  ASSERT_EQ(Kinds(diags), (Strings{"invalid-id", "invalid-id", "invalid-id"}));
  EXPECT_EQ(diags[0].message,
            "invalid entrypoint name `has space`: names are letters, digits, `_`, `.` and `-`, "
            "starting with a letter, digit or `_`, at most 63 characters");
  EXPECT_EQ(diags[1].message.substr(0, 26), "invalid service name `-api");
}

TEST(ValidateTest, InvalidImageReferences) {
  struct Case {
    std::string kind, ref, digest, message;
  };
  const Case cases[] = {
      {"foo", "bar", "",
       "invalid image reference `foo:bar`: unknown image kind `foo`; expected `nix:`, `oci:` or "
       "`template:`"},
      {"oci", "library/Ubuntu:22.04", "",
       "invalid image reference `oci:library/Ubuntu:22.04`: repository names must be lowercase "
       "(`Ubuntu`)"},
      {"nix", "./flake", "",
       "invalid image reference `nix:./flake`: a nix image names a flake output: "
       "`<flakeref>#<attr>`"},
      {"template", "Busybox", "",
       "invalid image reference `template:Busybox`: template names are lowercase letters, digits, "
       "`.` and `-`, starting with a letter or digit"},
      {"oci", "ubuntu@sha256:" + kHex, "",
       "invalid image reference `oci:ubuntu@sha256:" + kHex +
           "`: the reference is pinned to `sha256:" + kHex + "`, but the `digest` field is ``"},
      {"oci", "ubuntu", "sha256:" + kHex,
       "invalid image reference `oci:ubuntu`: the `digest` field `sha256:" + kHex +
           "` is not part of the reference"},
      {"template", "busybox", "sha256:" + kHex,
       "invalid image reference `template:busybox`: only `oci:` images are pinned by digest, but "
       "the `digest` field is `sha256:" +
           kHex + "`"},
  };
  for (const Case& c : cases) {
    ir::Module m;
    ir::v1::Workload* w = AddWorkload(m, "tool");
    w->mutable_image()->set_kind(c.kind);
    w->mutable_image()->set_ref(c.ref);
    w->mutable_image()->set_digest(c.digest);
    m.locs[0].Set("/image", At(2, 11));
    std::vector<Diagnostic> diags = Validate(m);
    ASSERT_EQ(Kinds(diags), Strings{"invalid-image-ref"}) << c.ref;
    EXPECT_EQ(diags[0].message, c.message);
    EXPECT_EQ(diags[0].loc, At(2, 11));
  }
}

TEST(ValidateTest, UnknownImageKindThatReadsAsAnOciReferenceGetsAHint) {
  ir::Module m;
  ir::v1::Workload* w = AddWorkload(m, "tool");
  w->mutable_image()->set_kind("ubuntu");
  w->mutable_image()->set_ref("22.04");
  std::vector<Diagnostic> diags = Validate(m);
  ASSERT_EQ(Kinds(diags), Strings{"invalid-image-ref"});
  EXPECT_EQ(diags[0].hint, "for an OCI image, write `oci:ubuntu:22.04`");
}

TEST(ValidateTest, InvalidHostsInRulesAndSecrets) {
  ir::Module m;
  ir::v1::Workload* w = AddWorkload(m, "tool");
  ir::v1::NetworkRule* rule = w->mutable_network()->add_rules();
  rule->set_protocol("https");
  rule->set_host("10.0.0.1");
  ir::v1::Secret* secret = w->add_secrets();
  secret->set_env("KEY");
  secret->add_hosts("api.example.com");
  secret->add_hosts("https://api.example.com");
  m.locs[0].Set("/network/rules/0", At(3, 20));
  m.locs[0].Set("/secrets/0/hosts/1", At(5, 40));
  std::vector<Diagnostic> diags = Validate(m);
  ASSERT_EQ(Kinds(diags), (Strings{"invalid-host", "invalid-host"}));
  EXPECT_EQ(diags[0].message,
            "invalid host `10.0.0.1`: raw IP addresses are not allowed; name a host");
  EXPECT_EQ(diags[0].loc, At(3, 20));
  EXPECT_EQ(diags[1].message,
            "invalid host `https://api.example.com`: a host has no scheme; write "
            "`api.example.com`, not `https://api.example.com`");
  EXPECT_EQ(diags[1].loc, At(5, 40));
}

TEST(ValidateTest, InvalidEnumLikeValuesSuggestTheClosest) {
  ir::Module m;
  ir::v1::Workload* w = AddWorkload(m, "tool");
  w->set_isolation("microvn");
  w->mutable_network()->set_default_("allow");
  ir::v1::NetworkRule* rule = w->mutable_network()->add_rules();
  rule->set_protocol("ftp");
  rule->set_host("example.com");
  ir::v1::Volume* v = w->add_volumes();
  v->set_kind("nfs");
  v->set_target("/nfs");
  ir::v1::Volume* local = w->add_volumes();
  local->set_kind("local");
  local->set_source("./data");
  local->set_target("/data");
  local->set_mode("wr");
  m.locs[0].Set("/isolation", At(6, 15));
  std::vector<Diagnostic> diags = Validate(m);
  ASSERT_EQ(Kinds(diags), Strings(5, "invalid-value"));
  EXPECT_EQ(diags[0].message,
            "invalid `isolation` value `microvn`: expected `microvm` or `container`");
  EXPECT_EQ(diags[0].hint, "did you mean `microvm`?");
  EXPECT_EQ(diags[0].loc, At(6, 15));
  EXPECT_EQ(diags[1].message,
            "invalid `default` value `allow`: network policies are deny-by-default; the only "
            "default is `deny`");
  EXPECT_EQ(diags[2].message, "invalid `protocol` value `ftp`: expected `https` or `http`");
  EXPECT_EQ(diags[3].message,
            "invalid `kind` value `nfs`: expected `local`, `memory`, `encrypted` or `object`");
  EXPECT_EQ(diags[4].message, "invalid `mode` value `wr`: expected `ro` or `rw`");
}

// IR read with --from-ir (or written by an SDK) gets the checks the frontends cannot make: each
// field of an encrypted or object volume.
TEST(ValidateTest, EncryptedAndObjectVolumes) {
  ir::Module m;
  ir::v1::Workload* w = AddWorkload(m, "tool");
  ir::v1::Volume* encrypted = w->add_volumes();
  encrypted->set_kind("encrypted");
  encrypted->set_source("notes");
  encrypted->set_target("/notes");
  encrypted->set_size_mb(512);
  ir::v1::Volume* object = w->add_volumes();
  object->set_kind("object");
  object->set_source("s3://datasets/run-1/");
  object->set_target("/datasets");
  object->set_endpoint("http://127.0.0.1:9000");
  object->set_credentials("datasets-keys");
  object->set_mode("rw");
  // Both sandbox backends mount both kinds: nothing to warn about.
  EXPECT_EQ(Kinds(Validate(m)), Strings{});

  encrypted->set_source("-notes/x");
  encrypted->clear_size_mb();
  object->set_source("s3://Datasets/run-1");
  object->set_endpoint("http://s3.example.com");
  object->set_credentials("");
  object->set_mode("rx");
  std::vector<Diagnostic> diags = Validate(m);
  ASSERT_EQ(Kinds(diags), (Strings{"invalid-value", "missing-option", "invalid-value",
                                   "invalid-value", "invalid-value", "missing-option"}));
  EXPECT_EQ(diags[0].message,
            "invalid `name` value `-notes/x`: a name is made of letters, digits, `.`, `_` and `-`");
  EXPECT_EQ(diags[1].message, "`Volume.encrypted` needs `size_mb`");
  EXPECT_EQ(diags[2].message, "invalid `mode` value `rx`: expected `ro` or `rw`");
  EXPECT_EQ(diags[3].message,
            "invalid `url` value `s3://Datasets/run-1`: the bucket `Datasets` is not an S3 bucket "
            "name: 3 to 63 lowercase letters, digits, `.` and `-`, starting and ending with a "
            "letter or digit");
  EXPECT_EQ(diags[4].message,
            "invalid `endpoint` value `http://s3.example.com`: requests carry credentials' "
            "signatures, so plain `http://` is allowed only to `127.0.0.1`, `[::1]` or "
            "`localhost`; use `https://`");
  EXPECT_EQ(diags[5].message, "`Volume.object` needs `credentials`");
}

TEST(ValidateTest, ObjectVolumeUrlsAndEndpoints) {
  auto problems = [](std::string_view url, std::string_view endpoint) {
    ir::Module m;
    ir::v1::Workload* w = AddWorkload(m, "tool");
    ir::v1::Volume* object = w->add_volumes();
    object->set_kind("object");
    object->set_source(std::string(url));
    object->set_target("/o");
    object->set_endpoint(std::string(endpoint));
    object->set_credentials("keys");
    std::string out;
    for (const Diagnostic& d : Validate(m)) {
      out += d.message + "\n";
    }
    return out;
  };
  for (std::string_view url : {"s3://abc", "s3://abc/", "s3://a.b-c/x/y/", "s3://abc/ü/データ"}) {
    EXPECT_EQ(problems(url, "https://s3.example.com"), "") << url;
  }
  for (std::string_view endpoint :
       {"https://s3.example.com/", "https://10.0.0.1:9000", "http://localhost:9000",
        "http://[::1]:9000", "https://[2001:db8::1]"}) {
    EXPECT_EQ(problems("s3://abc", endpoint), "") << endpoint;
  }
  for (std::string_view url : {"https://abc/x", "s3://ab", "s3://-abc", "s3://a..b", "s3://abc//x",
                               "s3://abc/./x", "s3://abc/../x", "s3://abc/a\tb"}) {
    EXPECT_NE(problems(url, "https://s3.example.com"), "") << url;
  }
  for (std::string_view endpoint :
       {"s3.example.com", "ftp://s3.example.com", "https://", "https://user@s3.example.com",
        "https://s3.example.com/bucket", "https://s3.example.com:0", "https://s3.example.com:99999",
        "https://s3.example.com?x", "http://10.0.0.1", "https://s3_example.com"}) {
    EXPECT_NE(problems("s3://abc", endpoint), "") << endpoint;
  }
}

TEST(ValidateTest, VolumeTargets) {
  ir::Module m;
  ir::v1::Workload* w = AddWorkload(m, "tool");
  for (const char* target : {"data", "/a/../etc", "/", "/scratch", "/scratch/", "/ok/..x"}) {
    ir::v1::Volume* v = w->add_volumes();
    v->set_kind("memory");
    v->set_target(target);
  }
  m.locs[0].Set("/volumes/1/target", At(8, 30));
  std::vector<Diagnostic> diags = Validate(m);
  ASSERT_EQ(Kinds(diags), Strings(4, "invalid-value"));
  EXPECT_EQ(diags[0].message,
            "invalid `target` value `data`: a guest path is absolute, like `/data`");
  EXPECT_EQ(diags[1].message,
            "invalid `target` value `/a/../etc`: a guest path has no `..` components");
  EXPECT_EQ(diags[1].loc, At(8, 30));
  EXPECT_EQ(diags[2].message,
            "invalid `target` value `/`: a volume cannot be mounted over the guest's root `/`");
  EXPECT_EQ(diags[3].message,
            "invalid `target` value `/scratch/`: another volume is already mounted there");
}

TEST(ValidateTest, EnvironmentVariableNames) {
  ir::Module m;
  ir::v1::Workload* w = AddWorkload(m, "tool");
  (*w->mutable_env())["9LIVES"] = "x";
  (*w->mutable_env())["a/b"] = "x";
  (*w->mutable_env())["OK_1"] = "x";
  (*w->mutable_env())["TOKEN"] = "x";
  ir::v1::Secret* bad = w->add_secrets();
  bad->set_env("API-KEY");
  ir::v1::Secret* token = w->add_secrets();
  token->set_env("TOKEN");
  ir::v1::Secret* again = w->add_secrets();
  again->set_env("TOKEN");
  m.locs[0].Set("/env/a~1b", At(12, 20));
  m.locs[0].Set("/secrets/0", At(10, 15));
  std::vector<Diagnostic> diags = Validate(m);
  ASSERT_EQ(Kinds(diags), Strings(5, "invalid-value"));
  const std::string rule =
      "environment variable names are letters, digits and `_`, not starting with a digit";
  EXPECT_EQ(diags[0].message, "invalid `secrets` value `API-KEY`: " + rule);
  EXPECT_EQ(diags[0].loc, At(10, 15));
  EXPECT_EQ(diags[1].message,
            "invalid `secrets` value `TOKEN`: the variable is given more than one secret");
  // env diagnostics come in key order, whatever the map's iteration order
  EXPECT_EQ(diags[2].message, "invalid `env` value `9LIVES`: " + rule);
  EXPECT_EQ(diags[3].message,
            "invalid `env` value `TOKEN`: the variable is also a secret; declare it in `env` or in "
            "`secrets`, not both");
  EXPECT_EQ(diags[4].message, "invalid `env` value `a/b`: " + rule);
  EXPECT_EQ(diags[4].loc, At(12, 20));
}

TEST(ValidateTest, WorkloadWithoutImageIsLeftToTheFrontend) {
  ir::Module m;
  AddWorkload(m, "tool")->clear_image();
  EXPECT_TRUE(Validate(m).empty());
}

}  // namespace
}  // namespace mvm::passes
