#include "runtime/oci/registry.h"

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/support/os/process.h"
#include "runtime/oci/registry_auth.h"
#include "tests/runtime/oci/oci_layout_util.h"
#include "tests/runtime/oci/test_registry.h"
#include "tests/support/files.h"
#include "tests/support/prerequisite.h"
#include "tests/support/temp_dir.h"

namespace mvm::runtime::oci {
namespace {

using ::mvm::testing::LayerEntry;
using ::mvm::testing::LayoutSpec;
using ::mvm::testing::TempDir;
using ::mvm::testing::TestBlobServer;
using ::mvm::testing::TestRegistry;
using ::mvm::testing::TestRegistryAuth;
using ::mvm::testing::TestRegistryOptions;
using ::mvm::testing::WrittenLayout;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

using ::mvm::testing::ReadFile;

void WriteFile(const std::filesystem::path& path, std::string_view text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

Descriptor BlobDescriptor(std::string digest, size_t size) {
  Descriptor d;
  d.media_type = std::string(kMediaOciLayer);
  d.digest = std::move(digest);
  d.size = static_cast<int64_t>(size);
  return d;
}

std::string Blob(const WrittenLayout& layout, std::string_view digest) {
  return ReadFile(layout.dir / "blobs/sha256" / std::string(DigestHex(digest)));
}

LayoutSpec DemoImage(bool multi_arch = false) {
  LayoutSpec spec;
  spec.tag = "1";
  spec.multi_arch = multi_arch;
  spec.layers.push_back({{{"etc", LayerEntry::Type::kDir, "", 0755},
                          {"etc/hostname", LayerEntry::Type::kFile, "demo\n", 0644},
                          {"bin", LayerEntry::Type::kDir, "", 0755},
                          {"bin/sh", LayerEntry::Type::kSymlink, "busybox", 0777},
                          // Big enough that the transfer comes in several chunks.
                          {"data", LayerEntry::Type::kFile, std::string(300000, 'x'), 0644}},
                         /*gzip=*/false});
  spec.config.entrypoint = {"/bin/sh"};
  spec.config.cmd = {"-c", "echo hi"};
  spec.config.env = {"PATH=/bin"};
  spec.config.working_dir = "/";
  return spec;
}

class RegistryTest : public ::testing::Test {
 protected:
  // Starts a registry with `options` and pushes DemoImage as demo:1. The test returns (skipped)
  // when a prerequisite is missing; see START.
  void StartAndPush(TestRegistryOptions options = {}, bool multi_arch = false) {
    if (auto missing = TestRegistry::MissingPrerequisite(options)) {
      MVM_MISSING_PREREQUISITE() << *missing;
    }
    registry_ = std::make_unique<TestRegistry>(options);
    auto started = registry_->Start();
    ASSERT_TRUE(started) << started.error().message;
    auto written = testing::WriteOciLayout(dir_.path() / "layout", DemoImage(multi_arch));
    ASSERT_TRUE(written) << written.error().message;
    layout_ = *written;
    auto pushed = testing::PushLayout(layout_, *registry_, "demo:1");
    ASSERT_TRUE(pushed) << pushed.error().message;
  }

  // Client options that never read the developer's own auth files, and retry quickly.
  RegistryOptions Client() {
    RegistryOptions options;
    options.auth_file = dir_.path() / "empty-auth.json";
    WriteFile(options.auth_file, R"({"auths":{}})");
    options.backoff = std::chrono::milliseconds(10);
    options.progress = [this](std::string_view line) { progress_.emplace_back(line); };
    return options;
  }

  Registry Open(RegistryOptions options) {
    auto registry = Registry::Open(registry_->host(), std::move(options));
    MVM_CHECK(registry.ok());
    return std::move(*registry);
  }

  Descriptor Layer() const { return layout_.layers.at(0); }

  TempDir dir_{"mvm-registry-test"};
  std::unique_ptr<TestRegistry> registry_;
  WrittenLayout layout_;
  std::vector<std::string> progress_;
};

#define START(...)                          \
  do {                                      \
    StartAndPush(__VA_ARGS__);              \
    if (HasFatalFailure() || IsSkipped()) { \
      return;                               \
    }                                       \
  } while (0)

// --- no network ---

TEST(RegistryEndpoint, PlainHttpOnlyForLoopbackHosts) {
  struct Case {
    const char* host;
    const char* url;
  } cases[] = {
      {"127.0.0.1:5000", "http://127.0.0.1:5000"},
      {"127.1.2.3", "http://127.1.2.3"},
      {"localhost:5000", "http://localhost:5000"},
      {"[::1]:5000", "http://[::1]:5000"},
      {"registry.example.com", "https://registry.example.com"},
      {"registry.example.com:5000", "https://registry.example.com:5000"},
      {"127.0.0.1.nip.io", "https://127.0.0.1.nip.io"},
      {"localhost.example.com", "https://localhost.example.com"},
      {"128.0.0.1", "https://128.0.0.1"},
      {"10.0.0.1:5000", "https://10.0.0.1:5000"},
      {"[fe80::1]:5000", "https://[fe80::1]:5000"},
      {"docker.io", "https://registry-1.docker.io"},
      {"Docker.IO", "https://registry-1.docker.io"},
  };
  for (const Case& c : cases) {
    auto endpoint = ResolveRegistryEndpoint(c.host, /*loopback_tls=*/false);
    ASSERT_TRUE(endpoint) << c.host << ": " << endpoint.error().message;
    EXPECT_EQ(endpoint->base_url, c.url) << c.host;
    EXPECT_EQ(endpoint->plain_http, endpoint->base_url.starts_with("http://")) << c.host;
  }
  auto tls = ResolveRegistryEndpoint("127.0.0.1:5000", /*loopback_tls=*/true);
  ASSERT_TRUE(tls);
  EXPECT_EQ(tls->base_url, "https://127.0.0.1:5000");
}

TEST(RegistryEndpoint, RefusesSchemesPathsAndCredentials) {
  for (const char* host : {"http://registry.example.com", "registry.example.com/path",
                           "user:pass@registry.example.com", "", "registry example.com",
                           "127.0.0.1:", "127.0.0.1:99999", "[::1", "host:port"}) {
    auto endpoint = ResolveRegistryEndpoint(host, false);
    EXPECT_FALSE(endpoint) << host;
    if (!endpoint) {
      EXPECT_THAT(endpoint.error().message, HasSubstr("not a registry host")) << host;
    }
  }
}

TEST(RegistryAuth, ParsesBearerAndBasicChallenges) {
  auto bearer = ParseAuthChallenge(
      R"(Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull")");
  ASSERT_TRUE(bearer);
  EXPECT_EQ(bearer->scheme, "bearer");
  EXPECT_EQ(bearer->params["realm"], "https://auth.example.com/token");
  EXPECT_EQ(bearer->params["service"], "registry.example.com");
  EXPECT_EQ(bearer->params["scope"], "repository:a/b:pull");
  auto basic = ParseAuthChallenge(R"(Basic realm="mvm-test")");
  ASSERT_TRUE(basic);
  EXPECT_EQ(basic->scheme, "basic");
  EXPECT_EQ(basic->params["realm"], "mvm-test");
  EXPECT_FALSE(ParseAuthChallenge(""));
}

TEST(RegistryAuth, FindsCredentialsByHostAndDockerHubAliases) {
  TempDir dir;
  const auto file = dir.path() / "config.json";
  // "user:secret" and "hub:pw" in base64, as `docker login` writes them.
  WriteFile(file, R"({"auths":{
      "127.0.0.1:5000": {"auth": "dXNlcjpzZWNyZXQ="},
      "https://index.docker.io/v1/": {"auth": "aHViOnB3"},
      "https://other.example.com": {"username": "u2", "password": "p2"}}})");
  auto local = FindCredentials(file, "127.0.0.1:5000");
  ASSERT_TRUE(local) << local.error().message;
  ASSERT_TRUE(local->credentials);
  EXPECT_EQ(local->credentials->username, "user");
  EXPECT_EQ(local->credentials->password, "secret");
  auto hub = FindCredentials(file, "docker.io");
  ASSERT_TRUE(hub && hub->credentials);
  EXPECT_EQ(hub->credentials->username, "hub");
  auto other = FindCredentials(file, "other.example.com");
  ASSERT_TRUE(other && other->credentials);
  EXPECT_EQ(other->credentials->password, "p2");
  auto none = FindCredentials(file, "127.0.0.1:5001");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->credentials);
  auto missing = FindCredentials(dir.path() / "nope.json", "127.0.0.1:5000");
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().message, HasSubstr("does not exist"));
  WriteFile(file, R"({"auths":{"127.0.0.1:5000": {"auth": "c2VjcmV0LXdpdGhvdXQtY29sb24="}}})");
  auto malformed = FindCredentials(file, "127.0.0.1:5000");
  ASSERT_FALSE(malformed);
  EXPECT_THAT(malformed.error().message, Not(HasSubstr("secret-without-colon")));
}

