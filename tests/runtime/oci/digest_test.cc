#include "gtest/gtest.h"
#include "runtime/oci/oci.h"

namespace mvm::runtime::oci {
namespace {

TEST(OciDigest, OnlyLowercaseSha256WithSixtyFourHexDigitsIsADigest) {
  std::string hex(64, 'a');
  EXPECT_TRUE(IsSha256Digest("sha256:" + hex));
  EXPECT_FALSE(IsSha256Digest("sha256:" + std::string(64, 'A')));
  EXPECT_FALSE(IsSha256Digest("sha256:" + hex.substr(1)));
  EXPECT_FALSE(IsSha256Digest("sha512:" + hex));
  EXPECT_FALSE(IsSha256Digest("sha256:../../" + hex.substr(6)));
  EXPECT_FALSE(IsSha256Digest(""));
}

TEST(OciDigest, StreamedAndOneShotHashesAgree) {
  Sha256 h;
  h.Update("hello ");
  h.Update("world");
  EXPECT_EQ(h.Finish(), Sha256Digest("hello world"));
  EXPECT_EQ(Sha256Digest(""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

}  // namespace
}  // namespace mvm::runtime::oci
