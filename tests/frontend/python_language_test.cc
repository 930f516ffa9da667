// Unit tests of the Python language module through the public frontend entry point.

#include <gtest/gtest.h>

#include <string>

#include "frontend/frontend.h"
#include "ir/json.h"

namespace mvm::frontend {
namespace {

FrontendResult Parse(const std::string& text) { return ParseSource(SourceFile("t.py", text)); }

std::string Kinds(const FrontendResult& r) {
  std::string out;
  for (const Diagnostic& d : r.diagnostics) {
    out += std::string(KindInfo(d.kind).name) + "@" + std::to_string(d.loc.line) + ":" +
           std::to_string(d.loc.column) + " ";
  }
  return out;
}

constexpr char kHeader[] =
    "from mvm import workload, entrypoint, SecretRef, NetworkPolicy, Volume\n";

TEST(PythonLanguageTest, DecodesStringEscapesAndKeepsRawStrings) {
  FrontendResult r =
      Parse(std::string(kHeader) +
            "@workload('a', image='template:x', env={'A': 'tab\\there', 'B': r'\\d+', "
            "'C': '\\u00e9\\x41\\101', 'D': 'con' 'cat', 'E': f'plain'})\n"
            "def f(): ...\n");
  ASSERT_EQ(Kinds(r), "");
  const auto& env = r.module.proto.workloads(0).env();
  EXPECT_EQ(env.at("A"), "tab\there");
  EXPECT_EQ(env.at("B"), "\\d+");
  EXPECT_EQ(env.at("C"),
            "\xc3\xa9"
            "AA");
  EXPECT_EQ(env.at("D"), "concat");
  EXPECT_EQ(env.at("E"), "plain");
}

TEST(PythonLanguageTest, FoldsIntegerForms) {
  FrontendResult r =
      Parse(std::string(kHeader) +
            "BASE = 0x40\n"
            "MEM: int = BASE * 8 + 1_000 - 0b10\n"
            "@workload('a', image='template:x', memory_mb=MEM, cpu=7 // 2, disk_mb=-(-0o100))\n"
            "def f(): ...\n");
  ASSERT_EQ(Kinds(r), "");
  const auto& res = r.module.proto.workloads(0).resources();
  EXPECT_EQ(res.memory_mb(), 64 * 8 + 1000 - 2);
  EXPECT_EQ(res.cpu(), 3);
  EXPECT_EQ(res.disk_mb(), 64);
}

TEST(PythonLanguageTest, FloorDivisionRoundsTowardNegativeInfinity) {
  FrontendResult r = Parse(std::string(kHeader) +
                           "@workload('a', image='template:x', ports=[-7 // 2])\ndef f(): ...\n");
  ASSERT_EQ(r.module.proto.workloads(0).ports(0), -4);
}

TEST(PythonLanguageTest, SelfReferentialAndReassignedConstantsAreNonStatic) {
  FrontendResult r =
      Parse(std::string(kHeader) +
            "A = B\nB = A\nC = 1\nfor C in []: pass\n"
            "@workload('a', image='template:x', cpu=A, memory_mb=C)\ndef f(): ...\n");
  EXPECT_EQ(Kinds(r), "non-static@3:5 non-static@6:53 ");
}

TEST(PythonLanguageTest, DeepNestingIsReportedNotRecursedInto) {
  std::string deep(5000, '[');
  deep += std::string(5000, ']');
  FrontendResult r =
      Parse(std::string(kHeader) + "@workload('a', image='template:x', ports=" + deep +
            ")\ndef f(): ...\n");
  // One non-static at the depth limit (and the outer list's wrong type), no stack overflow.
  int non_static = 0;
  for (const Diagnostic& d : r.diagnostics) {
    non_static += d.kind == DiagnosticKind::kNonStatic;
  }
  EXPECT_EQ(non_static, 1) << Kinds(r);
}

TEST(PythonLanguageTest, ChainStepIsLocatedAtItsMethodName) {
  FrontendResult r = Parse(std::string(kHeader) +
                           "@workload('a', image='template:x', "
                           "network=NetworkPolicy.deny_by_default().allow_htps('h'))\n"
                           "def f(): ...\n");
  ASSERT_EQ(Kinds(r), "unknown-option@2:76 ");
  EXPECT_EQ(r.diagnostics[0].hint, "did you mean `allow_https`?");
}

TEST(PythonLanguageTest, OtherDecoratorsAndUnimportedNamesAreIgnored) {
  FrontendResult r = Parse(
      "import flask\napp = flask.Flask(__name__)\n"
      "def workload(*a, **k):\n    return lambda f: f\n"
      "@app.route('/')\n@workload('x', image=compute())\ndef index(): ...\n");
  EXPECT_EQ(Kinds(r), "");
  EXPECT_EQ(r.module.proto.workloads_size(), 0);
}

TEST(PythonLanguageTest, ModuleAliasAndFunctionForm) {
  FrontendResult r = Parse(
      "import mvm as m\n@m.workload('tiny', image='template:python-3.11')\n"
      "def tiny():\n    print('hi')\n");
  ASSERT_EQ(Kinds(r), "");
  const auto& e = r.module.proto.workloads(0).entrypoints(0);
  EXPECT_EQ(e.name(), "main");
  std::vector<std::string> command(e.command().begin(), e.command().end());
  EXPECT_EQ(command, (std::vector<std::string>{"python3", "-m", "mvm.run", "/app/t.py", "tiny"}));
}

TEST(PythonLanguageTest, PlaintextSecretIsRedactedAndNeverInTheMessage) {
  FrontendResult r = Parse(std::string(kHeader) +
                           "@workload('a', image='template:x', secrets={'K': 'sk-live-abc'})\n"
                           "def f(): ...\n");
  ASSERT_EQ(Kinds(r), "plaintext-secret@2:50 ");
  EXPECT_TRUE(r.diagnostics[0].redact);
  EXPECT_EQ(r.diagnostics[0].message.find("sk-live"), std::string::npos);
  EXPECT_EQ(ir::ToCanonicalJson(r.module).find("sk-live"), std::string::npos);
}

TEST(PythonLanguageTest, SyntaxErrorStopsLowering) {
  FrontendResult r =
      Parse(std::string(kHeader) + "@workload('a', image='template:x'\ndef f(): ...\n");
  ASSERT_FALSE(r.diagnostics.empty());
  for (const Diagnostic& d : r.diagnostics) {
    EXPECT_EQ(d.kind, DiagnosticKind::kSyntaxError);
  }
  EXPECT_EQ(r.module.proto.workloads_size(), 0);
}

TEST(PythonLanguageTest, FilesThatDoNotUseMvmGetNoDiagnostics) {
  for (const char* text :
       {"def f(:\n", "x = 'mvm'\ny = (\n", "x = '\xff'\n", "from mvmx import w\n(\n"}) {
    FrontendResult r = Parse(text);
    EXPECT_TRUE(r.diagnostics.empty()) << text;
  }
  EXPECT_FALSE(Parse("import mvm\ndef f(:\n").diagnostics.empty());
  EXPECT_FALSE(Parse("if X:\n    import mvm\nx = '\xff'\n").diagnostics.empty());
  // A broken region that mentions mvm may be a broken import, so it is reported.
  EXPECT_FALSE(Parse("x = 'mvm' +\n").diagnostics.empty());
}

}  // namespace
}  // namespace mvm::frontend
