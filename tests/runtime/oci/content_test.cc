#include "runtime/oci/content.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mvm::runtime::oci {
namespace {

using ::testing::HasSubstr;

const std::string kA = "sha256:" + std::string(64, 'a');
const std::string kB = "sha256:" + std::string(64, 'b');
const std::string kC = "sha256:" + std::string(64, 'c');

TEST(OciReference, SplitsAsDockerDoes) {
  auto hub = SplitReference("python:3.12-slim");
  ASSERT_TRUE(hub.ok());
  EXPECT_EQ(hub->registry, "docker.io");
  EXPECT_EQ(hub->repository, "library/python");
  EXPECT_EQ(hub->tag, "3.12-slim");
  EXPECT_EQ(hub->ToString(), "docker.io/library/python:3.12-slim");

  auto local = SplitReference("127.0.0.1:5000/team/app@" + kA);
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->registry, "127.0.0.1:5000");
  EXPECT_EQ(local->repository, "team/app");
  EXPECT_EQ(local->tag, "");
  EXPECT_EQ(local->digest, kA);
  EXPECT_EQ(local->ManifestReference(), kA);

  auto both = SplitReference("localhost/app:1@" + kA);
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->registry, "localhost");
  EXPECT_EQ(both->tag, "1");
  EXPECT_EQ(both->ManifestReference(), "1");

  auto bare = SplitReference("ghcr.io/org/tool");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->tag, "latest");
  EXPECT_EQ(SplitReference("org/tool")->repository, "org/tool");

  EXPECT_FALSE(SplitReference("app@sha256:../../x").ok());
}

TEST(OciContent, AnIndexListsItsManifestsAndAPlatformIsChosen) {
  std::string body =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",
    "manifests":[
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      kA + R"(","size":10,"platform":{"os":"linux","architecture":"arm64"}},
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      kB + R"(","size":11,"platform":{"os":"linux","architecture":"amd64","variant":"v3"}},
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      kC + R"(","size":12,"platform":{"os":"linux","architecture":"amd64"}}]})";
  auto index = ParseIndex(body, Limits{});
  ASSERT_TRUE(index.ok()) << index.error().message;
  ASSERT_EQ(index->manifests.size(), 3u);
  auto chosen = SelectPlatform(*index, "linux", "amd64");
  ASSERT_TRUE(chosen.ok());
  EXPECT_EQ(chosen->digest, kC);  // the entry without a variant
  auto none = SelectPlatform(*index, "linux", "s390x");
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(none.error().message, HasSubstr("it has: linux/arm64, linux/amd64/v3, linux/amd64"));
  auto type = ManifestMediaType("", body);
  ASSERT_TRUE(type.ok());
  EXPECT_EQ(*type, kMediaOciIndex);
}

TEST(OciContent, AManifestNamesItsConfigAndTarLayersOnly) {
  std::string good =
      R"({"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
      kA +
      R"(","size":5},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" +
      kB + R"(","size":7}]})";
  auto m = ParseManifest(good, Limits{});
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->config.digest, kA);
  ASSERT_EQ(m->layers.size(), 1u);
  EXPECT_EQ(m->layers[0].size, 7);
  EXPECT_EQ(*ManifestMediaType("", good), kMediaOciManifest);

  std::string foreign = good;
  foreign.replace(foreign.find("tar+gzip"), 8, "squashfs");
  EXPECT_THAT(ParseManifest(foreign, Limits{}).error().message, HasSubstr("not a tar layer"));

  std::string weak_digest = good;
  weak_digest.replace(weak_digest.find(kB), kB.size(), "md5:abc");
  EXPECT_THAT(ParseManifest(weak_digest, Limits{}).error().message,
              HasSubstr("the only form mvm verifies"));

  std::string negative = good;
  negative.replace(negative.find("\"size\":7"), 8, "\"size\":-7");
  EXPECT_THAT(ParseManifest(negative, Limits{}).error().message, HasSubstr("non-negative"));

  Limits small;
  small.max_layers = 0;
  EXPECT_THAT(ParseManifest(good, small).error().message, HasSubstr("over the limit of 0"));
  small = Limits{};
  small.max_blob_bytes = 6;
  EXPECT_THAT(ParseManifest(good, small).error().message, HasSubstr("over the limit of 6"));
  small = Limits{};
  small.max_manifest_bytes = 10;
  EXPECT_FALSE(ParseManifest(good, small).ok());

  EXPECT_FALSE(ParseManifest("[1,2]", Limits{}).ok());
  EXPECT_FALSE(ParseManifest("{", Limits{}).ok());
  EXPECT_FALSE(ParseManifest(R"({"layers":[]})", Limits{}).ok());
}

TEST(OciContent, TheConfigurationGivesWhatASandboxHonours) {
  auto c = ParseConfig(R"j({"os":"linux","architecture":"amd64","config":{
      "Entrypoint":["python3"],"Cmd":["-c","print(1)"],"Env":["PATH=/usr/local/bin:/usr/bin","LANG=C.UTF-8"],
      "WorkingDir":"/srv","User":"1000:1000"},"rootfs":{"type":"layers","diff_ids":[")j" +
                       kA + R"j("]}})j");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->entrypoint, std::vector<std::string>{"python3"});
  EXPECT_EQ(c->cmd, (std::vector<std::string>{"-c", "print(1)"}));
  EXPECT_EQ(c->env.size(), 2u);
  EXPECT_EQ(c->working_dir, "/srv");
  EXPECT_EQ(c->user, "1000:1000");
  EXPECT_EQ(c->diff_ids, std::vector<std::string>{kA});
  // Null fields are what many images have; they mean "none".
  auto nulls = ParseConfig(R"({"config":{"Entrypoint":null,"Cmd":null,"Env":null}})");
  ASSERT_TRUE(nulls.ok());
  EXPECT_TRUE(nulls->entrypoint.empty());
  EXPECT_FALSE(ParseConfig(R"({"config":{"Cmd":[1]}})").ok());
  EXPECT_FALSE(ParseConfig(R"({"config":{"User":5}})").ok());
}

}  // namespace
}  // namespace mvm::runtime::oci
