#include "ir/support/diagnostic_render.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mvm {
namespace {

/// The location of the first occurrence of `needle` in `file`.
SourceLoc Find(const SourceFile& file, std::string_view needle) {
  size_t at = file.contents().find(needle);
  EXPECT_NE(at, std::string_view::npos) << needle;
  return file.Loc(static_cast<uint32_t>(at), static_cast<uint32_t>(at + needle.size()));
}

SourceLookup LookupOf(const SourceFile& file) {
  return [&file](std::string_view path) { return path == file.path() ? &file : nullptr; };
}

Diagnostic UnknownOption(SourceLoc loc) {
  Diagnostic d =
      MakeDiagnostic<DiagnosticKind::kUnknownOption>(std::move(loc), "memry", "workload");
  d.hint = "did you mean `memory_mb`?";
  return d;
}

TEST(RenderHumanTest, LocationSourceCaretHint) {
  SourceFile f("w.py", "import mvm\n@mvm.workload(memry=256)\ndef f(): pass\n");
  std::vector<Diagnostic> diags = {UnknownOption(Find(f, "memry"))};
  EXPECT_EQ(RenderHuman(diags, LookupOf(f)),
            "w.py:2:15: error: unknown option `memry` for `workload` [unknown-option]\n"
            "@mvm.workload(memry=256)\n"
            "              ^~~~~\n"
            "  hint: did you mean `memory_mb`?\n"
            "1 error generated.\n");
}

TEST(RenderHumanTest, MultiByteCharactersCountOneColumn) {
  SourceFile f("é.py", "s = \"héllo wörld\" + bad\n");
  std::vector<Diagnostic> diags = {
      MakeDiagnostic<DiagnosticKind::kNonStatic>(Find(f, "bad"), "`bad`")};
  EXPECT_EQ(RenderHuman(diags, LookupOf(f)),
            "é.py:1:21: error: `bad` is not a static value [non-static]\n"
            "s = \"héllo wörld\" + bad\n"
            "                    ^~~\n"
            "  hint: use a literal, a module-level constant assigned once, or an mvm helper call\n"
            "1 error generated.\n");
}

TEST(RenderHumanTest, TabsExpandTheSameWayInSourceAndCaret) {
  SourceFile f("t.py", "\tx =\tbad\n");
  Diagnostic on_word = MakeDiagnostic<DiagnosticKind::kSyntaxError>(Find(f, "bad"), "oops");
  Diagnostic over_tab = MakeDiagnostic<DiagnosticKind::kSyntaxError>(Find(f, "\tbad"), "oops");
  on_word.hint.clear();
  over_tab.hint.clear();
  std::vector<Diagnostic> diags = {on_word, over_tab};
  EXPECT_EQ(RenderHuman(diags, LookupOf(f)),
            "t.py:1:6: error: oops [syntax-error]\n"
            "    x = bad\n"
            "        ^~~\n"
            "t.py:1:5: error: oops [syntax-error]\n"
            "    x = bad\n"
            "       ^~~~\n"
            "2 errors generated.\n");
}

TEST(RenderHumanTest, RangePastLineEndAndEmptyRange) {
  SourceFile f("m.py", "x = \"\"\"a\nb\"\"\"\ny = 1\n");
  Diagnostic multi_line =
      MakeDiagnostic<DiagnosticKind::kSyntaxError>(Find(f, "\"\"\"a\nb\"\"\""), "m");
  Diagnostic empty = MakeDiagnostic<DiagnosticKind::kSyntaxError>(f.Loc(15, 15), "e");
  multi_line.hint.clear();
  empty.hint.clear();
  std::vector<Diagnostic> diags = {multi_line, empty};
  EXPECT_EQ(RenderHuman(diags, LookupOf(f)),
            "m.py:1:5: error: m [syntax-error]\n"
            "x = \"\"\"a\n"
            "    ^~~~\n"
            "m.py:3:2: error: e [syntax-error]\n"
            "y = 1\n"
            " ^\n"
            "2 errors generated.\n");
}

TEST(RenderHumanTest, RedactionMasksTheRangeAndShiftsLaterCarets) {
  SourceFile f("s.py", "x = f(secret=\"sk-live-123\", name=1)\n");
  Diagnostic d =
      MakeDiagnostic<DiagnosticKind::kPlaintextSecret>(Find(f, "\"sk-live-123\""), "secret");
  d.redact = true;
  d.notes.push_back({Find(f, "name"), "declared here"});
  std::vector<Diagnostic> diags = {d};
  std::string out = RenderHuman(diags, LookupOf(f));
  EXPECT_EQ(out,
            "s.py:1:14: error: secret `secret` is a plaintext string; secrets must be `SecretRef` "
            "references [plaintext-secret]\n"
            "x = f(secret=\"****\", name=1)\n"
            "             ^~~~~~\n"
            "  hint: store the value in a secret store and reference it by name: "
            "`SecretRef(\"name\", hosts=[...])`\n"
            "s.py:1:29: note: declared here\n"
            "x = f(secret=\"****\", name=1)\n"
            "                     ^~~~\n"
            "1 error generated.\n");
  EXPECT_EQ(out.find("sk-live"), std::string::npos);
}

TEST(RenderHumanTest, RedactionOfAMultiLineLiteralHidesEveryShownLine) {
  SourceFile f("s.py", "k = \"\"\"sk-\nlive-123\"\"\"  # key\n");
  Diagnostic d =
      MakeDiagnostic<DiagnosticKind::kPlaintextSecret>(Find(f, "\"\"\"sk-\nlive-123\"\"\""), "k");
  d.hint.clear();
  d.redact = true;
  d.notes.push_back({Find(f, "# key"), "here"});
  std::vector<Diagnostic> diags = {d};
  std::string out = RenderHuman(diags, LookupOf(f));
  EXPECT_EQ(out,
            "s.py:1:5: error: secret `k` is a plaintext string; secrets must be `SecretRef` "
            "references [plaintext-secret]\n"
            "k = \"****\"\n"
            "    ^~~~~~\n"
            "s.py:2:14: note: here\n"
            "\"****\"  # key\n"
            "        ^~~~~\n"
            "1 error generated.\n");
  EXPECT_EQ(out.find("sk-"), std::string::npos);
  EXPECT_EQ(out.find("live"), std::string::npos);
}

TEST(RenderHumanTest, NotesInOtherFilesAndNoSource) {
  SourceFile a("a.py", "@mvm.workload(id=\"x\")\n");
  SourceFile b("b.py", "@mvm.workload(id=\"x\")\n");
  Diagnostic d = MakeDiagnostic<DiagnosticKind::kDuplicateWorkloadId>(Find(b, "\"x\""), "x");
  d.notes.push_back({Find(a, "\"x\""), "first declared here"});
  d.notes.push_back({SourceLoc{}, "somewhere else"});
  std::vector<Diagnostic> diags = {d};
  SourceLookup lookup = [&](std::string_view path) -> const SourceFile* {
    return path == "a.py" ? &a : path == "b.py" ? &b : nullptr;
  };
  EXPECT_EQ(RenderHuman(diags, lookup),
            "b.py:1:18: error: workload id `x` is declared more than once [duplicate-workload-id]\n"
            "@mvm.workload(id=\"x\")\n"
            "                 ^~~\n"
            "  hint: ids must be unique across one `mvmctl` invocation; rename one of them\n"
            "a.py:1:18: note: first declared here\n"
            "@mvm.workload(id=\"x\")\n"
            "                 ^~~\n"
            "mvmctl: note: somewhere else\n"
            "1 error generated.\n");
  // Without the text, only the headers remain.
  EXPECT_EQ(RenderHuman(diags, nullptr),
            "b.py:1:18: error: workload id `x` is declared more than once [duplicate-workload-id]\n"
            "  hint: ids must be unique across one `mvmctl` invocation; rename one of them\n"
            "a.py:1:18: note: first declared here\n"
            "mvmctl: note: somewhere else\n"
            "1 error generated.\n");
}

TEST(RenderHumanTest, InvalidLocationUsesToolName) {
  std::vector<Diagnostic> diags = {MakeDiagnostic<DiagnosticKind::kInvalidIr>(SourceLoc{}, "bad")};
  EXPECT_EQ(RenderHuman(diags, nullptr),
            "mvmctl: error: invalid IR: bad [invalid-ir]\n1 error generated.\n");
}

TEST(RenderHumanTest, SummaryPluralisation) {
  auto with = [](std::vector<Severity> severities) {
    std::vector<Diagnostic> diags;
    for (Severity s : severities) {
      Diagnostic d = MakeDiagnostic<DiagnosticKind::kInvalidIr>(SourceLoc{}, "x");
      d.severity = s;
      diags.push_back(d);
    }
    std::string out = RenderHuman(diags, nullptr);
    size_t last = out.rfind('\n', out.size() - 2);
    return last == std::string::npos ? out : out.substr(last + 1);
  };
  EXPECT_EQ(RenderHuman({}, nullptr), "");
  EXPECT_EQ(with({Severity::kError}), "1 error generated.\n");
  EXPECT_EQ(with({Severity::kError, Severity::kError}), "2 errors generated.\n");
  EXPECT_EQ(with({Severity::kWarning}), "1 warning generated.\n");
  EXPECT_EQ(with({Severity::kWarning, Severity::kWarning}), "2 warnings generated.\n");
  EXPECT_EQ(with({Severity::kError, Severity::kWarning, Severity::kError}),
            "2 errors and 1 warning generated.\n");
  EXPECT_EQ(with({Severity::kError, Severity::kWarning, Severity::kWarning}),
            "1 error and 2 warnings generated.\n");
}

TEST(RenderHumanTest, ColorOnlyWhenAsked) {
  SourceFile f("w.py", "@mvm.workload(memry=256)\n");
  Diagnostic warning = UnknownOption(Find(f, "memry"));
  warning.severity = Severity::kWarning;
  warning.notes.push_back({Find(f, "256"), "n"});
  std::vector<Diagnostic> diags = {UnknownOption(Find(f, "memry")), warning};
  std::string plain = RenderHuman(diags, LookupOf(f));
  EXPECT_EQ(plain.find('\x1b'), std::string::npos);
  std::string colored = RenderHuman(diags, LookupOf(f), {.color = true});
  EXPECT_NE(colored.find("\x1b[1mw.py:1:15:\x1b[0m \x1b[1;31merror:\x1b[0m unknown option"),
            std::string::npos);
  EXPECT_NE(colored.find("\x1b[1;35mwarning:\x1b[0m"), std::string::npos);
  EXPECT_NE(colored.find("\x1b[1;36mnote:\x1b[0m"), std::string::npos);
  EXPECT_NE(colored.find("\x1b[1;32m              ^~~~~\x1b[0m\n"), std::string::npos);
}

TEST(RenderJsonTest, ExactOutput) {
  SourceFile f("w.py", "import mvm\n@mvm.workload(memry=256)\n");
  Diagnostic d = UnknownOption(Find(f, "memry"));
  d.notes.push_back({Find(f, "import"), "imported here"});
  Diagnostic no_loc = MakeDiagnostic<DiagnosticKind::kInvalidIr>(SourceLoc{}, "bad");
  std::vector<Diagnostic> diags = {d, no_loc};
  EXPECT_EQ(
      RenderJson(diags),
      R"({"diagnostics":[)"
      R"({"file":"w.py","line":2,"column":15,"end_line":2,"end_column":20,"severity":"error",)"
      R"("code":"MVM1002","kind":"unknown-option","message":"unknown option `memry` for `workload`",)"
      R"("hint":"did you mean `memory_mb`?"},)"
      R"({"file":"w.py","line":1,"column":1,"end_line":1,"end_column":7,"severity":"note",)"
      R"("code":"MVM1002","kind":"unknown-option","message":"imported here"},)"
      R"({"file":"","line":0,"column":0,"end_line":0,"end_column":0,"severity":"error",)"
      R"("code":"MVM4001","kind":"invalid-ir","message":"invalid IR: bad"}]})"
      "\n");
}

TEST(RenderJsonTest, EmptyAndInvalidUtf8) {
  EXPECT_EQ(RenderJson({}), "{\"diagnostics\":[]}\n");
  std::vector<Diagnostic> diags = {
      MakeDiagnostic<DiagnosticKind::kInvalidIr>(SourceLoc{}, std::string("\xff\xfe"))};
  std::string out = RenderJson(diags);
  EXPECT_NE(out.find("invalid IR: \xEF\xBF\xBD\xEF\xBF\xBD"), std::string::npos);
}

TEST(RenderSarifTest, LogHasRunToolRulesAndResults) {
  SourceFile f("dir/my file.py", "x = f(secret=\"sk-live-123\", name=1)\n");
  Diagnostic secret =
      MakeDiagnostic<DiagnosticKind::kPlaintextSecret>(Find(f, "\"sk-live-123\""), "secret");
  secret.redact = true;
  secret.notes.push_back({Find(f, "name"), "declared here"});
  Diagnostic no_loc = MakeDiagnostic<DiagnosticKind::kInvalidIr>(SourceLoc{}, "bad");
  no_loc.severity = Severity::kWarning;
  std::vector<Diagnostic> diags = {secret, no_loc};
  std::string text = RenderSarif(
      diags,
      SarifOptions{
          .tool_version = "1.2.3", .base_directory = "/home/a b", .failure = "", .exit_code = 0});
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(text.find("sk-live"), std::string::npos);

  nlohmann::json log = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(log.is_discarded());
  EXPECT_EQ(log["$schema"], "https://json.schemastore.org/sarif-2.1.0.json");
  EXPECT_EQ(log["version"], "2.1.0");
  ASSERT_EQ(log["runs"].size(), 1u);
  const nlohmann::json& run = log["runs"][0];
  const nlohmann::json& driver = run["tool"]["driver"];
  EXPECT_EQ(driver["name"], "mvmctl");
  EXPECT_EQ(driver["version"], "1.2.3");
  EXPECT_EQ(driver["informationUri"], "https://mvm.dev/docs/diagnostics");
  EXPECT_EQ(run["columnKind"], "unicodeCodePoints");

  auto kinds = AllDiagnosticKinds();
  ASSERT_EQ(driver["rules"].size(), kinds.size());
  for (size_t i = 0; i < kinds.size(); ++i) {
    const nlohmann::json& rule = driver["rules"][i];
    EXPECT_EQ(rule["id"], KindCode(kinds[i].kind));
    EXPECT_EQ(rule["name"], std::string(kinds[i].name));
    EXPECT_EQ(rule["shortDescription"]["text"], std::string(kinds[i].name));
    // GitHub shows a rule's fullDescription; a kind without one would show nothing.
    EXPECT_FALSE(kinds[i].description.empty()) << kinds[i].name;
    EXPECT_EQ(rule["fullDescription"]["text"], std::string(kinds[i].description));
    EXPECT_EQ(rule["defaultConfiguration"]["level"], std::string(SeverityName(kinds[i].severity)));
    EXPECT_EQ(rule.contains("help"), !kinds[i].hint.empty());
  }
  const nlohmann::json& host_rule =
      driver["rules"][static_cast<size_t>(DiagnosticKind::kSecretHostNotAllowed)];
  EXPECT_EQ(host_rule["help"]["text"].get<std::string>().find('{'), std::string::npos);

  ASSERT_EQ(run["results"].size(), 2u);
  const nlohmann::json& first = run["results"][0];
  EXPECT_EQ(first["ruleId"], "MVM1005");
  EXPECT_EQ(driver["rules"][first["ruleIndex"].get<size_t>()]["id"], "MVM1005");
  EXPECT_EQ(first["level"], "error");
  EXPECT_EQ(first["message"]["text"], secret.message + " (hint: " + secret.hint + ")");
  const nlohmann::json& physical = first["locations"][0]["physicalLocation"];
  EXPECT_EQ(physical["artifactLocation"]["uri"], "dir/my%20file.py");
  EXPECT_EQ(physical["artifactLocation"]["uriBaseId"], "SRCROOT");
  EXPECT_EQ(run["originalUriBaseIds"]["SRCROOT"]["uri"], "file:///home/a%20b/");
  EXPECT_EQ(run["invocations"], nlohmann::json::parse(R"([{"executionSuccessful":true}])"));
  EXPECT_EQ(
      physical["region"],
      nlohmann::json({{"startLine", 1}, {"startColumn", 14}, {"endLine", 1}, {"endColumn", 27}}));
  ASSERT_EQ(first["relatedLocations"].size(), 1u);
  EXPECT_EQ(first["relatedLocations"][0]["message"]["text"], "declared here");
  EXPECT_EQ(first["relatedLocations"][0]["physicalLocation"]["region"]["startColumn"], 29);

  const nlohmann::json& second = run["results"][1];
  EXPECT_EQ(second["ruleId"], "MVM4001");
  EXPECT_EQ(second["level"], "warning");
  EXPECT_EQ(second["message"]["text"], "invalid IR: bad");
  EXPECT_FALSE(second.contains("locations"));
}

TEST(RenderSarifTest, FileUris) {
  EXPECT_EQ(FileUri("/abs/dir/x.py"), "file:///abs/dir/x.py");
  EXPECT_EQ(FileUri("/a b/%/#?/é:x.py"), "file:///a%20b/%25/%23%3F/%C3%A9:x.py");
  // A relative reference whose first segment held `:` would read as a scheme.
  EXPECT_EQ(FileUri("c:x.py"), "c%3Ax.py");
  EXPECT_EQ(FileUri("../up/x.ts"), "../up/x.ts");
  EXPECT_EQ(FileUri("/work", /*directory=*/true), "file:///work/");
  EXPECT_EQ(FileUri("/", /*directory=*/true), "file:///");
}

TEST(RenderSarifTest, AbsolutePathsNeedNoBase) {
  SourceFile f("/abs/x.py", "x\n");
  std::vector<Diagnostic> diags = {
      MakeDiagnostic<DiagnosticKind::kSyntaxError>(Find(f, "x"), "bad")};
  nlohmann::json log = nlohmann::json::parse(
      RenderSarif(
          diags,
          SarifOptions{.tool_version = "0", .base_directory = "", .failure = "", .exit_code = 0}),
      nullptr, false);
  const nlohmann::json& artifact =
      log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"];
  EXPECT_EQ(artifact, nlohmann::json::parse(R"({"uri":"file:///abs/x.py"})"));
  EXPECT_FALSE(log["runs"][0].contains("originalUriBaseIds"));
}

TEST(RenderSarifTest, FailedInvocation) {
  nlohmann::json log = nlohmann::json::parse(RenderSarif({}, SarifOptions{.tool_version = "0",
                                                                          .base_directory = "",
                                                                          .failure = "cannot read",
                                                                          .exit_code = 3}),
                                             nullptr, false);
  EXPECT_EQ(log["runs"][0]["invocations"],
            nlohmann::json::parse(R"([{"executionSuccessful":false,"exitCode":3,
                "toolExecutionNotifications":[{"level":"error","message":{"text":"cannot read"}}]}])"));
  EXPECT_TRUE(log["runs"][0]["results"].empty());
}

TEST(RenderSarifTest, EmptyLogStillListsRules) {
  nlohmann::json log = nlohmann::json::parse(
      RenderSarif(
          {},
          SarifOptions{.tool_version = "0", .base_directory = "", .failure = "", .exit_code = 0}),
      nullptr, false);
  ASSERT_FALSE(log.is_discarded());
  EXPECT_TRUE(log["runs"][0]["results"].is_array());
  EXPECT_TRUE(log["runs"][0]["results"].empty());
  EXPECT_EQ(log["runs"][0]["tool"]["driver"]["rules"].size(), AllDiagnosticKinds().size());
}

}  // namespace
}  // namespace mvm

