// libcrypto opened on first use (runtime/lazylibs/crypto_api.h), which full snapshots hash with.
#include "runtime/lazylibs/crypto_api.h"

#include <gtest/gtest.h>

#include <memory>
#include <string_view>

#include "ir/support/os/hex.h"

namespace mvm::lazylibs {
namespace {

std::string Sha256Hex(const Crypto& evp, std::string_view bytes) {
  std::unique_ptr<EVP_MD_CTX, decltype(evp.MD_CTX_free)> ctx(evp.MD_CTX_new(), evp.MD_CTX_free);
  EXPECT_NE(ctx, nullptr);
  EXPECT_EQ(evp.DigestInit_ex(ctx.get(), evp.sha256(), nullptr), 1);
  // In two pieces, as HashFd feeds a file in buffers.
  EXPECT_EQ(evp.DigestUpdate(ctx.get(), bytes.data(), bytes.size() / 2), 1);
  EXPECT_EQ(
      evp.DigestUpdate(ctx.get(), bytes.data() + bytes.size() / 2, bytes.size() - bytes.size() / 2),
      1);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EXPECT_EQ(evp.DigestFinal_ex(ctx.get(), digest, &length), 1);
  return os::Hex(digest, length);
}

TEST(CryptoApiTest, LoadsOnceAndHashesAsSha256) {
  auto first = LoadCrypto();
  ASSERT_TRUE(first) << first.error().message;
  auto again = LoadCrypto();
  ASSERT_TRUE(again);
  EXPECT_EQ(*first, *again);
  // FIPS 180-2's examples.
  EXPECT_EQ(Sha256Hex(**first, "abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(**first, ""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

}  // namespace
}  // namespace mvm::lazylibs
