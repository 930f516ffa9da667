// In-process checks of position mapping and of the server's handling of hostile messages.

#include "lsp/document.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "lsp/server.h"

namespace mvm::lsp {
namespace {

TEST(Document, Utf16PositionsToBytes) {
  // "a😀b": the emoji is 4 UTF-8 bytes and 2 UTF-16 units; "é" is 2 bytes and 1 unit.
  std::string text =
      "x\na\xF0\x9F\x98\x80"
      "b\xC3\xA9\r\nlast";
  EXPECT_EQ(OffsetOf(text, {1, 0}), 2u);
  EXPECT_EQ(OffsetOf(text, {1, 1}), 3u);
  EXPECT_EQ(OffsetOf(text, {1, 2}), 3u);  // inside the surrogate pair: rounds down
  EXPECT_EQ(OffsetOf(text, {1, 3}), 7u);
  EXPECT_EQ(OffsetOf(text, {1, 5}), 10u);
  EXPECT_EQ(OffsetOf(text, {1, 99}), 10u);  // clamps before "\r\n"
  EXPECT_EQ(OffsetOf(text, {2, 2}), 14u);
  EXPECT_EQ(OffsetOf(text, {9, 0}), text.size());
}

TEST(Document, LoneCrAndCrlfEndLinesAsLspSays) {
  // LSP ends a line at "\n", "\r\n" or a lone "\r"; Python reads a file the same way.
  std::string text =
      "ab\rc\xC3\xA9"
      "d\r\nef\ng";
  EXPECT_EQ(OffsetOf(text, {1, 0}), 3u);
  EXPECT_EQ(OffsetOf(text, {1, 2}), 6u);
  EXPECT_EQ(OffsetOf(text, {1, 99}), 7u);  // clamps before "\r\n"
  EXPECT_EQ(OffsetOf(text, {2, 1}), 10u);
  EXPECT_EQ(OffsetOf(text, {3, 0}), 12u);
  Position d = FromCodePoints(text, 2, 3);  // 1-based column 3 of line 2 is "d"
  EXPECT_EQ(d.line, 1u);
  EXPECT_EQ(d.character, 2u);
  Position f = PositionOf(text, 10);
  EXPECT_EQ(f.line, 2u);
  EXPECT_EQ(f.character, 1u);
  Position cr = PositionOf(text, 3);  // just past the lone "\r"
  EXPECT_EQ(cr.line, 1u);
  EXPECT_EQ(cr.character, 0u);
  Position mid = PositionOf(text, 8);  // between the "\r" and the "\n" of one terminator
  EXPECT_EQ(mid.line, 1u);
  EXPECT_EQ(mid.character, 4u);
}

TEST(Document, CodePointsToUtf16) {
  std::string text =
      "x\na\xF0\x9F\x98\x80"
      "bc\n";
  Position p = FromCodePoints(text, 2, 4);  // 1-based column 4 is "c"
  EXPECT_EQ(p.line, 1u);
  EXPECT_EQ(p.character, 4u);
  Position q = PositionOf(text, 8);
  EXPECT_EQ(q.line, 1u);
  EXPECT_EQ(q.character, 4u);
}

TEST(Document, ApplyEditAndUris) {
  std::string text = "hello\nworld\n";
  ApplyEdit(text, {1, 0}, {1, 5}, "there");
  EXPECT_EQ(text, "hello\nthere\n");
  ApplyEdit(text, {0, 5}, {1, 0}, " ");
  EXPECT_EQ(text, "hello there\n");
  ApplyEdit(text, {0, 9}, {0, 2}, "");  // reversed range: nothing removed
  EXPECT_EQ(text, "hello there\n");
  EXPECT_EQ(PathFromUri("file:///tmp/a%20b/app.py"), "/tmp/a b/app.py");
  EXPECT_EQ(PathFromUri("file:///x%2"), "/x%2");
  EXPECT_EQ(PathFromUri("untitled:Untitled-1"), "untitled:Untitled-1");
}

// Every method with every kind of wrong params, plus random bytes: answered, never thrown.
TEST(Server, SurvivesHostileMessages) {
  Server server(ServerOptions{});
  server.Handle(R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{}})");
  const char* methods[] = {"textDocument/didOpen",
                           "textDocument/didChange",
                           "textDocument/didClose",
                           "textDocument/hover",
                           "textDocument/completion",
                           "textDocument/codeAction",
                           "workspace/didChangeConfiguration",
                           "initialize"};
  const char* params[] = {
      "null",
      "1",
      "\"s\"",
      "[]",
      "{}",
      R"({"textDocument":{}})",
      R"({"textDocument":{"uri":"file:///a.py","text":7}})",
      R"({"textDocument":{"uri":"file:///a.py","version":1,"text":"@workload(\"x\", \"},"position":{"line":0,"character":4294967295},"range":{"start":{"line":0,"character":0},"end":{"line":-1,"character":0}},"contentChanges":[{"range":{"start":{"line":9,"character":9},"end":{"line":0,"character":0}},"text":"y"}]})",
      R"({"settings":{"mvm":{"profile":3,"policy":[]}}})"};
  int id = 1;
  for (const char* method : methods) {
    for (const char* p : params) {
      for (bool request : {false, true}) {
        std::string body = std::string(R"({"jsonrpc":"2.0",)") +
                           (request ? "\"id\":" + std::to_string(id++) + "," : "") +
                           "\"method\":\"" + method + "\",\"params\":" + p + "}";
        EXPECT_NO_THROW(server.Handle(body)) << body;
      }
    }
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 500; ++i) {
    std::string junk(rng() % 64, '\0');
    for (char& c : junk) {
      c = static_cast<char>(rng());
    }
    auto replies = server.Handle(junk);
    EXPECT_EQ(replies.size(), 1u);
  }
  EXPECT_FALSE(server.exited());
}

}  // namespace
}  // namespace mvm::lsp