namespace mvm {
namespace {

TEST(RenderHumanRedactionTest, SecretIsMaskedUnderEveryDiagnosticOnItsLine) {
  SourceFile file("s.py", "f(k=\"sk-live-123\", cpu=0)\n");
  Diagnostic secret = MakeDiagnostic<DiagnosticKind::kPlaintextSecret>(file.Loc(4, 17), "K");
  secret.redact = true;
  Diagnostic other =
      MakeDiagnostic<DiagnosticKind::kOutOfRange>(file.Loc(23, 24), "cpu", int64_t{0}, "1..64");
  // The unrelated diagnostic comes first: masking must not depend on order.
  std::vector<Diagnostic> diagnostics = {other, secret};
  std::string out = RenderHuman(diagnostics, [&](std::string_view) { return &file; });
  EXPECT_EQ(out.find("sk-live"), std::string::npos) << out;
  EXPECT_NE(out.find("f(k=\"****\", cpu=0)\n                ^\n"), std::string::npos) << out;
}

}  // namespace
}  // namespace mvm

namespace mvm {
namespace {

TEST(RenderHumanWindowTest, LongLinesAreShownAsAWindowAroundTheCaret) {
  std::string line = "x = [" + std::string(400, '1') + ", bad, " + std::string(400, '2') + "]";
  SourceFile file("long.py", line + "\n");
  uint32_t bad = static_cast<uint32_t>(line.find("bad"));
  Diagnostic d = MakeDiagnostic<DiagnosticKind::kNonStatic>(file.Loc(bad, bad + 3), "`bad`");
  d.hint = "";
  std::vector<Diagnostic> diagnostics = {d};
  std::string out = RenderHuman(diagnostics, [&](std::string_view) { return &file; });
  // One header, a window of 160 columns with an ellipsis on each side, and the caret under `bad`
  // 60 columns in (plus one for the leading ellipsis).
  std::string expected_line = "…" + std::string(58, '1') + ", bad, " + std::string(95, '2') + "…";
  std::string expected_caret = std::string(61, ' ') + "^~~";
  EXPECT_NE(out.find("\n" + expected_line + "\n" + expected_caret + "\n"), std::string::npos)
      << out;
  EXPECT_LT(out.size(), 600u);
}

}  // namespace
}  // namespace mvm
