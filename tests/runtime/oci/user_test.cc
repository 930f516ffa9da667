#include "runtime/oci/user.h"

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace mvm::runtime::oci {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class ImageUserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(root() / "etc");
    std::ofstream(root() / "etc/passwd") << "root:x:0:0:root:/root:/bin/sh\n"
                                         << "app:x:1000:1001::/home/app:/bin/sh\n"
                                         << "broken line\n";
    std::ofstream(root() / "etc/group") << "root:x:0:\nstaff:x:50:\napp:x:1001:\n";
  }
  fs::path root() const { return dir_.path() / "rootfs"; }
  testing::TempDir dir_{"mvm-oci-user"};
};

TEST_F(ImageUserTest, NamesAndNumbersResolveAsContainerEnginesDo) {
  auto none = ResolveImageUser(root(), "");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto by_name = ResolveImageUser(root(), "app");
  ASSERT_TRUE(by_name.ok()) << by_name.error().message;
  EXPECT_EQ((*by_name)->uid, 1000u);
  EXPECT_EQ((*by_name)->gid, 1001u);
  auto by_uid = ResolveImageUser(root(), "1000");
  EXPECT_EQ((*by_uid)->gid, 1001u);
  auto unlisted = ResolveImageUser(root(), "4242");
  EXPECT_EQ((*unlisted)->uid, 4242u);
  EXPECT_EQ((*unlisted)->gid, 0u);
  auto with_group = ResolveImageUser(root(), "app:staff");
  EXPECT_EQ((*with_group)->gid, 50u);
  auto numbers = ResolveImageUser(root(), "7:9");
  EXPECT_EQ((*numbers)->uid, 7u);
  EXPECT_EQ((*numbers)->gid, 9u);
  EXPECT_THAT(ResolveImageUser(root(), "nobody").error().message,
              HasSubstr("names user `nobody`, which its /etc/passwd does not list"));
  EXPECT_THAT(ResolveImageUser(root(), "app:wheel").error().message, HasSubstr("group `wheel`"));
  EXPECT_THAT(ResolveImageUser(root(), "70000").error().message, HasSubstr("maps ids 0 to 65535"));
}

// An image whose /etc is a symlink to the host's /etc must read its own (missing) passwd, never
// the host's: `root` is in every host's passwd, so resolving it by name would show the leak.
TEST_F(ImageUserTest, TheImagesFilesAreReadInsideTheImage) {
  fs::remove_all(root() / "etc");
  fs::create_symlink("/etc", root() / "etc");
  EXPECT_FALSE(ResolveImageUser(root(), "root").ok());
  fs::remove(root() / "etc");
  fs::create_directories(root() / "real");
  std::ofstream(root() / "real/passwd") << "svc:x:300:300::/:/bin/sh\n";
  fs::create_symlink("/real", root() / "etc");  // absolute, but inside the image
  auto svc = ResolveImageUser(root(), "svc");
  ASSERT_TRUE(svc.ok()) << svc.error().message;
  EXPECT_EQ((*svc)->uid, 300u);
}

}  // namespace
}  // namespace mvm::runtime::oci