// Sets (or unsets) an environment variable for the scope of a test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::optional<std::string>& value) : name_(name) {
    if (const char* old = std::getenv(name)) {
      old_ = old;
    }
    Set(value);
  }
  ~ScopedEnv() { Set(old_); }
  void Set(const std::optional<std::string>& value) {
    if (value) {
      setenv(name_, value->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(RegistryAuth, TheDefaultSearchTakesTheFirstFileThatExists) {
  TempDir dir;
  auto file = [&](const std::string& relative, const std::string& user) {
    auto path = dir.path() / relative;
    std::filesystem::create_directories(path.parent_path());
    WriteFile(path,
              R"({"auths":{"127.0.0.1:5000":{"username":")" + user + R"(","password":"p"}}})");
    return path;
  };
  auto mvm = file("mvm.json", "mvm");
  auto podman = file("podman.json", "podman");
  file("docker/config.json", "docker-config");
  auto home = file("home/.docker/config.json", "home");
  file("run/containers/auth.json", "xdg");
  ScopedEnv mvm_env("MVM_REGISTRY_AUTH", mvm.string());
  ScopedEnv podman_env("REGISTRY_AUTH_FILE", podman.string());
  ScopedEnv docker_env("DOCKER_CONFIG", (dir.path() / "docker").string());
  ScopedEnv home_env("HOME", (dir.path() / "home").string());
  ScopedEnv xdg_env("XDG_RUNTIME_DIR", (dir.path() / "run").string());
  auto user = [] {
    auto found = FindCredentials("", "127.0.0.1:5000");
    EXPECT_TRUE(found) << found.error().message;
    return found && found->credentials ? found->credentials->username : std::string("(none)");
  };
  EXPECT_EQ(user(), "mvm");
  mvm_env.Set(std::nullopt);
  EXPECT_EQ(user(), "podman");
  podman_env.Set(std::nullopt);
  EXPECT_EQ(user(), "docker-config");
  docker_env.Set(std::nullopt);
  EXPECT_EQ(user(), "home");
  std::filesystem::remove(home);
  EXPECT_EQ(user(), "xdg");
  mvm_env.Set((dir.path() / "missing.json").string());
  auto missing = FindCredentials("", "127.0.0.1:5000");
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().message, HasSubstr("$MVM_REGISTRY_AUTH"));
}

// --- against docker-registry ---

TEST_F(RegistryTest, ResolvesATagToItsManifestAndDigest) {
  START();
  Registry registry = Open(Client());
  auto manifest = registry.GetManifest("demo", "1");
  ASSERT_TRUE(manifest) << manifest.error().message;
  EXPECT_EQ(manifest->digest, layout_.manifest_digest);
  EXPECT_EQ(manifest->media_type, kMediaOciManifest);
  EXPECT_EQ(manifest->body, Blob(layout_, layout_.manifest_digest));
}

TEST_F(RegistryTest, FetchesAManifestByDigest) {
  START();
  Registry registry = Open(Client());
  auto manifest = registry.GetManifest("demo", layout_.manifest_digest);
  ASSERT_TRUE(manifest) << manifest.error().message;
  EXPECT_EQ(manifest->digest, layout_.manifest_digest);
  EXPECT_EQ(Sha256Digest(manifest->body), layout_.manifest_digest);
}

TEST_F(RegistryTest, ReturnsAMultiArchIndexAndFetchesItsChildrenByDigest) {
  START(TestRegistryOptions{}, /*multi_arch=*/true);
  Registry registry = Open(Client());
  auto index = registry.GetManifest("demo", "1");
  ASSERT_TRUE(index) << index.error().message;
  EXPECT_EQ(index->media_type, kMediaOciIndex);
  EXPECT_EQ(index->digest, layout_.index_digest);
  ASSERT_EQ(layout_.platform_manifests.size(), 2u);
  for (const auto& [platform, digest] : layout_.platform_manifests) {
    EXPECT_THAT(index->body, HasSubstr(digest)) << platform;
    auto child = registry.GetManifest("demo", digest);
    ASSERT_TRUE(child) << platform << ": " << child.error().message;
    EXPECT_EQ(child->digest, digest);
    EXPECT_EQ(child->media_type, kMediaOciManifest);
  }
}

TEST_F(RegistryTest, DownloadsABlobAndVerifiesIt) {
  START();
  Registry registry = Open(Client());
  const auto dest = dir_.path() / "layer";
  auto got = registry.GetBlob("demo", Layer(), dest);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(ReadFile(dest), Blob(layout_, Layer().digest));
  EXPECT_FALSE(std::filesystem::exists(dest.string() + ".partial"));
  auto config = registry.GetBlob("demo", layout_.config, dir_.path() / "config");
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_THAT(ReadFile(dir_.path() / "config"), HasSubstr("echo hi"));
}

TEST_F(RegistryTest, ACorruptedBlobIsRefusedAndNothingIsKept) {
  START();
  // Same size, other bytes: only the hash can tell.
  std::string bytes = Blob(layout_, Layer().digest);
  bytes[bytes.size() / 2] ^= 1;
  WriteFile(registry_->BlobDataPath(Layer().digest), bytes);
  Registry registry = Open(Client());
  const auto dest = dir_.path() / "layer";
  auto got = registry.GetBlob("demo", Layer(), dest);
  ASSERT_FALSE(got);
  EXPECT_THAT(got.error().message,
              AllOf(HasSubstr("does not match"), HasSubstr(Layer().digest),
                    HasSubstr(Sha256Digest(bytes)), HasSubstr(registry_->host() + "/demo@")));
  EXPECT_FALSE(std::filesystem::exists(dest));
  EXPECT_FALSE(std::filesystem::exists(dest.string() + ".partial"));
}

TEST_F(RegistryTest, AManifestThatIsNotWhatItsDigestSaysIsRefused) {
  START();
  // Still a valid manifest (the registry parses what it serves), but other bytes.
  std::string body = Blob(layout_, layout_.manifest_digest);
  size_t at = body.find(DigestHex(layout_.config.digest));
  ASSERT_NE(at, std::string::npos);
  body[at] = body[at] == '0' ? '1' : '0';
  WriteFile(registry_->BlobDataPath(layout_.manifest_digest), body);
  Registry registry = Open(Client());
  auto by_digest = registry.GetManifest("demo", layout_.manifest_digest);
  ASSERT_FALSE(by_digest);
  EXPECT_THAT(by_digest.error().message, AllOf(HasSubstr("whose sha256 is " + Sha256Digest(body)),
                                               HasSubstr("not " + layout_.manifest_digest)));
  // By tag nothing was pinned, but the registry's own Docker-Content-Digest disagrees.
  auto by_tag = registry.GetManifest("demo", "1");
  ASSERT_FALSE(by_tag);
  EXPECT_THAT(by_tag.error().message,
              AllOf(HasSubstr("Docker-Content-Digest"), HasSubstr(Sha256Digest(body))));
}

TEST_F(RegistryTest, AnUnknownTagSaysManifestUnknown) {
  START();
  Registry registry = Open(Client());
  auto manifest = registry.GetManifest("demo", "missing");
  ASSERT_FALSE(manifest);
  EXPECT_THAT(manifest.error().message,
              AllOf(HasSubstr("`" + registry_->host() + "/demo:missing` has no manifest"),
                    HasSubstr("MANIFEST_UNKNOWN"), HasSubstr("check the tag")));
  // distribution 2.8 answers MANIFEST_UNKNOWN for a repository it does not have, too.
  auto repository = registry.GetManifest("nothing/here", "1");
  ASSERT_FALSE(repository);
  EXPECT_THAT(repository.error().message,
              HasSubstr("`" + registry_->host() + "/nothing/here:1` has no manifest"));
}

TEST_F(RegistryTest, ManifestAndBlobSizeLimitsHold) {
  START();
  RegistryOptions options = Client();
  options.limits.max_manifest_bytes = 100;
  options.limits.max_blob_bytes = 1000;
  Registry registry = Open(options);
  auto manifest = registry.GetManifest("demo", "1");
  ASSERT_FALSE(manifest);
  EXPECT_THAT(manifest.error().message, HasSubstr("limits.max_manifest_bytes"));
  const auto dest = dir_.path() / "layer";
  auto blob = registry.GetBlob("demo", Layer(), dest);
  ASSERT_FALSE(blob);
  EXPECT_THAT(blob.error().message, HasSubstr("limits.max_blob_bytes"));
  // A descriptor that understates the size: the transfer stops once it is exceeded.
  Registry unlimited = Open(Client());
  Descriptor small = Layer();
  small.size = 1000;
  auto over = unlimited.GetBlob("demo", small, dest);
  ASSERT_FALSE(over);
  EXPECT_THAT(over.error().message, HasSubstr("sent more than the 1000 bytes"));
  EXPECT_FALSE(std::filesystem::exists(dest));
  EXPECT_FALSE(std::filesystem::exists(dest.string() + ".partial"));
}

TEST_F(RegistryTest, BasicAuthWantsTheRightCredentials) {
  TestRegistryOptions options;
  options.auth = TestRegistryAuth::kBasic;
  START(options);
  RegistryOptions client = Client();
  {
    Registry anonymous = Open(client);
    auto manifest = anonymous.GetManifest("demo", "1");
    ASSERT_FALSE(manifest);
    EXPECT_THAT(manifest.error().message,
                AllOf(HasSubstr("needs credentials"), HasSubstr("log in"),
                      HasSubstr("~/.docker/config.json"), HasSubstr(registry_->host())));
  }
  {
    client.auth_file = registry_->WriteAuthFile(options.user, "wrong-password", "wrong.json");
    Registry wrong = Open(client);
    auto manifest = wrong.GetManifest("demo", "1");
    ASSERT_FALSE(manifest);
    EXPECT_THAT(manifest.error().message,
                AllOf(HasSubstr("refused the credentials"), Not(HasSubstr("wrong-password"))));
  }
  client.auth_file = registry_->WriteAuthFile(options.user, options.password);
  Registry right = Open(client);
  auto manifest = right.GetManifest("demo", "1");
  ASSERT_TRUE(manifest) << manifest.error().message;
  EXPECT_EQ(manifest->digest, layout_.manifest_digest);
  auto blob = right.GetBlob("demo", Layer(), dir_.path() / "layer");
  ASSERT_TRUE(blob) << blob.error().message;
  for (const std::string& line : progress_) {
    EXPECT_THAT(line, Not(HasSubstr(options.password)));
  }
}

TEST_F(RegistryTest, BearerTokenFlowAgainstDistributionTokenAuth) {
  TestRegistryOptions options;
  options.auth = TestRegistryAuth::kToken;
  START(options);
  RegistryOptions client = Client();
  {
    Registry anonymous = Open(client);
    auto manifest = anonymous.GetManifest("demo", "1");
    ASSERT_FALSE(manifest);
    EXPECT_THAT(manifest.error().message,
                AllOf(HasSubstr("needs credentials"), HasSubstr("log in")));
  }
  size_t before = registry_->TokenRequests().size();
  client.auth_file = registry_->WriteAuthFile(options.user, options.password);
  Registry registry = Open(client);
  auto manifest = registry.GetManifest("demo", "1");
  ASSERT_TRUE(manifest) << manifest.error().message;
  EXPECT_EQ(manifest->digest, layout_.manifest_digest);
  auto blob = registry.GetBlob("demo", Layer(), dir_.path() / "layer");
  ASSERT_TRUE(blob) << blob.error().message;
  // One token for the scope, reused for the blob.
  auto requests = registry_->TokenRequests();
  ASSERT_EQ(requests.size(), before + 1);
  EXPECT_THAT(requests.back(), HasSubstr("scope=repository%3Ademo%3Apull"));
}

TEST_F(RegistryTest, TheHttpsPathTrustsTheGivenCa) {
  TestRegistryOptions options;
  options.tls = true;
  START(options);
  RegistryOptions client = Client();
  client.loopback_tls = true;
  {
    Registry untrusted = Open(client);
    EXPECT_EQ(untrusted.endpoint().base_url, "https://" + registry_->host());
    auto manifest = untrusted.GetManifest("demo", "1");
    ASSERT_FALSE(manifest);
    EXPECT_THAT(manifest.error().message, HasSubstr("ca_file"));
  }
  client.ca_file = registry_->ca_cert();
  Registry trusted = Open(client);
  auto manifest = trusted.GetManifest("demo", "1");
  ASSERT_TRUE(manifest) << manifest.error().message;
  auto blob = trusted.GetBlob("demo", Layer(), dir_.path() / "layer");
  ASSERT_TRUE(blob) << blob.error().message;
}

// --- against the one-blob server ---

class BlobServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!os::FindProgram("python3")) {
      MVM_MISSING_PREREQUISITE() << "the blob server needs python3";
    }
  }
  RegistryOptions Client() {
    RegistryOptions options;
    options.auth_file = dir_.path() / "empty-auth.json";
    WriteFile(options.auth_file, R"({"auths":{}})");
    options.backoff = std::chrono::milliseconds(10);
    return options;
  }
  TempDir dir_{"mvm-registry-test"};
};

