#include "ir/support/terminal_text.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mvm {
namespace {

TEST(EscapeForTerminal, KeepsTextNewlinesTabsAndUtf8) {
  EXPECT_EQ(EscapeForTerminal("hello\tworld\n"), "hello\tworld\n");
  EXPECT_EQ(EscapeForTerminal("grüße → 日本 🙂\r\n"), "grüße → 日本 🙂\r\n");
  EXPECT_EQ(EscapeForTerminal("\xc2\xa0nbsp"), "\xc2\xa0nbsp");  // U+00A0 is not a control
}

TEST(EscapeForTerminal, EscapesC0ControlsAndDel) {
  EXPECT_EQ(EscapeForTerminal("\x1b]52;c;aGk=\x07"), "\\x1b]52;c;aGk=\\x07");
  EXPECT_EQ(EscapeForTerminal("\x1b[2J\x1b[H"), "\\x1b[2J\\x1b[H");
  EXPECT_EQ(EscapeForTerminal(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(EscapeForTerminal("\b\x7f\x0c"), "\\x08\\x7f\\x0c");
}

TEST(EscapeForTerminal, EscapesACarriageReturnThatWouldOverwriteTheLine) {
  EXPECT_EQ(EscapeForTerminal("safe\rEVIL\n"), "safe\\x0dEVIL\n");
  EXPECT_EQ(EscapeForTerminal("end\r"), "end\\x0d");
  EXPECT_EQ(EscapeForTerminal("\r\r\n"), "\\x0d\r\n");
}

TEST(EscapeForTerminal, EscapesC1ControlsRawAndEncoded) {
  EXPECT_EQ(EscapeForTerminal("\x9b"
                              "2J"),
            "\\x9b2J");  // raw 8-bit CSI
  EXPECT_EQ(EscapeForTerminal("\xc2\x9b"
                              "2J"),
            "\\xc2\\x9b2J");  // U+009B, CSI in UTF-8
  EXPECT_EQ(EscapeForTerminal("\xc2\x9d"
                              "0;t\xc2\x9c"),
            "\\xc2\\x9d0;t\\xc2\\x9c");  // OSC .. ST
  EXPECT_EQ(EscapeForTerminal("\xc2\x80"), "\\xc2\\x80");
}

TEST(EscapeForTerminal, EscapesBytesThatAreNotUtf8) {
  EXPECT_EQ(EscapeForTerminal("\xff\xfe"), "\\xff\\xfe");
  EXPECT_EQ(EscapeForTerminal("\xc0\xaf"), "\\xc0\\xaf");                    // overlong '/'
  EXPECT_EQ(EscapeForTerminal("\xed\xa0\x80"), "\\xed\\xa0\\x80");           // a surrogate
  EXPECT_EQ(EscapeForTerminal("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // > U+10FFFF
  // A truncated sequence: its lead byte is escaped and what follows is judged on its own.
  EXPECT_EQ(EscapeForTerminal("\xe2\x86"
                              "A"),
            "\\xe2\\x86A");
  EXPECT_EQ(EscapeForTerminal("\xe2\x1b"), "\\xe2\\x1b");
  EXPECT_EQ(EscapeForTerminal("\xe2"), "\\xe2");
}

TEST(EscapeForTerminal, NamesEscapeLineBreaksToo) {
  constexpr auto kName = TerminalEscaper::Kind::kName;
  EXPECT_EQ(EscapeForTerminal("a\nb\tc\r\n", kName), "a\\x0ab\\x09c\\x0d\\x0a");
  EXPECT_EQ(EscapeForTerminal("evil\x1b]0;x\x07", kName), "evil\\x1b]0;x\\x07");
  EXPECT_EQ(EscapeForTerminal("日本.txt", kName), "日本.txt");
}

// Every split of the input into two chunks gives what the whole input gives.
TEST(TerminalEscaper, ChunkBoundariesDoNotChangeTheResult) {
  const std::string input =
      "ok \xe2\x86\x92 \xf0\x9f\x99\x82 \xc2\x9b x\r\ny\rz \x1b]0;t\x07 \xe2\x86 \xc3";
  const std::string whole = EscapeForTerminal(input);
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    TerminalEscaper escaper;
    std::string out = escaper.Feed(input.substr(0, cut));
    out += escaper.Feed(input.substr(cut));
    out += escaper.Finish();
    EXPECT_EQ(out, whole) << "cut at " << cut;
  }
  // And one byte at a time.
  TerminalEscaper escaper;
  std::string out;
  for (char c : input) {
    out += escaper.Feed(std::string(1, c));
  }
  out += escaper.Finish();
  EXPECT_EQ(out, whole);
}

TEST(TerminalEscaper, HoldsBackOnlyWhatCanStillChange) {
  TerminalEscaper escaper;
  EXPECT_EQ(escaper.Feed("a\xe2\x86"), "a");
  EXPECT_EQ(escaper.Feed("\x92\r"), "\xe2\x86\x92");
  EXPECT_EQ(escaper.Feed("\n"), "\r\n");
  EXPECT_EQ(escaper.Feed("\xc2"), "");
  EXPECT_EQ(escaper.Finish(), "\\xc2");
  EXPECT_EQ(escaper.Finish(), "");
}

// IsValidUtf8 decides whether `mvmctl fs ls --format=json` must give a name's bytes beside it, so
// it must agree with the JSON writer, which would otherwise replace bytes unannounced.
TEST(IsValidUtf8, AgreesWithTheJsonWriter) {
  const std::vector<std::string> cases = {
      "",
      "plain",
      "real\nd0755 0 injected-dir",
      "grüße → 日本 🙂",
      "\x1b]0;x\x07",
      "\xc2\x9b",          // U+009B, a C1 control: valid UTF-8, escaped on a terminal
      "\xff",              // never UTF-8
      "\xc0\xaf",          // overlong '/'
      "\xe0\x80\xaf",      // overlong '/'
      "\xed\xa0\x80",      // a surrogate
      "\xf4\x90\x80\x80",  // beyond U+10FFFF
      "\xe2\x86",          // truncated
      "a\x80z",            // a lone continuation byte
      "\xf0\x9f\x99\x82",  // U+1F642
      std::string("nul\0byte", 8),
  };
  for (const std::string& c : cases) {
    bool writer_accepts = true;
    try {
      (void)nlohmann::json(c).dump();
    } catch (const nlohmann::json::type_error&) {
      writer_accepts = false;
    }
    EXPECT_EQ(IsValidUtf8(c), writer_accepts) << EscapeForTerminal(c);
  }
}

}  // namespace
}  // namespace mvm
