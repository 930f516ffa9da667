// The pure parts of `Image.debian`: reading apt's and dpkg's output, the pin text and digest that
// key the cache, and the checks a plan's package list passes before it reaches mmdebstrap. The
// real build is in debian_image_build_test.cc.

#include "runtime/rootfs/debian_image.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mvm::runtime::rootfs {
namespace {

constexpr std::string_view kHashA =
    "c25f3fda201207ed98b1d63686f2d81b9dfeb99f1ab2d1d35fb3f7b6a1c107dc";
constexpr std::string_view kHashB =
    "5e9a7081ba10ce826f6d3d103aa9b912170c5adc836e2561000733571995dd5b";

std::string UriLine(std::string_view file, std::string_view hash) {
  return "'http://deb.debian.org/debian/pool/main/x/" + std::string(file) + "' " +
         std::string(file) + " 1234 SHA256:" + std::string(hash) + "\n";
}

TEST(DebianImageTest, ParsesPrintUrisWithEpochsAndArchAll) {
  auto parsed = ParsePrintUris(UriLine("jq_1.6-2.1+deb12u3_amd64.deb", kHashA) +
                               UriLine("libcap2_1%3a2.66-4+deb12u3+b1_amd64.deb", kHashB) +
                               UriLine("tzdata_2026f-0+deb12u1_all.deb", kHashA));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  ASSERT_EQ(parsed->size(), 3u);
  EXPECT_EQ((*parsed)[0], (DebianPackage{"jq", "1.6-2.1+deb12u3", "amd64", std::string(kHashA)}));
  EXPECT_EQ((*parsed)[1].version, "1:2.66-4+deb12u3+b1");
  EXPECT_EQ((*parsed)[2].arch, "all");
}

TEST(DebianImageTest, RefusesPrintUrisWithoutASha256) {
  // Security updates' indexes carry no MD5; without Acquire::ForceHash apt prints no hash at all.
  auto parsed = ParsePrintUris("'http://x/jq_1_amd64.deb' jq_1_amd64.deb 64432 \n");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().message.find("no SHA256 hash"), std::string::npos);
  auto md5 = ParsePrintUris("'http://x/jq_1_amd64.deb' jq_1_amd64.deb 1 MD5Sum:8e7e7418\n");
  EXPECT_FALSE(md5.ok());
  auto garbage = ParsePrintUris("E: Unable to locate package nope\n");
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.error().message.find("line 1"), std::string::npos);
}

TEST(DebianImageTest, PinDigestIsOrderFreeAndCoversEveryField) {
  std::vector<DebianPackage> set = {{"jq", "1.6-2.1+deb12u3", "amd64", std::string(kHashA)},
                                    {"libjq1", "1.6-2.1+deb12u3", "amd64", std::string(kHashB)}};
  std::vector<DebianPackage> reversed = {set[1], set[0]};
  DebianPin pin = MakePin(set);
  EXPECT_EQ(pin.digest, MakePin(reversed).digest);
  EXPECT_EQ(pin.digest.rfind("sha256:", 0), 0u);
  EXPECT_EQ(pin.digest.size(), 7u + 64u);
  EXPECT_EQ(PinText(reversed), "jq 1.6-2.1+deb12u3 amd64 " + std::string(kHashA) +
                                   "\nlibjq1 1.6-2.1+deb12u3 amd64 " + std::string(kHashB) + "\n");
  // Any change of name, version, architecture or hash is another pin, so another cache entry.
  for (int field = 0; field < 4; ++field) {
    std::vector<DebianPackage> changed = set;
    DebianPackage& p = changed[0];
    std::string& text = field == 0   ? p.name
                        : field == 1 ? p.version
                        : field == 2 ? p.arch
                                     : p.sha256;
    text += field == 3 ? "" : "x";
    if (field == 3) {
      text = std::string(kHashB);
    }
    EXPECT_NE(MakePin(changed).digest, pin.digest) << "field " << field;
  }
  // One package more (a new dependency) is another pin too.
  std::vector<DebianPackage> more = set;
  more.push_back({"libonig5", "6.9.8-1", "amd64", std::string(kHashA)});
  EXPECT_NE(MakePin(more).digest, pin.digest);
}

TEST(DebianImageTest, ParsesDpkgStatusKeepingOnlyInstalledPackages) {
  auto parsed = ParseDpkgStatus(
      "Package: jq\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\n"
      "Version: 1.6-2.1+deb12u3\nDescription: x\n more\n\n"
      "Package: gone\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1\n\n"
      "Package: libcap2\nStatus: install ok installed\nArchitecture: amd64\n"
      "Version: 1:2.66-4+deb12u3+b1\n");
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0], (DebianPackage{"jq", "1.6-2.1+deb12u3", "amd64", ""}));
  EXPECT_EQ((*parsed)[1], (DebianPackage{"libcap2", "1:2.66-4+deb12u3+b1", "amd64", ""}));
}

TEST(DebianImageTest, ChecksASignedPlansPackageListBeforeMmdebstrapSeesIt) {
  EXPECT_TRUE(CheckDebianImageSpec({"bookworm", {"jq", "python3-yaml", "g++", "libc6.1"}}).ok());
  EXPECT_TRUE(CheckDebianImageSpec({"bookworm", {}}).ok());
  for (const std::vector<std::string>& bad :
       std::vector<std::vector<std::string>>{{"--include=evil"},
                                             {"jq,curl"},
                                             {"jq=1.6"},
                                             {"Jq"},
                                             {"j"},
                                             {"jq", "jq"},
                                             {"?essential"}}) {
    auto checked = CheckDebianImageSpec({"bookworm", bad});
    EXPECT_FALSE(checked.ok()) << bad[0];
  }
  auto suite = CheckDebianImageSpec({"sid", {"jq"}});
  ASSERT_FALSE(suite.ok());
  EXPECT_NE(suite.error().message.find("`sid`"), std::string::npos);
  EXPECT_FALSE(CheckDebianImageSpec({"bookworm", std::vector<std::string>(65, "")}).ok());
  std::vector<std::string> many;
  for (int i = 0; i < 65; ++i) {
    many.push_back("p" + std::to_string(i) + "x");
  }
  EXPECT_FALSE(CheckDebianImageSpec({"bookworm", many}).ok());
  many.pop_back();
  EXPECT_TRUE(CheckDebianImageSpec({"bookworm", many}).ok());
}

TEST(DebianImageTest, RefusesAMalformedPinBeforeTouchingTheCache) {
  auto made =
      MaterializeDebianImage({"bookworm", {"jq"}}, "sha256:../../etc", "/nonexistent", nullptr);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().message.find("not `sha256:<64 lowercase hex>`"), std::string::npos);
}

}  // namespace
}  // namespace mvm::runtime::rootfs
