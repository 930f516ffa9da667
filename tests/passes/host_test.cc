#include "passes/host.h"

#include <gtest/gtest.h>

#include <string>

namespace mvm::passes {
namespace {

TEST(HostTest, AcceptsDnsNamesAndWildcards) {
  for (const char* host : {"api.openai.com", "API.OpenAI.com", "localhost", "minio",
                           "a-b.c-d.example", "xn--bcher-kva.de", "*.example.com",
                           "*.s3.amazonaws.com", "1e100.net", "123.example.com"}) {
    EXPECT_EQ(HostError(host), "") << host;
  }
  EXPECT_EQ(HostError(std::string(63, 'a') + ".com"), "");
}

TEST(HostTest, RejectsRawIpAddresses) {
  for (const char* host : {"10.0.0.1", "169.254.169.254", "127.1", "2130706433", "0x7f.0.0.1",
                           "10.0.0.1:443", "::1", "[::1]", "[2001:db8::1]:443", "fe80::1%eth0"}) {
    EXPECT_EQ(HostError(host), "raw IP addresses are not allowed; name a host") << host;
    EXPECT_TRUE(IsIpLiteral(host)) << host;
  }
  EXPECT_FALSE(IsIpLiteral("api.example.com"));
  EXPECT_FALSE(IsIpLiteral("localhost:8080"));
}

TEST(HostTest, ReasonsAreSpecific) {
  struct Case {
    std::string host;
    std::string reason;
  };
  const Case cases[] = {
      {"", "a host must not be empty"},
      {"api example.com", "a host contains no whitespace or control characters"},
      {"bücher.de", "write non-ASCII host names in their punycode form (`xn--...`)"},
      {"https://api.example.com/v1",
       "a host has no scheme; write `api.example.com`, not `https://api.example.com/v1`"},
      {"api.example.com/v1", "a host has no path; write `api.example.com`"},
      {"api.example.com:443",
       "a host has no port; write `api.example.com`, not `api.example.com:443`"},
      {"api.example.com.", "remove the trailing `.`"},
      {"api..example.com", "a host has no empty labels (`..`, or `.` at the start)"},
      {".example.com", "a host has no empty labels (`..`, or `.` at the start)"},
      {"-api.example.com", "label `-api` starts or ends with `-`"},
      {"api-.example.com", "label `api-` starts or ends with `-`"},
      {"api_v1.example.com", "`_` is not allowed in a host name; use letters, digits, `-` and `.`"},
      {"api.*.example.com", "`*` is only allowed as the whole first label, as in `*.example.com`"},
      {"*api.example.com", "`*` is only allowed as the whole first label, as in `*.example.com`"},
      {"*", "`*` is only allowed as the whole first label, as in `*.example.com`"},
      {"*.com", "a wildcard needs at least two labels after `*.`, as in `*.example.com`"},
      {"example.123",
       "the last label `123` is a number, so the name would be read as an IP address"},
      {std::string(64, 'a') + ".com",
       "label `" + std::string(64, 'a') + "` is longer than 63 characters"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(HostError(c.host), c.reason) << c.host;
  }
  std::string long_host;
  for (int i = 0; i < 4; ++i) {
    long_host += std::string(63, 'a') + ".";
  }
  long_host += "com";
  EXPECT_EQ(HostError(long_host), "a host name is at most 253 characters, this one has 259");
}

TEST(HostTest, LowercaseHostFoldsAsciiOnly) {
  EXPECT_EQ(LowercaseHost("API.OpenAI.Com"), "api.openai.com");
  EXPECT_EQ(LowercaseHost("*.Example.COM"), "*.example.com");
}

TEST(HostTest, AllowsExactHostsCaseInsensitively) {
  EXPECT_TRUE(HostAllows("api.openai.com", "api.openai.com"));
  EXPECT_TRUE(HostAllows("API.openai.com", "api.OPENAI.com"));
  EXPECT_FALSE(HostAllows("api.openai.com", "openai.com"));
  EXPECT_FALSE(HostAllows("openai.com", "api.openai.com"));
}

TEST(HostTest, WildcardAllowsSubdomainsButNotTheBareSuffix) {
  EXPECT_TRUE(HostAllows("*.example.com", "api.example.com"));
  EXPECT_TRUE(HostAllows("*.example.com", "a.b.example.com"));
  EXPECT_TRUE(HostAllows("*.Example.com", "API.example.COM"));
  EXPECT_TRUE(HostAllows("*.example.com", "*.example.com"));
  EXPECT_TRUE(HostAllows("*.example.com", "*.api.example.com"));
  EXPECT_FALSE(HostAllows("*.example.com", "example.com"));
  EXPECT_FALSE(HostAllows("*.example.com", "badexample.com"));
  EXPECT_FALSE(HostAllows("*.api.example.com", "*.example.com"));
  EXPECT_FALSE(HostAllows("api.example.com", "*.example.com"));
}

}  // namespace
}  // namespace mvm::passes
