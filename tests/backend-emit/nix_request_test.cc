#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>

#include "backend-emit/nix/request.h"
#include "backend-emit/nix/templates.h"
#include "ir/options.h"

namespace mvm::nix {
namespace {

ir::v1::Image Image(std::string kind, std::string ref) {
  ir::v1::Image image;
  image.set_kind(std::move(kind));
  image.set_ref(std::move(ref));
  return image;
}

RequestOptions Options() {
  RequestOptions o;
  o.base_dir = "/src/app";
  o.templates_dir = "/opt/mvm/templates";
  o.store = "/state/nix";
  return o;
}

TEST(NixRequestTest, TemplateBuildsTheShippedFlakesPackage) {
  LoweredRequest lowered = LowerNixBuildRequest("tiny", Image("template", "busybox"), Options());
  ASSERT_TRUE(lowered.request.has_value()) << lowered.not_built;
  const NixBuildRequest& r = *lowered.request;
  EXPECT_EQ(r.workload_id, "tiny");
  EXPECT_EQ(r.image, "template:busybox");
  EXPECT_EQ(r.flake_ref, "path:/opt/mvm/templates");
  EXPECT_EQ(r.attr, "packages.x86_64-linux.busybox");
  EXPECT_EQ(r.store, "/state/nix");
  EXPECT_EQ(r.outputs, std::vector<std::string>{"out"});
  // The exact argv (the sandboxing options and what they are set to) is pinned by the canonical
  // JSON below; here it must be built from this request's own flake, attribute and store.
  EXPECT_EQ(r.argv, NixBuildArgv(r.flake_ref, r.attr, r.store));
  EXPECT_EQ(r.argv.back(), "path:/opt/mvm/templates#packages.x86_64-linux.busybox");
}

TEST(NixRequestTest, TemplatesTheFlakeCannotBuildGetNoRequest) {
  LoweredRequest lowered = LowerNixBuildRequest("py", Image("template", "python-3.11"), Options());
  EXPECT_FALSE(lowered.request.has_value());
  EXPECT_NE(lowered.not_built.find("mmdebstrap"), std::string::npos) << lowered.not_built;
  EXPECT_NE(lowered.not_built.find("python-3.11"), std::string::npos) << lowered.not_built;
}

TEST(NixRequestTest, OciImagesGetNoRequest) {
  LoweredRequest lowered = LowerNixBuildRequest(
      "web", Image("oci", "docker.io/library/busybox@sha256:" + std::string(64, 'a')), Options());
  EXPECT_FALSE(lowered.request.has_value());
  EXPECT_NE(lowered.not_built.find("`oci:` images"), std::string::npos) << lowered.not_built;
}

TEST(NixRequestTest, NixImagesResolveRelativeFlakesAgainstTheDeclaringFile) {
  LoweredRequest lowered = LowerNixBuildRequest("a", Image("nix", "./flake#rootfs"), Options());
  ASSERT_TRUE(lowered.request.has_value());
  EXPECT_EQ(lowered.request->flake_ref, "/src/app/flake");
  EXPECT_EQ(lowered.request->attr, "rootfs");
  EXPECT_EQ(lowered.request->image, "nix:./flake#rootfs");
  EXPECT_EQ(lowered.request->argv.back(), "/src/app/flake#rootfs");
}

TEST(NixRequestTest, ResolveFlakeRef) {
  const std::filesystem::path base = "/src/app";
  const std::pair<std::string_view, std::string_view> cases[] = {
      {".", "/src/app"},
      {"..", "/src"},
      {"./", "/src/app"},
      {"./nix/flake", "/src/app/nix/flake"},
      {"../shared/./flake", "/src/shared/flake"},
      {"./flake?dir=sub", "/src/app/flake?dir=sub"},
      {"path:flake", "path:/src/app/flake"},
      {"path:./flake?narHash=x", "path:/src/app/flake?narHash=x"},
      // Already absolute, or not a path at all: as written.
      {"/abs/flake", "/abs/flake"},
      {"path:/abs/flake", "path:/abs/flake"},
      {"github:acme/images", "github:acme/images"},
      {"nixpkgs", "nixpkgs"},
      {".hidden", ".hidden"},
  };
  for (const auto& [ref, resolved] : cases) {
    EXPECT_EQ(ResolveFlakeRef(ref, base), resolved) << ref;
  }
}

TEST(NixRequestTest, CanonicalJsonIsStableAndRoundTrips) {
  LoweredRequest lowered = LowerNixBuildRequest("tiny", Image("template", "busybox"), Options());
  ASSERT_TRUE(lowered.request.has_value());
  std::string json = RequestToCanonicalJson(*lowered.request);
  EXPECT_EQ(json,
            R"({"argv":["nix","--extra-experimental-features","nix-command flakes","build",)"
            R"("--store","/state/nix","--option","substituters","","--option","sandbox","true",)"
            R"("--option","sandbox-fallback","false","--option","build-users-group","",)"
            R"("--print-build-logs","--no-link","--json",)"
            R"("path:/opt/mvm/templates#packages.x86_64-linux.busybox"],)"
            R"("attr":"packages.x86_64-linux.busybox","flake_ref":"path:/opt/mvm/templates",)"
            R"("image":"template:busybox","outputs":["out"],"schema":"mvm.nix-build/v1",)"
            R"("store":"/state/nix","workload_id":"tiny"})");
  LoweredRequest again = LowerNixBuildRequest("tiny", Image("template", "busybox"), Options());
  EXPECT_EQ(RequestToCanonicalJson(*again.request), json);
  auto parsed = ParseRequestJson(json);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, *lowered.request);
}

TEST(NixRequestTest, ParseAcceptsExtraFlagsForRemoteBuilders) {
  LoweredRequest lowered = LowerNixBuildRequest("a", Image("nix", "./flake#rootfs"), Options());
  ASSERT_TRUE(lowered.request.has_value());
  NixBuildRequest r = *lowered.request;
  r.argv.insert(r.argv.end() - 1, {"--max-jobs", "0", "--builders", "ssh://b1 x86_64-linux"});
  auto parsed = ParseRequestJson(RequestToCanonicalJson(r));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->argv, r.argv);
}

