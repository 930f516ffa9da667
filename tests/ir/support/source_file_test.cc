#include "ir/support/source_file.h"

#include <gtest/gtest.h>

namespace mvm {
namespace {

TEST(SourceFileTest, LocCountsCodePointsOneBased) {
  SourceFile f("a.py", "x = 1\n# é\ny = \"ü\"\n");
  SourceLoc loc = f.Loc(15, 19);  // the string literal on line 3, after the two-byte é line
  EXPECT_EQ(loc.line, 3u);
  EXPECT_EQ(loc.column, 5u);
  EXPECT_EQ(loc.end_line, 3u);
  EXPECT_EQ(loc.end_column, 8u);
  EXPECT_EQ(f.Line(3), "y = \"ü\"");
  EXPECT_EQ(f.Offset(3, 6), 16u);
}

TEST(SourceFileTest, LineHandlesCrLfAndOutOfRange) {
  SourceFile f("a.py", "a\r\nb");
  EXPECT_EQ(f.Line(1), "a");
  EXPECT_EQ(f.Line(2), "b");
  EXPECT_EQ(f.Line(3), "");
  EXPECT_EQ(f.Line(0), "");
}

}  // namespace
}  // namespace mvm