TEST_F(BlobServerTest, ADroppedTransferResumesWithARangeAndVerifies) {
  std::string content(200000, '\0');
  for (size_t i = 0; i < content.size(); ++i) {
    content[i] = static_cast<char>(i * 7 + i / 1000);
  }
  mvm::testing::TestBlobServerOptions server_options;
  server_options.drop_after = 70000;
  TestBlobServer server(content, server_options);
  auto started = server.Start();
  ASSERT_TRUE(started) << started.error().message;
  auto registry = Registry::Open(server.host(), Client());
  ASSERT_TRUE(registry);
  const auto dest = dir_.path() / "blob";
  auto got = registry->GetBlob("demo", BlobDescriptor(Sha256Digest(content), content.size()), dest);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(ReadFile(dest), content);
  auto requests = server.Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].range, "");
  EXPECT_THAT(requests[1].range, ::testing::MatchesRegex("bytes=[1-9][0-9]*-"));
}

TEST_F(BlobServerTest, AServerThatIgnoresRangesIsReadAgainFromTheStart) {
  std::string content(150000, 'r');
  content[7] = 's';
  mvm::testing::TestBlobServerOptions server_options;
  server_options.drop_after = 60000;
  server_options.honour_range = false;
  TestBlobServer server(content, server_options);
  ASSERT_TRUE(server.Start());
  auto registry = Registry::Open(server.host(), Client());
  ASSERT_TRUE(registry);
  auto got = registry->GetBlob("demo", BlobDescriptor(Sha256Digest(content), content.size()),
                               dir_.path() / "blob");
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(ReadFile(dir_.path() / "blob"), content);
  EXPECT_EQ(server.Requests().size(), 2u);
}

