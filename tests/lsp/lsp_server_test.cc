// Drives the real `mvmctl lsp` through a scripted client: framing, lifecycle, diagnostics,
// configuration, hover, completion and quick fixes.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include "tests/lsp/lsp_client.h"
#include "tests/support/command.h"
#include "tests/support/files.h"
#include "tests/support/temp_dir.h"

namespace mvm::lsp::testing {
namespace {

using nlohmann::json;

constexpr const char* kUri = "file:///project/app.py";

// Line 3 (0-based), `timeout_secs` at characters 49..61: an unknown option with a suggestion.
constexpr const char* kBadPython =
    "from mvm import workload\n"
    "\n"
    "\n"
    "@workload(\"hello\", image=\"template:python-3.11\", timeout_secs=30)\n"
    "def hello():\n"
    "    print(\"hi\")\n";

constexpr const char* kNoTimeoutPython =
    "from mvm import workload\n"
    "\n"
    "\n"
    "@workload(\"hello\", image=\"template:python-3.11\")\n"
    "def hello():\n"
    "    print(\"hi\")\n";

json Pos(int line, int character) { return {{"line", line}, {"character", character}}; }
json Range(int l0, int c0, int l1, int c1) {
  return {{"start", Pos(l0, c0)}, {"end", Pos(l1, c1)}};
}

void Open(LspClient& client, const std::string& uri, const std::string& text,
          const std::string& language = "python", int version = 1) {
  client.Notify("textDocument/didOpen",
                {{"textDocument",
                  {{"uri", uri}, {"languageId", language}, {"version", version}, {"text", text}}}});
}

void Change(LspClient& client, const std::string& uri, int version, const json& range,
            const std::string& text) {
  client.Notify("textDocument/didChange",
                {{"textDocument", {{"uri", uri}, {"version", version}}},
                 {"contentChanges", json::array({{{"range", range}, {"text", text}}})}});
}

std::string Codes(const json& publish) {
  std::string codes;
  for (const json& d : publish["params"]["diagnostics"]) {
    codes += d["data"]["kind"].get<std::string>() + ";";
  }
  return codes;
}

TEST(LspServer, InitializeAdvertisesCapabilities) {
  LspClient client;
  json result = client.Initialize();
  const json& caps = result["capabilities"];
  EXPECT_EQ(caps["textDocumentSync"]["change"], 2);
  EXPECT_EQ(caps["hoverProvider"], true);
  EXPECT_FALSE(caps["completionProvider"]["triggerCharacters"].empty());
  EXPECT_EQ(caps["codeActionProvider"]["codeActionKinds"], json::array({"quickfix"}));

  int again = client.Request("initialize", {{"capabilities", json::object()}});
  auto refused = client.Response(again);
  ASSERT_TRUE(refused);
  EXPECT_EQ((*refused)["error"]["code"], -32600);
}

TEST(LspServer, RequestBeforeInitializeIsServerNotInitialized) {
  LspClient client;
  int id = client.Request("textDocument/hover",
                          {{"textDocument", {{"uri", kUri}}}, {"position", Pos(0, 0)}});
  auto response = client.Response(id);
  ASSERT_TRUE(response);
  EXPECT_EQ((*response)["error"]["code"], -32002);
}

TEST(LspServer, MalformedInputIsAnsweredAndTheServerKeepsRunning) {
  LspClient client;
  client.Initialize();
  std::string junk = "{\"jsonrpc\": \"2.0\", \"id\": 7, \"method\": ";
  client.SendRaw("Content-Length: " + std::to_string(junk.size()) + "\r\n\r\n" + junk);
  auto parse_error = client.Next();
  ASSERT_TRUE(parse_error);
  EXPECT_EQ((*parse_error)["error"]["code"], -32700);
  EXPECT_TRUE((*parse_error)["id"].is_null());

  client.SendRaw("Content-Length: twelve\r\n\r\n");
  auto header_error = client.Next();
  ASSERT_TRUE(header_error);
  EXPECT_EQ((*header_error)["error"]["code"], -32700);

  client.Send(json::array({1, 2}));
  auto invalid = client.Next();
  ASSERT_TRUE(invalid);
  EXPECT_EQ((*invalid)["error"]["code"], -32600);

  client.Notify("$/cancelRequest", {{"id", 1}});
  client.Notify("mvm/somethingNew", {{"x", 1}});
  int id = client.Request("workspace/frobnicate", json::object());
  auto unknown = client.Next();
  ASSERT_TRUE(unknown);
  EXPECT_EQ((*unknown)["id"], id);
  EXPECT_EQ((*unknown)["error"]["code"], -32601);

  // Bad params on a known request: an error response, not a crash.
  int hover = client.Request("textDocument/hover", {{"textDocument", 3}});
  auto bad_params = client.Response(hover);
  ASSERT_TRUE(bad_params);
  EXPECT_EQ((*bad_params)["error"]["code"], -32602);

  int shutdown = client.Request("shutdown", nullptr);
  ASSERT_TRUE(client.Response(shutdown));
  client.Notify("exit", nullptr);
  EXPECT_EQ(client.Wait(), 0);
}

TEST(LspServer, DiagnosticsFollowIncrementalEdits) {
  LspClient client;
  client.Initialize();
  Open(client, kUri, kBadPython);
  auto first = client.Diagnostics(kUri);
  ASSERT_TRUE(first);
  ASSERT_EQ(Codes(*first), "unknown-option;");
  const json& d = (*first)["params"]["diagnostics"][0];
  EXPECT_EQ(d["range"], Range(3, 49, 3, 61));
  EXPECT_EQ(d["severity"], 1);
  EXPECT_EQ(d["code"], "MVM1002");
  EXPECT_EQ(d["source"], "mvm");
  EXPECT_NE(d["message"].get<std::string>().find("did you mean `timeout_seconds`"),
            std::string::npos);

  // Two incremental inserts turn `timeout_secs` into `timeout_seconds`.
  Change(client, kUri, 2, Range(3, 60, 3, 60), "o");
  auto second = client.Diagnostics(kUri);
  ASSERT_TRUE(second);
  EXPECT_EQ(Codes(*second), "unknown-option;");
  Change(client, kUri, 3, Range(3, 61, 3, 61), "nd");
  auto fixed = client.Diagnostics(kUri);
  ASSERT_TRUE(fixed);
  EXPECT_EQ((*fixed)["params"]["version"], 3);
  EXPECT_EQ(Codes(*fixed), "") << fixed->dump();

  // An older version arrives late: it is dropped and the newer text stays.
  Change(client, kUri, 2, Range(3, 49, 3, 49), "zzz");
  auto late = client.Diagnostics(kUri);
  ASSERT_TRUE(late);
  EXPECT_EQ((*late)["params"]["version"], 3);
  EXPECT_EQ(Codes(*late), "");

  client.Notify("textDocument/didClose", {{"textDocument", {{"uri", kUri}}}});
  auto closed = client.Diagnostics(kUri);
  ASSERT_TRUE(closed);
  EXPECT_TRUE((*closed)["params"]["diagnostics"].empty());
}

TEST(LspServer, Utf16PositionsAreMappedFromCodePoints) {
  LspClient client;
  client.Initialize();
  // The emoji is one code point but two UTF-16 code units, so the option moves one unit right.
  std::string text = kBadPython;
  text.replace(text.find("\"hello\""), 7, "\"hello\", labels={\"e\": \"\xF0\x9F\x98\x80\"}");
  Open(client, kUri, text);
  auto published = client.Diagnostics(kUri);
  ASSERT_TRUE(published);
  ASSERT_EQ(Codes(*published), "unknown-option;");
  size_t byte_col = text.find("timeout_secs") - text.rfind('\n', text.find("timeout_secs")) - 1;
  // UTF-8: 4 bytes for the emoji, 2 UTF-16 units.
  EXPECT_EQ((*published)["params"]["diagnostics"][0]["range"]["start"]["character"], byte_col - 2);
}

/// A file as it is on disk (`bytes`) and as an editor sends it (`text`, decoded by the editor).
struct OnDiskAndInEditor {
  std::string name;
  std::string bytes;
  std::string text;
};

/// The diagnostics `mvmctl check` reports on `file`, as "kind@line:character-line:character" with
/// LSP's 0-based lines and UTF-16 characters (every character here is in the BMP, so a code-point
/// column is one more than the UTF-16 offset).
std::string CheckedOnDisk(const std::filesystem::path& file) {
  mvm::testing::CommandResult run =
      mvm::testing::RunMvmctl({"check", "--format", "json", file.string()});
  EXPECT_EQ(run.status, 1) << run.Describe();
  json printed = json::parse(run.out);
  std::string out;
  for (const json& d : printed["diagnostics"]) {
    out += d["kind"].get<std::string>() + "@" + std::to_string(d["line"].get<int>() - 1) + ":" +
           std::to_string(d["column"].get<int>() - 1) + "-" +
           std::to_string(d["end_line"].get<int>() - 1) + ":" +
           std::to_string(d["end_column"].get<int>() - 1) + ";";
  }
  return out;
}

std::string Published(const json& publish) {
  std::string out;
  for (const json& d : publish["params"]["diagnostics"]) {
    const json& r = d["range"];
    out += d["data"]["kind"].get<std::string>() + "@" +
           std::to_string(r["start"]["line"].get<int>()) + ":" +
           std::to_string(r["start"]["character"].get<int>()) + "-" +
           std::to_string(r["end"]["line"].get<int>()) + ":" +
           std::to_string(r["end"]["character"].get<int>()) + ";";
  }
  return out;
}

// `check` decodes a PEP 263 file to UTF-8 and reads its CRLF and lone-CR line endings as Python
// does (frontend::DecodeSource). An editor sends the server the same file already decoded, so the
// server must not decode it again, but must still read its line endings as `check` does and count
// lines as LSP does: the same diagnostics at the same places.
TEST(LspServer, EditorTextOfAPep263FileGetsWhatCheckReportsOnTheFile) {
  auto file = [](const std::string& eol, const std::string& e_acute) {
    return "# -*- coding: latin-1 -*-" + eol + "from mvm import workload" + eol + eol +
           "NAME = \"caf" + e_acute + "\"" + eol + eol + "@workload(\"x-" + e_acute +
           "\", image=\"template:python-3.11\", timeout_secs=30, cpu=-1)" + eol +
           "def hello():" + eol + "    print(\"h" + e_acute + "\")" + eol;
  };
  std::vector<OnDiskAndInEditor> cases;
  for (auto [name, eol] : std::vector<std::pair<std::string, std::string>>{
           {"lf", "\n"}, {"crlf", "\r\n"}, {"cr", "\r"}}) {
    // The same text in latin-1 on disk (é is one byte, 0xE9) and in UTF-8 from the editor.
    cases.push_back({name, file(eol, "\xE9"), file(eol, "\xC3\xA9")});
  }
  mvm::testing::TempDir dir;
  for (const OnDiskAndInEditor& c : cases) {
    SCOPED_TRACE(c.name);
    std::filesystem::path path = dir.path() / (c.name + ".py");
    mvm::testing::WriteFile(path, c.bytes);
    std::string expected = CheckedOnDisk(path);
    // Not vacuous: check found the three mistakes (an invalid id, an unknown option, a cpu out of
    // range), one of them right of an é.
    ASSERT_EQ(std::count(expected.begin(), expected.end(), ';'), 3) << expected;

    LspClient client;
    client.Initialize();
    std::string uri = "file://" + path.string();
    Open(client, uri, c.text);
    auto published = client.Diagnostics(uri);
    ASSERT_TRUE(published);
    EXPECT_EQ(Published(*published), expected);

    // An edit by LSP position lands where the editor means it, whatever ends the lines: `cpu=-1`
    // becomes `cpu=1`, and only its diagnostic goes.
    const std::string cpu = "out-of-range@5:68-5:70;";
    ASSERT_NE(expected.find(cpu), std::string::npos) << expected;
    Change(client, uri, 2, Range(5, 68, 5, 70), "1");
    auto edited = client.Diagnostics(uri);
    ASSERT_TRUE(edited);
    std::string rest = expected;
    rest.erase(rest.find(cpu), cpu.size());
    EXPECT_EQ(Published(*edited), rest);
  }
}

TEST(LspServer, SecretsStayMasked) {
  LspClient client;
  client.Initialize();
  std::string text = kNoTimeoutPython;
  text.replace(text.find("\"hello\""), 7,
               "\"hello\", secrets={\"API_KEY\": \"sk-live-0123456789abcdef\"}");
  Open(client, kUri, text);
  auto published = client.Diagnostics(kUri);
  ASSERT_TRUE(published);
  EXPECT_NE(Codes(*published).find("plaintext-secret"), std::string::npos) << published->dump();
  EXPECT_EQ(published->dump().find("sk-live"), std::string::npos) << published->dump();
}

TEST(LspServer, DuplicateIdsAcrossOpenDocuments) {
  LspClient client;
  client.Initialize();
  Open(client, "file:///project/a.py", kNoTimeoutPython);
  ASSERT_TRUE(client.Diagnostics("file:///project/a.py"));
  Open(client, "file:///project/b.py", kNoTimeoutPython);
  auto second = client.Diagnostics("file:///project/b.py");
  ASSERT_TRUE(second);
  EXPECT_EQ(Codes(*second), "duplicate-workload-id;");
  client.Notify("textDocument/didClose", {{"textDocument", {{"uri", "file:///project/a.py"}}}});
  auto cleared = client.Diagnostics("file:///project/b.py");
  ASSERT_TRUE(cleared);
  EXPECT_EQ(Codes(*cleared), "");
}

TEST(LspServer, HoverExplainsAnOption) {
  LspClient client;
  client.Initialize();
  Open(client, kUri, kNoTimeoutPython);
  ASSERT_TRUE(client.Diagnostics(kUri));
  // On `image` of line 3.
  int id = client.Request("textDocument/hover",
                          {{"textDocument", {{"uri", kUri}}}, {"position", Pos(3, 21)}});
  auto hover = client.Response(id);
  ASSERT_TRUE(hover);
  std::string text = (*hover)["result"]["contents"]["value"];
  EXPECT_NE(text.find("**image**"), std::string::npos) << text;
  EXPECT_NE(text.find("root filesystem"), std::string::npos) << text;
  EXPECT_NE(text.find("production profile"), std::string::npos) << text;
  EXPECT_EQ((*hover)["result"]["range"], Range(3, 19, 3, 24));

  // Inside a string literal there is nothing to explain.
  int in_string = client.Request("textDocument/hover",
                                 {{"textDocument", {{"uri", kUri}}}, {"position", Pos(3, 12)}});
  auto none = client.Response(in_string);
  ASSERT_TRUE(none);
  EXPECT_TRUE((*none)["result"].is_null());
}

TEST(LspServer, HoverShowsRangeAndDefaultInTypeScript) {
  LspClient client;
  client.Initialize();
  const std::string uri = "file:///project/tool.ts";
  Open(client, uri,
       "import { workload } from \"@mvm/sdk\";\n"
       "@workload(\"tool\", {\n"
       "  memoryMb: 1024,\n"
       "})\n"
       "export class Tool {}\n",
       "typescript");
  ASSERT_TRUE(client.Diagnostics(uri));
  int id = client.Request("textDocument/hover",
                          {{"textDocument", {{"uri", uri}}}, {"position", Pos(2, 4)}});
  auto hover = client.Response(id);
  ASSERT_TRUE(hover);
  std::string text = (*hover)["result"]["contents"]["value"];
  EXPECT_NE(text.find("**memoryMb**"), std::string::npos) << text;
  EXPECT_NE(text.find("64 to 262144"), std::string::npos) << text;
  EXPECT_NE(text.find("default: 512"), std::string::npos) << text;
}

TEST(LspServer, CompletesOptionNames) {
  LspClient client;
  client.Initialize();
  std::string text =
      "from mvm import workload\n\n\n@workload(\"hello\", )\ndef hello():\n    pass\n";
  Open(client, kUri, text);
  ASSERT_TRUE(client.Diagnostics(kUri));
  int id = client.Request("textDocument/completion",
                          {{"textDocument", {{"uri", kUri}}}, {"position", Pos(3, 19)}});
  auto response = client.Response(id);
  ASSERT_TRUE(response);
  std::string labels;
  for (const json& item : (*response)["result"]) {
    labels += item["label"].get<std::string>() + " ";
  }
  EXPECT_NE(labels.find("timeout_seconds "), std::string::npos) << labels;
  EXPECT_NE(labels.find("memory_mb "), std::string::npos) << labels;
  EXPECT_EQ(labels.find("memoryMb"), std::string::npos) << labels;

  // Outside the decorator: nothing.
  int outside = client.Request("textDocument/completion",
                               {{"textDocument", {{"uri", kUri}}}, {"position", Pos(5, 4)}});
  auto empty = client.Response(outside);
  ASSERT_TRUE(empty);
  EXPECT_TRUE((*empty)["result"].empty());
}

TEST(LspServer, QuickFixRenamesAnUnknownOption) {
  LspClient client;
  client.Initialize();
  Open(client, kUri, kBadPython);
  ASSERT_TRUE(client.Diagnostics(kUri));
  int id =
      client.Request("textDocument/codeAction", {{"textDocument", {{"uri", kUri}}},
                                                 {"range", Range(3, 50, 3, 50)},
                                                 {"context", {{"diagnostics", json::array()}}}});
  auto response = client.Response(id);
  ASSERT_TRUE(response);
  ASSERT_EQ((*response)["result"].size(), 1u) << response->dump();
  const json& action = (*response)["result"][0];
  EXPECT_EQ(action["kind"], "quickfix");
  const json& edit = action["edit"]["changes"][kUri][0];
  EXPECT_EQ(edit["newText"], "timeout_seconds");
  EXPECT_EQ(edit["range"], Range(3, 49, 3, 61));
}

TEST(LspServer, ProductionProfileAddsMissingTimeoutWithAQuickFix) {
  LspClient client;
  client.Initialize();
  Open(client, kUri, kNoTimeoutPython);
  auto dev = client.Diagnostics(kUri);
  ASSERT_TRUE(dev);
  EXPECT_EQ(Codes(*dev), "");
  client.Notify("workspace/didChangeConfiguration",
                {{"settings", {{"mvm", {{"profile", "production"}}}}}});
  auto production = client.Diagnostics(kUri);
  ASSERT_TRUE(production);
  EXPECT_EQ(Codes(*production), "missing-timeout;");

  int id =
      client.Request("textDocument/codeAction", {{"textDocument", {{"uri", kUri}}},
                                                 {"range", Range(3, 0, 3, 0)},
                                                 {"context", {{"diagnostics", json::array()}}}});
  auto response = client.Response(id);
  ASSERT_TRUE(response);
  ASSERT_EQ((*response)["result"].size(), 1u) << response->dump();
  const json& edit = (*response)["result"][0]["edit"]["changes"][kUri][0];
  EXPECT_EQ(edit["newText"], ", timeout_seconds=300");
  EXPECT_EQ(edit["range"], Range(3, 47, 3, 47));

  // Applying the fix clears the diagnostic.
  Change(client, kUri, 2, edit["range"], edit["newText"]);
  auto fixed = client.Diagnostics(kUri);
  ASSERT_TRUE(fixed);
  EXPECT_EQ(Codes(*fixed), "");
}

TEST(LspServer, TypeScriptMissingTimeoutFixInsertsIntoTheOptionsObject) {
  LspClient client;
  client.Initialize({{"mvm", {{"profile", "production"}}}});
  const std::string uri = "file:///project/tool.ts";
  Open(client, uri,
       "import { workload, entrypoint } from \"@mvm/sdk\";\n"
       "@workload(\"tool\", {\n"
       "  image: \"template:python-3.11\",\n"
       "})\n"
       "export class Tool {\n"
       "  @entrypoint({ command: [\"python\", \"/app/main.py\"] })\n"
       "  run() {}\n"
       "}\n",
       "typescript");
  auto published = client.Diagnostics(uri);
  ASSERT_TRUE(published);
  EXPECT_EQ(Codes(*published), "missing-timeout;");
  int id =
      client.Request("textDocument/codeAction", {{"textDocument", {{"uri", uri}}},
                                                 {"range", Range(1, 0, 1, 0)},
                                                 {"context", {{"diagnostics", json::array()}}}});
  auto response = client.Response(id);
  ASSERT_TRUE(response);
  ASSERT_EQ((*response)["result"].size(), 1u) << response->dump();
  const json& edit = (*response)["result"][0]["edit"]["changes"][uri][0];
  EXPECT_EQ(edit["newText"], "timeoutSeconds: 300, ");
  EXPECT_EQ(edit["range"], Range(1, 19, 1, 19));
}

/// The text after applying `edits` (LSP TextEdits on single lines of `text`, not overlapping).
std::string ApplyTextEdits(std::string text, json edits) {
  std::vector<json> sorted(edits.begin(), edits.end());
  std::sort(sorted.begin(), sorted.end(), [](const json& a, const json& b) {
    return std::tuple(a["range"]["start"]["line"].get<int>(),
                      a["range"]["start"]["character"].get<int>()) >
           std::tuple(b["range"]["start"]["line"].get<int>(),
                      b["range"]["start"]["character"].get<int>());
  });
  for (const json& e : sorted) {
    auto offset = [&](const json& p) {
      size_t at = 0;
      for (int line = 0; line < p["line"].get<int>(); ++line) {
        at = text.find('\n', at) + 1;
      }
      return at + p["character"].get<size_t>();  // ASCII-only texts in these tests
    };
    size_t begin = offset(e["range"]["start"]);
    size_t end = offset(e["range"]["end"]);
    text.replace(begin, end - begin, e["newText"].get<std::string>());
  }
  return text;
}

/// Asks for the code actions on `line` and returns the one of kind `kind` (fails when absent).
json QuickFixFor(LspClient& client, const std::string& uri, int line, const std::string& kind) {
  int id =
      client.Request("textDocument/codeAction", {{"textDocument", {{"uri", uri}}},
                                                 {"range", Range(line, 0, line, 200)},
                                                 {"context", {{"diagnostics", json::array()}}}});
  auto response = client.Response(id);
  EXPECT_TRUE(response);
  for (const json& action : (*response)["result"]) {
    if (action["diagnostics"][0]["data"]["kind"] == kind) {
      return action;
    }
  }
  ADD_FAILURE() << "no quick fix for " << kind << " in " << response->dump();
  return json::object();
}

TEST(LspServer, QuickFixTurnsAPlaintextSecretIntoASecretRef) {
  LspClient client;
  client.Initialize();
  std::string text = kNoTimeoutPython;
  text.replace(text.find("\"hello\""), 7,
               "\"hello\", secrets={\"OPENAI_API_KEY\": \"sk-live-0123456789abcdef\"}");
  Open(client, kUri, text);
  auto published = client.Diagnostics(kUri);
  ASSERT_TRUE(published);
  EXPECT_EQ(Codes(*published), "plaintext-secret;");
  json action = QuickFixFor(client, kUri, 3, "plaintext-secret");
  ASSERT_TRUE(action.contains("edit"));
  EXPECT_EQ(action.dump().find("sk-live"), std::string::npos) << "the fix must not echo the secret";
  const json& edits = action["edit"]["changes"][kUri];
  ASSERT_EQ(edits.size(), 2u) << edits.dump();
  std::string fixed = ApplyTextEdits(text, edits);
  EXPECT_NE(fixed.find("from mvm import workload, SecretRef\n"), std::string::npos) << fixed;
  EXPECT_NE(fixed.find("{\"OPENAI_API_KEY\": SecretRef(\"openai-api-key\", hosts=[])}"),
            std::string::npos)
      << fixed;
  client.Notify("textDocument/didChange", {{"textDocument", {{"uri", kUri}, {"version", 2}}},
                                           {"contentChanges", json::array({{{"text", fixed}}})}});
  auto after = client.Diagnostics(kUri);
  ASSERT_TRUE(after);
  EXPECT_EQ(Codes(*after), "") << after->dump();
}

TEST(LspServer, TypeScriptSecretRefFixUsesTheSdkImport) {
  LspClient client;
  client.Initialize();
  const std::string uri = "file:///project/tool.ts";
  std::string text =
      "import { workload, entrypoint } from \"@mvm/sdk\";\n"
      "@workload(\"tool\", { image: \"template:python-3.11\", secrets: { API_KEY: \"sk-1\" } })\n"
      "export class Tool {\n"
      "  @entrypoint({ command: [\"python\", \"/app/main.py\"] })\n"
      "  run() {}\n"
      "}\n";
  Open(client, uri, text, "typescript");
  auto published = client.Diagnostics(uri);
  ASSERT_TRUE(published);
  EXPECT_EQ(Codes(*published), "plaintext-secret;");
  json action = QuickFixFor(client, uri, 1, "plaintext-secret");
  std::string fixed = ApplyTextEdits(text, action["edit"]["changes"][uri]);
  EXPECT_NE(fixed.find("import { SecretRef, workload, entrypoint }"), std::string::npos) << fixed;
  EXPECT_NE(fixed.find("API_KEY: SecretRef(\"api-key\", { hosts: [] })"), std::string::npos)
      << fixed;
  client.Notify("textDocument/didChange", {{"textDocument", {{"uri", uri}, {"version", 2}}},
                                           {"contentChanges", json::array({{{"text", fixed}}})}});
  auto after = client.Diagnostics(uri);
  ASSERT_TRUE(after);
  EXPECT_EQ(Codes(*after), "") << after->dump();
}

TEST(LspServer, DuplicateIdPointsAtTheOtherDeclaration) {
  LspClient client;
  client.Initialize();
  Open(client, "file:///project/a.py", kNoTimeoutPython);
  ASSERT_TRUE(client.Diagnostics("file:///project/a.py"));
  Open(client, "file:///project/b.py", std::string("\n\n") + kNoTimeoutPython);
  auto second = client.Diagnostics("file:///project/b.py");
  ASSERT_TRUE(second);
  ASSERT_EQ(Codes(*second), "duplicate-workload-id;");
  const json& d = (*second)["params"]["diagnostics"][0];
  EXPECT_EQ(d["range"]["start"]["line"], 5);
  ASSERT_EQ(d["relatedInformation"].size(), 1u) << d.dump();
  const json& related = d["relatedInformation"][0];
  EXPECT_EQ(related["message"], "first declared here");
  EXPECT_EQ(related["location"]["uri"], "file:///project/a.py");
  EXPECT_EQ(related["location"]["range"]["start"], Pos(3, 10));
}

std::string Frame(const json& message) {
  std::string body = message.dump();
  return "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

TEST(LspServer, CancelledRequestIsAnsweredRequestCancelled) {
  LspClient client;
  client.Initialize();
  Open(client, kUri, kBadPython);
  ASSERT_TRUE(client.Diagnostics(kUri));
  json hover = {{"textDocument", {{"uri", kUri}}}, {"position", Pos(3, 21)}};  // on `image`
  // One write, so the cancel is queued before the server gets to the request it cancels.
  client.SendRaw(
      Frame(
          {{"jsonrpc", "2.0"}, {"id", 1000}, {"method", "textDocument/hover"}, {"params", hover}}) +
      Frame({{"jsonrpc", "2.0"}, {"method", "$/cancelRequest"}, {"params", {{"id", 1000}}}}) +
      Frame(
          {{"jsonrpc", "2.0"}, {"id", 1001}, {"method", "textDocument/hover"}, {"params", hover}}));
  auto cancelled = client.Response(1000);
  ASSERT_TRUE(cancelled);
  EXPECT_EQ((*cancelled)["error"]["code"], -32800) << cancelled->dump();
  auto answered = client.Response(1001);
  ASSERT_TRUE(answered);
  EXPECT_TRUE((*answered)["result"].contains("contents")) << answered->dump();

  // Cancelling a request that was already answered changes nothing, not even a later one with
  // the same id.
  int id = client.Request("textDocument/hover", hover);
  ASSERT_TRUE(client.Response(id));
  client.Notify("$/cancelRequest", {{"id", id}});
  client.SendRaw(
      Frame({{"jsonrpc", "2.0"}, {"id", id}, {"method", "textDocument/hover"}, {"params", hover}}));
  auto again = client.Response(id);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->contains("error")) << again->dump();
}

TEST(LspServer, ExitWithoutShutdownIsOne) {
  LspClient client;
  client.Initialize();
  client.Notify("exit", nullptr);
  EXPECT_EQ(client.Wait(), 1);
}

TEST(LspServer, TruncatedInputEndsTheServerCleanly) {
  LspClient client;
  client.Initialize();
  client.SendRaw("Content-Length: 100\r\n\r\n{\"jsonrpc\"");
  client.CloseInput();
  EXPECT_EQ(client.Wait(), 1);
}

}  // namespace
}  // namespace mvm::lsp::testing
