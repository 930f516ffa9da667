#include "runtime/egress/policy.h"

#include <arpa/inet.h>

#include "gtest/gtest.h"
#include "runtime/egress/address.h"
#include "tests/runtime/egress/egress_test_util.h"

namespace {

using mvm::runtime::egress::NormaliseName;
using mvm::runtime::egress::Policy;
using mvm::runtime::egress::Protocol;
using mvm::runtime::egress::RefusedAddress;

TEST(NormaliseName, LowercasesAndDropsOneTrailingDot) {
  EXPECT_EQ(NormaliseName("API.Example.COM."), "api.example.com");
  EXPECT_EQ(NormaliseName("xn--bcher-kva.example"), "xn--bcher-kva.example");
  EXPECT_EQ(NormaliseName("minio"), "minio");
  EXPECT_EQ(NormaliseName("_srv.example.com"), "_srv.example.com");
}

TEST(NormaliseName, RefusesAddressesInEverySpellingAndWhatIsNotAName) {
  for (const char* bad : {"", ".", "a..b", "1.2.3.4", "1.2.3.4.", "0x7f.1", "2130706433", "127.1",
                          "::1", "[::1]", "example.com:443", "bücher.example", "exa mple.com",
                          "a/b", "example.123", "example.com..", "*.example.com"}) {
    EXPECT_EQ(NormaliseName(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(NormaliseName(std::string(64, 'a') + ".com"), std::nullopt);
  EXPECT_EQ(NormaliseName(std::string(63, 'a') + ".com"), std::string(63, 'a') + ".com");
}

TEST(Policy, ExactRulesMatchOnlyTheirNameAndWildcardsEverySubdomainButNotTheApex) {
  Policy p;
  p.rules = {{"api.example.com", Protocol::kHttps},
             {"*.files.example.com", Protocol::kHttps},
             {"mirror.example.org", Protocol::kHttp}};
  EXPECT_EQ(p.Match("api.example.com", Protocol::kHttps), "https api.example.com");
  EXPECT_EQ(p.Match("api.example.com", Protocol::kHttp), std::nullopt);
  EXPECT_EQ(p.Match("x.api.example.com", Protocol::kHttps), std::nullopt);
  EXPECT_EQ(p.Match("a.files.example.com", Protocol::kHttps), "https *.files.example.com");
  EXPECT_EQ(p.Match("a.b.files.example.com", Protocol::kHttps), "https *.files.example.com");
  EXPECT_EQ(p.Match("files.example.com", Protocol::kHttps), std::nullopt);
  EXPECT_EQ(p.Match("evilfiles.example.com", Protocol::kHttps), std::nullopt);
  EXPECT_EQ(p.Match("mirror.example.org", Protocol::kHttp), "http mirror.example.org");
  EXPECT_TRUE(p.AllowsName("mirror.example.org"));
  EXPECT_FALSE(p.AllowsName("example.org"));
}

using mvm::testing::V4;
using mvm::testing::V6;

TEST(RefusedAddress, RefusesEveryRangeTheProxyMustNeverReach) {
  for (const char* bad : {"0.0.0.0", "10.1.2.3", "100.64.0.1", "127.0.0.1", "169.254.169.254",
                          "172.16.0.1", "172.31.255.255", "192.168.1.1", "192.0.0.8", "198.18.0.2",
                          "198.19.255.255", "224.0.0.1", "240.0.0.1", "255.255.255.255"}) {
    EXPECT_NE(RefusedAddress(V4(bad)), "") << bad;
  }
  for (const char* good : {"1.1.1.1", "8.8.8.8", "203.0.113.10", "198.51.100.53", "192.0.2.1",
                           "172.32.0.1", "100.128.0.1", "198.20.0.1"}) {
    EXPECT_EQ(RefusedAddress(V4(good)), "") << good;
  }
  EXPECT_NE(RefusedAddress(V4("169.254.169.254")).find("metadata"), std::string::npos);
}

TEST(RefusedAddress, RefusesIpv6RangesAndRefusedIpv4AddressesEmbeddedInIpv6) {
  for (const char* bad :
       {"::", "::1", "fd00:ec2::254", "fc00::1", "fe80::1", "fec0::1", "ff02::1",
        "::ffff:127.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "::10.0.0.1"}) {
    EXPECT_NE(RefusedAddress(V6(bad)), "") << bad;
  }
  for (const char* good : {"2001:db8::1", "2606:4700::1111", "::ffff:203.0.113.10"}) {
    EXPECT_EQ(RefusedAddress(V6(good)), "") << good;
  }
}

}  // namespace
