#include <fcntl.h>
#include <gtest/gtest.h>

#include "ir/support/os/errno_text.h"
#include "ir/support/os/hex.h"
#include "ir/support/os/unique_fd.h"

namespace mvm::os {
namespace {

TEST(HexTest, LowercaseTwoDigitsAByte) {
  EXPECT_EQ(Hex(std::string_view("\x00\x01\xab\xff", 4)), "0001abff");
  EXPECT_EQ(Hex(""), "");
  const unsigned char digest[] = {0xde, 0xad, 0xbe, 0xef};
  EXPECT_EQ(Hex(digest, sizeof digest), "deadbeef");
}

TEST(ErrnoTextTest, IsTheCLibraryText) {
  EXPECT_EQ(ErrnoText(ENOENT), "No such file or directory");
}

TEST(UniqueFdTest, ClosesOnResetAndDestructionButNotAfterRelease) {
  int raw = -1;
  {
    UniqueFd fd(dup(0));
    ASSERT_TRUE(fd.valid());
    raw = fd.get();
    UniqueFd moved = std::move(fd);
    EXPECT_FALSE(fd.valid());  // NOLINT(bugprone-use-after-move): moved-from is "none" by contract
    EXPECT_EQ(moved.get(), raw);
  }
  EXPECT_EQ(fcntl(raw, F_GETFD), -1) << "closed when it went out of scope";
  UniqueFd kept(dup(0));
  int released = kept.Release();
  EXPECT_FALSE(kept.valid());
  EXPECT_NE(fcntl(released, F_GETFD), -1);
  close(released);
}

}  // namespace
}  // namespace mvm::os