TEST_F(BlobServerTest, ContentThatIsNotTheDescriptorsDigestIsRefusedAndNothingKept) {
  std::string content = "the registry serves this";
  TestBlobServer server(content, {});
  ASSERT_TRUE(server.Start());
  auto registry = Registry::Open(server.host(), Client());
  ASSERT_TRUE(registry);
  const std::string wanted = Sha256Digest("what the manifest names");
  const auto dest = dir_.path() / "blob";
  auto got = registry->GetBlob("demo", BlobDescriptor(wanted, content.size()), dest);
  ASSERT_FALSE(got);
  EXPECT_THAT(got.error().message,
              AllOf(HasSubstr("expected " + wanted), HasSubstr("got " + Sha256Digest(content))));
  EXPECT_FALSE(std::filesystem::exists(dest));
  EXPECT_FALSE(std::filesystem::exists(dest.string() + ".partial"));
}

TEST_F(BlobServerTest, A503IsRetriedAndALongRetryAfterIsAnError) {
  std::string content = "after a while";
  Descriptor blob = BlobDescriptor(Sha256Digest(content), content.size());
  {
    mvm::testing::TestBlobServerOptions server_options;
    server_options.fail_first = 2;
    server_options.fail_status = 503;
    TestBlobServer server(content, server_options);
    ASSERT_TRUE(server.Start());
    auto registry = Registry::Open(server.host(), Client());
    ASSERT_TRUE(registry);
    auto got = registry->GetBlob("demo", blob, dir_.path() / "blob");
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(server.Requests().size(), 3u);
  }
  {
    mvm::testing::TestBlobServerOptions server_options;
    server_options.fail_first = 1;
    server_options.fail_status = 429;
    server_options.retry_after = "3600";
    TestBlobServer server(content, server_options);
    ASSERT_TRUE(server.Start());
    auto registry = Registry::Open(server.host(), Client());
    ASSERT_TRUE(registry);
    auto got = registry->GetBlob("demo", blob, dir_.path() / "blob2");
    ASSERT_FALSE(got);
    EXPECT_THAT(got.error().message, AllOf(HasSubstr("asks to wait 3600 s"), HasSubstr("429")));
    EXPECT_EQ(server.Requests().size(), 1u);
  }
  {
    mvm::testing::TestBlobServerOptions server_options;
    server_options.fail_first = 100;
    server_options.fail_status = 500;
    TestBlobServer server(content, server_options);
    ASSERT_TRUE(server.Start());
    RegistryOptions options = Client();
    options.attempts = 3;
    auto registry = Registry::Open(server.host(), options);
    ASSERT_TRUE(registry);
    auto got = registry->GetBlob("demo", blob, dir_.path() / "blob3");
    ASSERT_FALSE(got);
    EXPECT_THAT(got.error().message, AllOf(HasSubstr("after 3 attempts"), HasSubstr("HTTP 500")));
    EXPECT_EQ(server.Requests().size(), 3u);
    EXPECT_FALSE(std::filesystem::exists(dir_.path() / "blob3.partial"));
  }
}

