#include "cli/source_walk.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/support/files.h"
#include "tests/support/temp_dir.h"

namespace mvm::cli {
namespace {
namespace fs = std::filesystem;

TEST(GlobMatchTest, StarsQuestionMarksAndClasses) {
  EXPECT_TRUE(GlobMatch("*.py", "a.py"));
  EXPECT_FALSE(GlobMatch("*.py", "dir/a.py"));
  EXPECT_TRUE(GlobMatch("**/gen/*.py", "gen/a.py"));
  EXPECT_TRUE(GlobMatch("**/gen/*.py", "x/y/gen/a.py"));
  EXPECT_TRUE(GlobMatch("a/**/b", "a/b"));
  EXPECT_TRUE(GlobMatch("a/**/b", "a/x/y/b"));
  EXPECT_TRUE(GlobMatch("a/**", "a/x/y"));
  EXPECT_TRUE(GlobMatch("file?.ts", "file1.ts"));
  EXPECT_FALSE(GlobMatch("file?.ts", "file/.ts"));
  EXPECT_TRUE(GlobMatch("[a-c]x", "bx"));
  EXPECT_FALSE(GlobMatch("[!a-c]x", "bx"));
  EXPECT_TRUE(GlobMatch("\\*lit", "*lit"));
}

TEST(GitignoreTest, LastMatchWinsAndDirectoryRules) {
  auto rules =
      ParseGitignore("# comment\nbuild/\n*.gen.py\n!keep.gen.py\n/top.py\nsub/deep.py\n", "");
  EXPECT_TRUE(IsIgnored(rules, "build", true));
  EXPECT_FALSE(IsIgnored(rules, "build", false));  // `build/` names directories only
  EXPECT_TRUE(IsIgnored(rules, "x/y.gen.py", false));
  EXPECT_FALSE(IsIgnored(rules, "x/keep.gen.py", false));
  EXPECT_TRUE(IsIgnored(rules, "top.py", false));
  EXPECT_FALSE(IsIgnored(rules, "x/top.py", false));  // anchored to the .gitignore's directory
  EXPECT_TRUE(IsIgnored(rules, "sub/deep.py", false));
  EXPECT_FALSE(IsIgnored(rules, "x/sub/deep.py", false));
}

TEST(GitignoreTest, NestedGitignoreAppliesBelowItsDirectory) {
  auto rules = ParseGitignore("*.ts\n", "web");
  EXPECT_TRUE(IsIgnored(rules, "web/a.ts", false));
  EXPECT_TRUE(IsIgnored(rules, "web/x/a.ts", false));
  EXPECT_FALSE(IsIgnored(rules, "a.ts", false));
  EXPECT_FALSE(IsIgnored(rules, "website/a.ts", false));
}

TEST(WalkSourceDirectoryTest, FindsSourcesHonouringGitignore) {
  mvm::testing::TempDir tmp;
  const fs::path root = tmp.path();
  auto write = [&](const std::string& rel, const std::string& text) {
    mvm::testing::WriteFile(root / rel, text);
  };
  write(".git/HEAD", "ref: refs/heads/main\n");
  write(".gitignore", "generated/\n*.skip.py\n");
  write("app.py", "");
  write("web/app.ts", "");
  write("web/view.tsx", "");
  write("web/.gitignore", "legacy.ts\n");
  write("web/legacy.ts", "");
  write("generated/out.py", "");
  write("x.skip.py", "");
  write("notes.txt", "");
  write("node_modules/m/index.ts", "");
  write(".hidden/h.py", "");

  auto found = WalkSourceDirectory(root.string());
  ASSERT_TRUE(found.ok()) << found.error().message;
  std::vector<std::string> expected = {(root / "app.py").string(), (root / "web/app.ts").string(),
                                       (root / "web/view.tsx").string()};
  EXPECT_EQ(*found, expected);
}

}  // namespace
}  // namespace mvm::cli
