#include "ir/file_pattern.h"

#include <gtest/gtest.h>

namespace mvm::ir {
namespace {

FilePattern P(std::string_view text) {
  auto p = FilePattern::Parse(text);
  EXPECT_TRUE(p) << text << ": " << (p ? "" : p.error().message);
  return p ? *p : *FilePattern::Parse("never-matches-anything");
}

TEST(FilePatternTest, NameWithoutSlashMatchesAtAnyDepth) {
  EXPECT_TRUE(P("*.py").Matches("a.py", false));
  EXPECT_TRUE(P("*.py").Matches("src/deep/a.py", false));
  EXPECT_FALSE(P("*.py").Matches("a.pyc", false));
  EXPECT_TRUE(P("build").Matches("x/build", true));
}

TEST(FilePatternTest, SlashAnchorsToTheBase) {
  EXPECT_TRUE(P("/build").Matches("build", true));
  EXPECT_FALSE(P("/build").Matches("src/build", true));
  EXPECT_TRUE(P("data/*.csv").Matches("data/a.csv", false));
  EXPECT_FALSE(P("data/*.csv").Matches("x/data/a.csv", false));
  EXPECT_FALSE(P("data/*.csv").Matches("data/sub/a.csv", false));  // `*` stays in its segment
}

TEST(FilePatternTest, TrailingSlashMatchesDirectoriesOnly) {
  EXPECT_TRUE(P("out/").Matches("out", true));
  EXPECT_FALSE(P("out/").Matches("out", false));
  EXPECT_TRUE(P("out/").Matches("a/out", true));  // no other slash: any depth
}

TEST(FilePatternTest, DoubleStar) {
  EXPECT_TRUE(P("**/t.py").Matches("t.py", false));
  EXPECT_TRUE(P("**/t.py").Matches("a/b/t.py", false));
  EXPECT_TRUE(P("a/**/b").Matches("a/b", false));
  EXPECT_TRUE(P("a/**/b").Matches("a/x/y/b", false));
  EXPECT_FALSE(P("a/**/b").Matches("a/x/y/c", false));
  EXPECT_TRUE(P("src/**").Matches("src/a", false));
  EXPECT_TRUE(P("src/**").Matches("src/a/b.py", false));
  EXPECT_FALSE(P("src/**").Matches("src", true));  // what is inside, not the directory itself
  EXPECT_TRUE(P("**").Matches("anything/at/all", false));
}

TEST(FilePatternTest, ClassesQuestionMarksAndEscapes) {
  EXPECT_TRUE(P("f[0-9].txt").Matches("f7.txt", false));
  EXPECT_FALSE(P("f[!0-9].txt").Matches("f7.txt", false));
  EXPECT_TRUE(P("f[!0-9].txt").Matches("fx.txt", false));
  EXPECT_TRUE(P("?.md").Matches("a.md", false));
  EXPECT_FALSE(P("?.md").Matches("ab.md", false));
  EXPECT_TRUE(P("\\*.md").Matches("*.md", false));
  EXPECT_FALSE(P("\\*.md").Matches("a.md", false));
}

TEST(FilePatternTest, BadPatternsSayWhy) {
  for (std::string_view bad : {"", "!", "/", "../x", "a/../b", "./a", "a//b", "f[0-9.txt"}) {
    auto p = FilePattern::Parse(bad);
    EXPECT_FALSE(p) << "accepted `" << bad << "`";
  }
  EXPECT_NE(FilePattern::Parse("../x").error().message.find("cannot leave"), std::string::npos);
}

TEST(FilePatternTest, GitignoreLastMatchWinsAndNegationReincludes) {
  auto ignore = ParseGitignore("# comment\n\n*.log\n!keep.log\nbuild/\n/secret.txt  \n\\#hash\n");
  EXPECT_EQ(ignore.size(), 5u);
  EXPECT_EQ(LastMatch(ignore, "a.log", false), std::optional<bool>(true));
  EXPECT_EQ(LastMatch(ignore, "keep.log", false), std::optional<bool>(false));
  EXPECT_EQ(LastMatch(ignore, "build", true), std::optional<bool>(true));
  EXPECT_EQ(LastMatch(ignore, "build", false), std::nullopt);
  EXPECT_EQ(LastMatch(ignore, "secret.txt", false), std::optional<bool>(true));
  EXPECT_EQ(LastMatch(ignore, "sub/secret.txt", false), std::nullopt);
  EXPECT_EQ(LastMatch(ignore, "#hash", false), std::optional<bool>(true));
  EXPECT_EQ(LastMatch(ignore, "main.py", false), std::nullopt);
}

TEST(FilePatternTest, SelectsByTheLastPatternMatchingTheFileOrADirectoryAboveIt) {
  std::vector<FilePattern> files = {P("**/*.py"), P("data/*.csv"), P("!tests/")};
  EXPECT_TRUE(Selects(files, "main.py"));
  EXPECT_TRUE(Selects(files, "lib/helpers.py"));
  EXPECT_TRUE(Selects(files, "data/a.csv"));
  EXPECT_FALSE(Selects(files, "tests/test_a.py"));
  EXPECT_FALSE(Selects(files, "README.md"));
  std::vector<FilePattern> src = {P("src/"), P("!src/tests/**"), P("src/tests/fixture.json")};
  EXPECT_TRUE(Selects(src, "src/a/b.txt"));
  EXPECT_FALSE(Selects(src, "src/tests/t.py"));
  EXPECT_TRUE(Selects(src, "src/tests/fixture.json"));
}

}  // namespace
}  // namespace mvm::ir