TEST(NixRequestTest, ParseRefusesMalformedRequests) {
  LoweredRequest lowered = LowerNixBuildRequest("a", Image("nix", "./flake#rootfs"), Options());
  ASSERT_TRUE(lowered.request.has_value());
  const nlohmann::json good = nlohmann::json::parse(RequestToCanonicalJson(*lowered.request));
  struct Case {
    std::string name;
    std::function<void(nlohmann::json&)> mutate;
    std::string expected;
  };
  std::vector<Case> cases = {
      {"unknown field", [](nlohmann::json& j) { j["extra"] = 1; }, "unknown field `extra`"},
      {"schema", [](nlohmann::json& j) { j["schema"] = "mvm.nix-build/v2"; }, "schema"},
      {"missing attr", [](nlohmann::json& j) { j.erase("attr"); }, "`attr` is missing"},
      {"number", [](nlohmann::json& j) { j["store"] = 3; }, "`store` is missing or not a string"},
      {"argv item", [](nlohmann::json& j) { j["argv"][1] = 1; }, "other than strings"},
      {"bad id", [](nlohmann::json& j) { j["workload_id"] = "Bad_Id"; }, "not a workload id"},
      {"not nix", [](nlohmann::json& j) { j["argv"][0] = "sh"; }, "does not start with `nix`"},
      {"installable", [](nlohmann::json& j) { j["attr"] = "other"; },
       "does not end with its `<flake_ref>#<attr>`"},
      {"no json",
       [](nlohmann::json& j) {
         auto& argv = j["argv"];
         argv.erase(std::find(argv.begin(), argv.end(), "--json"));
       },
       "no `--json`"},
      {"relative store", [](nlohmann::json& j) { j["store"] = "state/nix"; },
       "not an absolute directory"},
      {"store flag", [](nlohmann::json& j) { j["store"] = "/elsewhere"; }, "--store /elsewhere"},
      {"no outputs", [](nlohmann::json& j) { j["outputs"] = nlohmann::json::array(); }, "outputs"},
  };
  for (const Case& c : cases) {
    nlohmann::json j = good;
    c.mutate(j);
    auto parsed = ParseRequestJson(j.dump());
    ASSERT_FALSE(parsed.ok()) << c.name;
    EXPECT_NE(parsed.error().message.find(c.expected), std::string::npos)
        << c.name << ": " << parsed.error().message;
  }
  EXPECT_FALSE(ParseRequestJson("[]").ok());
  EXPECT_FALSE(ParseRequestJson("{").ok());
}

TEST(NixRequestTest, NixTemplatesAreBuiltinTemplates) {
  for (std::string_view name : NixTemplates()) {
    auto builtin = ir::BuiltinTemplates();
    EXPECT_TRUE(std::any_of(builtin.begin(), builtin.end(), [&](const ir::TemplateInfo& t) {
      return t.name == name;
    })) << name;
    EXPECT_TRUE(IsNixTemplate(name));
  }
  EXPECT_FALSE(IsNixTemplate("python-3.11"));
}

TEST(NixRequestTest, TemplatesDirFlagBeatsEnvironmentBeatsDefault) {
  ASSERT_EQ(setenv("MVM_TEMPLATES_DIR", "/from/env", 1), 0);
  EXPECT_EQ(ResolveTemplatesDir("/from/flag/"), "/from/flag");
  EXPECT_EQ(ResolveTemplatesDir(""), "/from/env");
  ASSERT_EQ(unsetenv("MVM_TEMPLATES_DIR"), 0);
  // The test binary lives in the build tree, so the default is the source tree's flake.
  EXPECT_EQ(ResolveTemplatesDir(""), std::filesystem::path(MVM_SOURCE_DIR) / "templates");
  EXPECT_TRUE(std::filesystem::is_regular_file(ResolveTemplatesDir("") / "flake.nix"));
}

}  // namespace
}  // namespace mvm::nix
