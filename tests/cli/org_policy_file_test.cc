#include "cli/org_policy_file.h"

#include <gtest/gtest.h>

#include <string>

namespace mvm::cli {
namespace {

std::string ErrorOf(std::string_view text) {
  auto policy = ParseOrgPolicy("p.json", text);
  return policy.ok() ? "ok" : policy.error().message;
}

TEST(OrgPolicyFileTest, ReadsEveryField) {
  auto policy = ParseOrgPolicy("p.json", R"({
    "schema": "mvm.policy/v1",
    "allowed_registries": ["ghcr.io/acme", "127.0.0.1:5000"],
    "egress_allow": ["API.openai.com", "*.acme.dev"],
    "max_cpu": 4, "max_memory_mb": 2048, "max_disk_mb": 4096, "max_timeout_seconds": 600,
    "required_isolation": "microvm"})");
  ASSERT_TRUE(policy.ok()) << policy.error().message;
  EXPECT_EQ(policy->path, "p.json");
  EXPECT_EQ(*policy->allowed_registries,
            (std::vector<std::string>{"ghcr.io/acme", "127.0.0.1:5000"}));
  EXPECT_EQ(*policy->egress_allow, (std::vector<std::string>{"api.openai.com", "*.acme.dev"}));
  EXPECT_EQ(policy->max_cpu, 4);
  EXPECT_EQ(policy->max_memory_mb, 2048);
  EXPECT_EQ(policy->max_disk_mb, 4096);
  EXPECT_EQ(policy->max_timeout_seconds, 600);
  EXPECT_EQ(policy->required_isolation, "microvm");

  auto empty = ParseOrgPolicy("p.json", "{}");
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->allowed_registries.has_value());
  EXPECT_FALSE(empty->max_cpu.has_value());
}

TEST(OrgPolicyFileTest, ErrorsNameTheField) {
  EXPECT_EQ(ErrorOf("{\"max_cpus\": 4}"),
            "policy file `p.json`: unknown field `max_cpus`; did you mean `max_cpu`?");
  EXPECT_EQ(ErrorOf("{\"max_cpu\": 0}"),
            "policy file `p.json`: `max_cpu` must be an integer in 1..64, got 0");
  EXPECT_EQ(ErrorOf("{\"max_cpu\": 18446744073709551615}").find("`max_cpu` must be"), 22u);
  EXPECT_EQ(ErrorOf("{\"max_cpu\": 2.0}").find("`max_cpu` must be"), 22u);
  EXPECT_EQ(
      ErrorOf("{\"max_timeout_seconds\": 86401}"),
      "policy file `p.json`: `max_timeout_seconds` must be an integer in 1..86400, got 86401");
  EXPECT_EQ(
      ErrorOf("{\"egress_allow\": \"api.openai.com\"}"),
      "policy file `p.json`: `egress_allow` must be a list of strings, got \"api.openai.com\"");
  EXPECT_EQ(ErrorOf("{\"egress_allow\": [1]}"),
            "policy file `p.json`: `egress_allow[0]` must be a string, got 1");
  EXPECT_EQ(ErrorOf("{\"allowed_registries\": [\"GHCR.io\"]}")
                .find("`allowed_registries[0]` "
                      "`GHCR.io` is invalid"),
            22u);
  EXPECT_EQ(
      ErrorOf("{\"required_isolation\": \"container\"}"),
      "policy file `p.json`: `required_isolation` can only be \"microvm\", got \"container\": "
      "a policy may tighten the profile, never loosen it");
  EXPECT_EQ(ErrorOf("{\"schema\": \"mvm.policy/v2\"}"),
            "policy file `p.json`: `schema` must be \"mvm.policy/v1\", got \"mvm.policy/v2\"");
  EXPECT_EQ(ErrorOf("{\"max_cpu\": 4, \"max_cpu\": 64}"),
            "policy file `p.json`: `max_cpu` is given more than once");
  EXPECT_EQ(ErrorOf("[]"), "policy file `p.json`: the top level must be a JSON object");
  EXPECT_EQ(ErrorOf("{\n  \"max_cpu\": 4,\n}"),
            "policy file `p.json`: not valid JSON: parse error at line 3, column 1: syntax error "
            "while parsing object key - unexpected '}'; expected string literal");
  EXPECT_EQ(ErrorOf("").rfind("policy file `p.json`: not valid JSON: parse error at line 1", 0),
            0u);
}

TEST(OrgPolicyFileTest, UnreadableFile) {
  auto policy = ReadOrgPolicy("/nonexistent/mvm-policy.json");
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.error().message.rfind("cannot read policy file: ", 0), 0u);
}

}  // namespace
}  // namespace mvm::cli