TEST_F(BlobServerTest, AStalledTransferIsAbandoned) {
  std::string content(100000, 's');
  mvm::testing::TestBlobServerOptions server_options;
  server_options.stall_after = 1000;
  TestBlobServer server(content, server_options);
  ASSERT_TRUE(server.Start());
  RegistryOptions options = Client();
  options.stall_timeout = std::chrono::seconds(1);
  options.attempts = 1;
  auto registry = Registry::Open(server.host(), options);
  ASSERT_TRUE(registry);
  const auto start = std::chrono::steady_clock::now();
  auto got = registry->GetBlob("demo", BlobDescriptor(Sha256Digest(content), content.size()),
                               dir_.path() / "blob");
  ASSERT_FALSE(got);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_THAT(got.error().message, HasSubstr("after 1 attempt;"));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "blob.partial"));
}

TEST_F(BlobServerTest, CredentialsAreNotCarriedAcrossARedirectToAnotherHost) {
  std::string content = "served by the CDN";
  // The CDN: another origin (another port) that logs whether an Authorization header came.
  TestBlobServer cdn(content, {});
  ASSERT_TRUE(cdn.Start());
  mvm::testing::TestBlobServerOptions front_options;
  front_options.require_basic = "user:secret-pw";
  front_options.redirect_to = "http://" + cdn.host();
  TestBlobServer front(content, front_options);
  ASSERT_TRUE(front.Start());
  RegistryOptions options = Client();
  options.auth_file = dir_.path() / "auth.json";
  WriteFile(options.auth_file,
            R"({"auths":{")" + front.host() + R"(":{"username":"user","password":"secret-pw"}}})");
  auto registry = Registry::Open(front.host(), options);
  ASSERT_TRUE(registry);
  auto got = registry->GetBlob("demo", BlobDescriptor(Sha256Digest(content), content.size()),
                               dir_.path() / "blob");
  ASSERT_TRUE(got) << got.error().message;
  auto front_requests = front.Requests();
  ASSERT_EQ(front_requests.size(), 2u);  // the challenge, then with credentials
  EXPECT_TRUE(front_requests[1].authorization);
  auto cdn_requests = cdn.Requests();
  ASSERT_EQ(cdn_requests.size(), 1u);
  EXPECT_FALSE(cdn_requests[0].authorization);
}

}  // namespace
}  // namespace mvm::runtime::oci
