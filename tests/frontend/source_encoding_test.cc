// Unit tests of PEP 263 declarations and the decoding of source files before they are parsed.

#include "frontend/common/source_encoding.h"

#include <gtest/gtest.h>

#include <string>

#include "frontend/frontend.h"

namespace mvm::frontend {
namespace {

std::string Declared(std::string_view text) {
  std::optional<CodingDeclaration> d = FindCodingDeclaration(text);
  return d ? std::string(d->name) : "-";
}

TEST(SourceEncodingTest, FindsTheDeclarationWherePythonDoes) {
  EXPECT_EQ(Declared("# -*- coding: latin-1 -*-\n"), "latin-1");
  EXPECT_EQ(Declared("#!/usr/bin/python\n# vim: set fileencoding=cp1252 :\n"), "cp1252");
  EXPECT_EQ(Declared("\n# coding=euc-jp\n"), "euc-jp");
  EXPECT_EQ(Declared("\xEF\xBB\xBF# coding: utf-8\n"), "utf-8");
  EXPECT_EQ(Declared("#!/usr/bin/python\r# coding: latin-1\r"), "latin-1");
  // Code on line 1 ends the search; line 3 is too late; `coding` needs `:` or `=`.
  EXPECT_EQ(Declared("import os\n# coding: latin-1\n"), "-");
  EXPECT_EQ(Declared("#\n#\n# coding: latin-1\n"), "-");
  EXPECT_EQ(Declared("# coding latin-1\n"), "-");
  EXPECT_EQ(Declared("x = 1  # coding: latin-1\n"), "-");
  std::optional<CodingDeclaration> d = FindCodingDeclaration("# coding: ascii\n");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->begin, 10u);
  EXPECT_EQ(d->end, 15u);
}

TEST(SourceEncodingTest, NamesPythonEncodingsForIconv) {
  EXPECT_EQ(IconvEncodingName("latin-1"), "ISO-8859-1");
  EXPECT_EQ(IconvEncodingName("Latin_1"), "ISO-8859-1");
  EXPECT_EQ(IconvEncodingName("iso-latin-1-unix"), "ISO-8859-1");
  EXPECT_EQ(IconvEncodingName("utf_8"), "UTF-8");
  EXPECT_EQ(IconvEncodingName("utf-8-sig"), "UTF-8");
  EXPECT_EQ(IconvEncodingName("euc_jp"), "euc-jp");
}

TEST(SourceEncodingTest, TranscodesAndReportsTheFirstBadByte) {
  std::string out;
  uint32_t bad = 0;
  EXPECT_EQ(TranscodeToUtf8("caf\xe9", "ISO-8859-1", out, bad), TranscodeStatus::kOk);
  EXPECT_EQ(out, "caf\xc3\xa9");
  EXPECT_EQ(TranscodeToUtf8("5 \x80", "cp1252", out, bad), TranscodeStatus::kOk);
  EXPECT_EQ(out, "5 \xe2\x82\xac");
  EXPECT_EQ(TranscodeToUtf8("ab\xe9z", "ascii", out, bad), TranscodeStatus::kInvalidInput);
  EXPECT_EQ(bad, 2u);
  EXPECT_EQ(out, "ab");
  EXPECT_EQ(TranscodeToUtf8("x", "klingon-8", out, bad), TranscodeStatus::kUnknownEncoding);
  EXPECT_EQ(TranscodeToUtf8("x", "UTF-8//TRANSLIT", out, bad), TranscodeStatus::kUnknownEncoding);
}

TEST(SourceEncodingTest, LineEndingsBecomeNewlines) {
  std::string text = "a\rb\r\nc\r\r\n\nd\r";
  NormalizeNewlines(text);
  EXPECT_EQ(text, "a\nb\nc\n\n\nd\n");
}

TEST(SourceEncodingTest, DecodeSourceLeavesFilesThatCannotUseMvmAlone) {
  DiagnosticSink sink;
  SourceFile file("t.py", "# coding: klingon-8\nx = 1\r");
  EXPECT_TRUE(DecodeSource(file, sink));
  EXPECT_EQ(file.contents(), "# coding: klingon-8\nx = 1\r");
  SourceFile mentions("t.py", "# coding: klingon-8\nx = 'mvm'\n");
  EXPECT_TRUE(DecodeSource(mentions, sink));
  EXPECT_TRUE(sink.diagnostics().empty());
  SourceFile uses("t.py", "# coding: klingon-8\nimport mvm\n");
  EXPECT_FALSE(DecodeSource(uses, sink));
  ASSERT_EQ(sink.diagnostics().size(), 1u);
  EXPECT_EQ(sink.diagnostics()[0].loc.line, 1u);
  EXPECT_EQ(sink.diagnostics()[0].loc.column, 11u);
}

}  // namespace
}  // namespace mvm::frontend
