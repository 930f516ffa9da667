// The path rules every volume backend shares (runtime/volumes/volume.h).

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "runtime/volumes/volume.h"

namespace mvm::runtime::volumes {
namespace {

TEST(VolumePathTest, AcceptsRelativeUnicodePaths) {
  EXPECT_FALSE(PathProblem("a/b/c.txt"));
  EXPECT_FALSE(PathProblem("données/日本語/😀.txt"));
  EXPECT_FALSE(PathProblem(std::string(255, 'x')));
  EXPECT_FALSE(PathProblem("", /*allow_root=*/true));
  EXPECT_FALSE(PathProblem(".hidden/.mvm"));
}

TEST(VolumePathTest, RefusesTraversalAbsoluteAndMalformedPaths) {
  for (const std::string& bad :
       std::vector<std::string>{"", "/etc/passwd", "..", "../x", "a/../../x", "a/..", "./a",
                                "a/./b", "a//b", "a/", std::string("a\0b", 3), "a\nb",
                                std::string("\xff\xfe"), ".mvm-tmp-0011", "d/.mvm-name"}) {
    EXPECT_TRUE(PathProblem(bad)) << bad;
  }
  EXPECT_TRUE(PathProblem(std::string(256, 'x')));
  std::string long_path;
  while (long_path.size() <= kMaxPathBytes) {
    long_path += std::string(200, 'y') + "/";
  }
  long_path += "z";
  EXPECT_TRUE(PathProblem(long_path));
}

TEST(VolumePathTest, MessagesSayWhatIsWrong) {
  EXPECT_NE(PathProblem("../x")->find("`..` component"), std::string::npos);
  EXPECT_NE(PathProblem("/x")->find("is absolute"), std::string::npos);
  EXPECT_NE(PathProblem(std::string(256, 'x'))->find("at most 255"), std::string::npos);
}

TEST(VolumePathTest, RegistryListsEveryBackendOnce) {
  std::vector<std::string> names;
  for (const VolumeBackend* backend : All()) {
    names.emplace_back(backend->name());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"local", "memory", "encrypted", "object"}));
  EXPECT_FALSE(Find("nfs"));
  EXPECT_NE(Find("nfs").error().message.find("`local`, `memory`, `encrypted`, `object`"),
            std::string::npos);
}

}  // namespace
}  // namespace mvm::runtime::volumes
