// Unit tests of the TypeScript language module: literal decoding directly, everything else through
// the public frontend entry point, so the tests exercise the real grammar and driver.

#include <gtest/gtest.h>

#include <string>

#include "frontend/common/frontend_language.h"
#include "frontend/frontend.h"
#include "frontend/typescript/typescript_literals.h"

namespace mvm::frontend {
namespace {

using typescript::NumberLiteral;
using typescript::ParseNumber;
using typescript::StringDecoder;

FrontendResult Parse(const std::string& text, const std::string& path = "t.ts") {
  return ParseSource(SourceFile(path, text));
}

/// "kind@line:column " for every diagnostic, in report order.
std::string Kinds(const FrontendResult& r) {
  std::string out;
  for (const Diagnostic& d : r.diagnostics) {
    out += std::string(KindInfo(d.kind).name) + "@" + std::to_string(d.loc.line) + ":" +
           std::to_string(d.loc.column) + " ";
  }
  return out;
}

/// The first diagnostic's hint, or "" when there is none.
std::string FirstHint(const FrontendResult& r) {
  return r.diagnostics.empty() ? "" : r.diagnostics.front().hint;
}

constexpr char kHeader[] =
    "import { workload, entrypoint, service, SecretRef, NetworkPolicy, Volume } from "
    "\"@mvm/sdk\";\n";

/// A one-workload file whose `@workload` options object is `options` (line 2 of the file).
FrontendResult Workload(const std::string& options, const std::string& before = "") {
  return Parse(std::string(kHeader) + before + "@workload(\"a\", { image: \"template:x\", " +
               options +
               " })\nclass A {\n  @entrypoint({ command: [\"true\"] })\n  main() {}\n}\n");
}

// --- literals ----------------------------------------------------------------------------------

TEST(TypeScriptLiteralsTest, IntegersAndFloatsAreTellApartBySpelling) {
  EXPECT_EQ(ParseNumber("2").kind, NumberLiteral::Kind::kInt);
  EXPECT_EQ(ParseNumber("2.0").kind, NumberLiteral::Kind::kFloat);
  EXPECT_EQ(ParseNumber("2.").kind, NumberLiteral::Kind::kFloat);
  EXPECT_EQ(ParseNumber(".5").kind, NumberLiteral::Kind::kFloat);
  EXPECT_EQ(ParseNumber("1e3").kind, NumberLiteral::Kind::kFloat);
  EXPECT_DOUBLE_EQ(ParseNumber("1_000.5e-1").float_value, 100.05);
  EXPECT_EQ(ParseNumber("0").int_value, 0);
  EXPECT_EQ(ParseNumber("1_000_000").int_value, 1000000);
  EXPECT_EQ(ParseNumber("0xFF").int_value, 255);
  EXPECT_EQ(ParseNumber("0XfE").int_value, 254);
  EXPECT_EQ(ParseNumber("0o17").int_value, 15);
  EXPECT_EQ(ParseNumber("0B1010").int_value, 10);
  EXPECT_EQ(ParseNumber("0x1_0").int_value, 16);
  EXPECT_EQ(ParseNumber("10n").kind, NumberLiteral::Kind::kBigInt);
  EXPECT_EQ(ParseNumber("010").kind, NumberLiteral::Kind::kLegacyOctal);
  EXPECT_EQ(ParseNumber("08").kind, NumberLiteral::Kind::kLegacyOctal);
}

TEST(TypeScriptLiteralsTest, HugeIntegersSaturate) {
  EXPECT_EQ(ParseNumber("99999999999999999999999").int_value, INT64_MAX);
  EXPECT_EQ(ParseNumber("0xFFFFFFFFFFFFFFFFFF").int_value, INT64_MAX);
}

TEST(TypeScriptLiteralsTest, DecodesEscapes) {
  StringDecoder d;
  std::string error;
  for (const char* esc : {"\\n", "\\t", "\\r", "\\b", "\\f", "\\v", "\\'", "\\\"", "\\\\", "\\x41",
                          "\\u00e9", "\\u{1F600}", "\\$", "\\q"}) {
    ASSERT_TRUE(d.AppendEscape(esc, 'z', error)) << esc << ": " << error;
  }
  EXPECT_EQ(d.Finish(), "\n\t\r\b\f\v'\"\\A\xc3\xa9\xf0\x9f\x98\x80$q");
}

TEST(TypeScriptLiteralsTest, PairsSurrogatesAcrossEscapes) {
  StringDecoder d;
  std::string error;
  ASSERT_TRUE(d.AppendEscape("\\uD83D", '\\', error));
  ASSERT_TRUE(d.AppendEscape("\\uDE00", '"', error));
  EXPECT_EQ(d.Finish(), "\xf0\x9f\x98\x80");
  EXPECT_FALSE(d.lone_surrogate());

  StringDecoder lone;
  ASSERT_TRUE(lone.AppendEscape("\\uD83D", 'x', error));
  lone.AppendFragment("x", false);
  lone.Finish();
  EXPECT_TRUE(lone.lone_surrogate());
}

TEST(TypeScriptLiteralsTest, NulLineContinuationAndOctalEscapes) {
  StringDecoder d;
  std::string error;
  ASSERT_TRUE(d.AppendEscape("\\0", 'a', error));
  ASSERT_TRUE(d.AppendEscape("\\\n", 'a', error));
  ASSERT_TRUE(d.AppendEscape("\\\r\n", 'a', error));
  EXPECT_EQ(d.Finish(), std::string(1, '\0'));
  EXPECT_FALSE(d.AppendEscape("\\0", '1', error));  // `\01` is an octal escape
  EXPECT_FALSE(d.AppendEscape("\\7", 'a', error));
  EXPECT_FALSE(d.AppendEscape("\\8", 'a', error));
  EXPECT_FALSE(d.AppendEscape("\\u{110000}", 'a', error));
  EXPECT_NE(error.find("U+10FFFF"), std::string::npos);
}

TEST(TypeScriptLiteralsTest, TemplateCharactersNormaliseLineEnds) {
  StringDecoder d;
  d.AppendFragment("a\r\nb\rc\n", /*template_chars=*/true);
  EXPECT_EQ(d.Finish(), "a\nb\nc\n");
}

// --- language selection ------------------------------------------------------------------------

TEST(TypeScriptFrontendTest, SelectedByExtension) {
  EXPECT_EQ(LanguageForPath("app.ts"), &TypeScriptLanguage());
  EXPECT_EQ(LanguageForPath("dir/app.tsx"), &TypeScriptLanguage());
  EXPECT_EQ(LanguageForPath("app.js"), nullptr);
  EXPECT_NE(TypeScriptLanguage().Grammar("a.ts"), TypeScriptLanguage().Grammar("a.tsx"));
  EXPECT_EQ(TypeScriptLanguage().language(), Language::kTypeScript);
}

TEST(TypeScriptFrontendTest, TsxFilesParseJsxButTsFilesDoNot) {
  std::string text =
      std::string(kHeader) +
      "@workload(\"a\", { image: \"template:x\" })\nclass A {\n"
      "  @entrypoint({ command: [\"true\"] })\n  main() { return <div>hi</div>; }\n}\n";
  EXPECT_EQ(Kinds(Parse(text, "a.tsx")), "");
  EXPECT_NE(Kinds(Parse(text, "a.ts")), "");
}

// --- values ------------------------------------------------------------------------------------

TEST(TypeScriptFrontendTest, DecodesStringsOfEveryQuoteStyle) {
  FrontendResult r = Workload(
      "env: { A: 'single\\'s', B: \"double\\u{1F600}\", C: `tmpl\\n`, D: \"\\uD83D\\uDE00\", "
      "E: \"a\\\nb\", F: `multi\r\nline` }");
  ASSERT_EQ(Kinds(r), "");
  const auto& env = r.module.proto.workloads(0).env();
  EXPECT_EQ(env.at("A"), "single's");
  EXPECT_EQ(env.at("B"), "double\xf0\x9f\x98\x80");
  EXPECT_EQ(env.at("C"), "tmpl\n");
  EXPECT_EQ(env.at("D"), "\xf0\x9f\x98\x80");
  EXPECT_EQ(env.at("E"), "ab");
  EXPECT_EQ(env.at("F"), "multi\nline");
}

TEST(TypeScriptFrontendTest, TemplateSubstitutionIsNonStaticAtTheSubstitution) {
  FrontendResult r = Workload("labels: { a: `x${y}z` }");
  ASSERT_EQ(Kinds(r), "non-static@2:54 ");
  EXPECT_NE(r.diagnostics[0].message.find("`${y}`"), std::string::npos);
}

TEST(TypeScriptFrontendTest, BadEscapesAndUnpairedSurrogatesAreReported) {
  EXPECT_EQ(Kinds(Workload("labels: { a: \"\\1\" }")), "syntax-error@2:53 ");
  FrontendResult lone = Workload("labels: { a: \"\\uD800\" }");
  ASSERT_EQ(Kinds(lone), "type-mismatch@2:52 ");
  EXPECT_NE(lone.diagnostics[0].message.find("unpaired"), std::string::npos);
}

TEST(TypeScriptFrontendTest, NumbersKeepIntegerAndFloatApart) {
  FrontendResult r = Workload("cpu: 0x2, memoryMb: 0o4000, diskMb: 0b1_0000_0000, ports: [8_080]");
  ASSERT_EQ(Kinds(r), "");
  const auto& w = r.module.proto.workloads(0);
  EXPECT_EQ(w.resources().cpu(), 2);
  EXPECT_EQ(w.resources().memory_mb(), 2048);
  EXPECT_EQ(w.resources().disk_mb(), 256);
  EXPECT_EQ(w.ports(0), 8080);

  FrontendResult floats = Workload("cpu: 2.0, memoryMb: 1e3, diskMb: 10n");
  EXPECT_EQ(Kinds(floats), "type-mismatch@2:44 type-mismatch@2:59 type-mismatch@2:72 ");
  EXPECT_NE(floats.diagnostics[2].message.find("bigint"), std::string::npos);
  EXPECT_EQ(Kinds(Workload("cpu: 010")), "syntax-error@2:44 ");
}

TEST(TypeScriptFrontendTest, TypeOnlyWrappersAreTransparent) {
  FrontendResult r = Workload(
      "cpu: (2 as number), memoryMb: <number>512, diskMb: 1024 satisfies number, "
      "timeoutSeconds: (((30)))!, env: { A: \"x\" as const }");
  ASSERT_EQ(Kinds(r), "");
  const auto& w = r.module.proto.workloads(0);
  EXPECT_EQ(w.resources().cpu(), 2);
  EXPECT_EQ(w.resources().memory_mb(), 512);
  EXPECT_EQ(w.resources().disk_mb(), 1024);
  EXPECT_EQ(w.timeout_seconds(), 30);
}

TEST(TypeScriptFrontendTest, NullUndefinedBooleansAndHoles) {
  FrontendResult r = Workload("network: undefined, ports: [1, , 2], isolation: true");
  // The hole reads as `undefined` (null), which is not a port; `true` is not a string.
  EXPECT_EQ(Kinds(r), "type-mismatch@2:87 type-mismatch@2:70 ");
  EXPECT_FALSE(r.module.proto.workloads(0).has_network());
}

TEST(TypeScriptFrontendTest, FoldsIntegerAndStringArithmetic) {
  FrontendResult r =
      Workload("cpu: 2 * 3 - 4, memoryMb: -(-64) + +0, image: \"template:\" + \"x\"");
  ASSERT_EQ(Kinds(r), "duplicate-option@2:78 ");  // `image` was already given
  EXPECT_EQ(r.module.proto.workloads(0).resources().cpu(), 2);
  EXPECT_EQ(r.module.proto.workloads(0).resources().memory_mb(), 64);
}

TEST(TypeScriptFrontendTest, UnfoldableOperatorsAreNonStatic) {
  for (const char* expr : {"10 / 2", "7 % 2", "2 ** 3", "1 << 2", "\"a\" + 1", "\"a\" * 2", "!true",
                           "-\"a\"", "typeof x", "a ? 1 : 2", "9223372036854775807 + 1"}) {
    FrontendResult r = Workload(std::string("cpu: ") + expr);
    EXPECT_EQ(Kinds(r), "non-static@2:44 ") << expr;
  }
}

TEST(TypeScriptFrontendTest, ProcessEnvSuggestsSecretRef) {
  for (const char* expr :
       {"process.env.KEY", "process.env[\"KEY\"]", "process.env", "import.meta.env.KEY"}) {
    FrontendResult r = Workload(std::string("image: ") + expr);
    ASSERT_EQ(r.diagnostics.size(), 2u) << expr;  // non-static, then `image` given twice
    EXPECT_EQ(r.diagnostics[0].kind, DiagnosticKind::kNonStatic) << expr;
    EXPECT_NE(FirstHint(r).find("SecretRef"), std::string::npos) << expr;
  }
}

TEST(TypeScriptFrontendTest, CallsNewAndPropertiesHaveTheirOwnHints) {
  FrontendResult call = Workload("cpu: compute()");
  EXPECT_EQ(Kinds(call), "non-static@2:44 ");
  EXPECT_NE(FirstHint(call).find("never runs your code"), std::string::npos);
  FrontendResult construct = Workload("cpu: new Number(2)");
  EXPECT_NE(FirstHint(construct).find("`new`"), std::string::npos);
  FrontendResult member = Workload("cpu: config.cpu");
  EXPECT_NE(FirstHint(member).find("property"), std::string::npos);
  FrontendResult index = Workload("cpu: sizes[0]");
  EXPECT_NE(FirstHint(index).find("index"), std::string::npos);
  FrontendResult arrow = Workload("cpu: () => 2");
  EXPECT_NE(arrow.diagnostics.at(0).message.find("function"), std::string::npos);
  FrontendResult tagged = Workload("image: String.raw`template:x`");
  EXPECT_EQ(tagged.diagnostics.at(0).kind, DiagnosticKind::kNonStatic);
}

TEST(TypeScriptFrontendTest, ObjectEntriesThatAreNotKeyValuePairsAreNonStatic) {
  EXPECT_EQ(Kinds(Workload("env: { [key]: \"v\" }")), "non-static@2:46 ");
  EXPECT_EQ(Kinds(Workload("env: { key }")), "non-static@2:46 ");
  EXPECT_EQ(Kinds(Workload("env: { ...base }")), "non-static@2:46 ");
  EXPECT_EQ(Kinds(Workload("env: { m() { return 1; } }")), "non-static@2:46 ");
  EXPECT_EQ(Kinds(Workload("env: { 1: \"v\" }")), "type-mismatch@2:46 ");
  FrontendResult quoted = Workload("env: { \"A-B\": \"v\", 'C': \"w\" }");
  ASSERT_EQ(Kinds(quoted), "");
  EXPECT_EQ(quoted.module.proto.workloads(0).env().at("A-B"), "v");
  EXPECT_EQ(quoted.module.proto.workloads(0).env().at("C"), "w");
}

TEST(TypeScriptFrontendTest, OptionsObjectEntriesAreReadLikeKeywordArguments) {
  // A shorthand option is non-static but still counts as given: no `missing-option` follows.
  FrontendResult shorthand = Parse(std::string(kHeader) +
                                   "@workload(\"a\", { image })\nclass A {\n"
                                   "  @entrypoint({ command })\n  main() {}\n}\n");
  EXPECT_EQ(Kinds(shorthand), "non-static@2:18 non-static@4:17 ");
  // A computed option name makes the call unreadable, like `**kwargs`.
  FrontendResult computed =
      Parse(std::string(kHeader) + "@workload(\"a\", { [k]: 1 })\nclass A {}\n");
  EXPECT_EQ(Kinds(computed), "non-static@2:18 ");
  EXPECT_EQ(computed.module.proto.workloads_size(), 0);
}

TEST(TypeScriptFrontendTest, TrailingConstantObjectIsTheOptionsObject) {
  FrontendResult r = Parse(std::string(kHeader) +
                           "const OPTS = { image: \"template:x\", cpu: 2 } as const;\n"
                           "@workload(\"a\", OPTS)\nclass A {\n"
                           "  @entrypoint({ command: [\"true\"] })\n  main() {}\n}\n");
  ASSERT_EQ(Kinds(r), "");
  EXPECT_EQ(r.module.proto.workloads(0).resources().cpu(), 2);
}

// --- constants ---------------------------------------------------------------------------------

TEST(TypeScriptFrontendTest, ModuleConstantsAreFollowed) {
  FrontendResult r = Workload("cpu: CPU, memoryMb: MEM, labels: L",
                              "const CPU = 2;\nexport const MEM: number = CPU * 1024;\n"
                              "const L = { team: \"ml\" } satisfies Record<string, string>;\n");
  ASSERT_EQ(Kinds(r), "");
  EXPECT_EQ(r.module.proto.workloads(0).resources().memory_mb(), 2048);
  EXPECT_EQ(r.module.proto.workloads(0).labels().at("team"), "ml");
}

TEST(TypeScriptFrontendTest, MutableAndReassignedBindingsAreNonStatic) {
  FrontendResult let = Workload("cpu: X", "let X = 2;\n");
  EXPECT_EQ(Kinds(let), "non-static@3:44 ");
  EXPECT_NE(FirstHint(let).find("`let`"), std::string::npos);
  EXPECT_NE(FirstHint(Workload("cpu: X", "var X = 2;\n")).find("`var`"), std::string::npos);
  FrontendResult twice = Workload("cpu: X", "const X = 2;\nX = 3;\n");
  EXPECT_EQ(Kinds(twice), "non-static@4:44 ");
  EXPECT_NE(FirstHint(twice).find("more than once"), std::string::npos);
  EXPECT_EQ(Kinds(Workload("cpu: X", "const X = 2;\n[X] = [3];\n")), "non-static@4:44 ");
  EXPECT_EQ(Kinds(Workload("cpu: X", "const X = 2;\nX++;\n")), "non-static@4:44 ");
  EXPECT_EQ(Kinds(Workload("cpu: X", "if (c) { var X = 2; }\n")), "non-static@3:44 ");
  for (const char* rebind : {"for (X of xs) {}\n", "for (var X in o) {}\n", "({ k: X } = o);\n",
                             "(X) = 3;\n", "[Y = X] = [];\n"}) {
    bool rebinds_x = std::string(rebind) != "[Y = X] = [];\n";
    EXPECT_EQ(Kinds(Workload("cpu: X", std::string("const X = 2;\n") + rebind)),
              rebinds_x ? "non-static@4:44 " : "")
        << rebind;
  }
}

TEST(TypeScriptFrontendTest, InnerScopesDoNotAffectModuleConstants) {
  FrontendResult r = Workload("cpu: X",
                              "const X = 2;\nfunction f() { let X = 1; X = 5; }\n"
                              "if (c) { const X = 9; }\n");
  ASSERT_EQ(Kinds(r), "");
  EXPECT_EQ(r.module.proto.workloads(0).resources().cpu(), 2);
}

TEST(TypeScriptFrontendTest, SelfReferenceAndUnknownNames) {
  EXPECT_EQ(Kinds(Workload("cpu: A", "const A = B;\nconst B = A;\n")), "non-static@3:11 ");
  FrontendResult unknown = Workload("cpu: nowhere");
  EXPECT_EQ(Kinds(unknown), "non-static@2:44 ");
  EXPECT_NE(FirstHint(unknown).find("`const`"), std::string::npos);
  // A definition's problem is reported once, at the definition, however often it is used.
  EXPECT_EQ(Kinds(Workload("cpu: B, diskMb: B", "const B = f();\n")), "non-static@2:11 ");
}

TEST(TypeScriptFrontendTest, ExponentialConstantsHitTheBudget) {
  std::string defs = "const L0 = [\"xxxxxxxxxxxxxxxx\"];\n";
  for (int i = 1; i <= 24; ++i) {
    defs += "const L" + std::to_string(i) + " = [L" + std::to_string(i - 1) + ", L" +
            std::to_string(i - 1) + "];\n";
  }
  FrontendResult r = Workload("ports: L24", defs);
  int non_static = 0;
  for (const Diagnostic& d : r.diagnostics) {
    non_static += d.kind == DiagnosticKind::kNonStatic;
  }
  EXPECT_EQ(non_static, 1) << Kinds(r);
}

TEST(TypeScriptFrontendTest, DeepNestingIsReportedNotRecursedInto) {
  std::string deep(5000, '[');
  deep += std::string(5000, ']');
  FrontendResult r = Workload("ports: " + deep);
  int non_static = 0;
  for (const Diagnostic& d : r.diagnostics) {
    non_static += d.kind == DiagnosticKind::kNonStatic;
  }
  EXPECT_EQ(non_static, 1) << Kinds(r);
  std::string parens = std::string(5000, '(') + "1" + std::string(5000, ')');
  EXPECT_EQ(Workload("cpu: " + parens).diagnostics.size(), 1u);
}

TEST(TypeScriptFrontendTest, ConstantsOfConstantsStayWithinTheDepthLimit) {
  std::string a = std::string(90, '[') + "\"x\"" + std::string(90, ']');
  std::string b = std::string(90, '[') + "A" + std::string(90, ']');
  FrontendResult r =
      Workload("labels: { k: A }, ports: B", "const A = " + a + ";\nconst B = " + b + ";\n");
  // `labels.k` is a list, not a string; inside `B`, the copy of `A` would nest too deep; so `ports`
  // holds a list where an integer belongs.
  ASSERT_EQ(Kinds(r), "non-static@3:101 type-mismatch@3:12 type-mismatch@4:52 ");
  EXPECT_NE(r.diagnostics[0].hint.find("nested"), std::string::npos);
}

// --- SDK calls ---------------------------------------------------------------------------------

TEST(TypeScriptFrontendTest, SdkHelperCallsTakeAnOptionsObject) {
  FrontendResult r = Workload(
      "network: NetworkPolicy.denyByDefault().allowHttps(\"a.example.com\").allowDns(),"
      " secrets: { K: SecretRef(\"k\", { hosts: [\"a.example.com\"] }) },"
      " volumes: [Volume.local(\"./d\", \"/d\", { mode: \"rw\" }), Volume.memory(\"/m\", { sizeMb: "
      "8 })]");
  ASSERT_EQ(Kinds(r), "");
  const auto& w = r.module.proto.workloads(0);
  EXPECT_TRUE(w.network().dns());
  EXPECT_EQ(w.secrets(0).hosts(0), "a.example.com");
  EXPECT_EQ(w.volumes(0).mode(), "rw");
  EXPECT_EQ(w.volumes(1).size_mb(), 8);
}

TEST(TypeScriptFrontendTest, PythonSpellingsAreUnknownInTypeScript) {
  FrontendResult r = Workload("memory_mb: 64, network: NetworkPolicy.deny_by_default()");
  ASSERT_EQ(r.diagnostics.size(), 2u) << Kinds(r);
  EXPECT_EQ(r.diagnostics[0].hint, "did you mean `memoryMb`?");
  EXPECT_EQ(r.diagnostics[1].kind, DiagnosticKind::kTypeMismatch);
}

TEST(TypeScriptFrontendTest, ChainStepIsLocatedAtItsMethodName) {
  FrontendResult r = Workload("network: NetworkPolicy.denyByDefault()\n  .allowSmtp(\"x\")");
  ASSERT_EQ(Kinds(r), "unknown-option@3:4 ");
}

TEST(TypeScriptFrontendTest, OptionalChainsAndSpreadArgumentsAreNonStatic) {
  EXPECT_EQ(Kinds(Workload("network: NetworkPolicy.denyByDefault()?.allowDns()")),
            "non-static@2:48 ");
  EXPECT_EQ(Kinds(Workload("secrets: { K: SecretRef(...args) }")), "non-static@2:63 ");
}

// --- imports and placement ---------------------------------------------------------------------

TEST(TypeScriptFrontendTest, EveryImportFormIsFollowed) {
  FrontendResult r = Parse(
      "import * as mvm from \"@mvm/sdk\";\n"
      "import { workload as wl, \"entrypoint\" as ep } from '@mvm/sdk';\n"
      "import sdk = require(\"@mvm/sdk\");\n"
      "@mvm.workload(\"a\", { image: \"template:x\", secrets: { K: sdk.SecretRef(\"k\") } })\n"
      "class A { @ep({ command: [\"a\"] }) main() {} }\n"
      "@wl(\"b\", { image: \"template:x\", volumes: [mvm.Volume.memory(\"/m\")] })\n"
      "class B { @sdk.service({ command: [\"b\"] }) main() {} }\n");
  ASSERT_EQ(Kinds(r), "");
  ASSERT_EQ(r.module.proto.workloads_size(), 2);
  EXPECT_EQ(r.module.proto.workloads(0).secrets(0).name(), "k");
  EXPECT_EQ(r.module.proto.workloads(1).services(0).name(), "main");
}

TEST(TypeScriptFrontendTest, TypeOnlyImportsAndOtherModulesAreIgnored) {
  for (const char* import : {"import type { workload, entrypoint } from \"@mvm/sdk\";\n",
                             "import { type workload, type entrypoint } from \"@mvm/sdk\";\n",
                             "import { workload, entrypoint } from \"@mvm/sdk-extra\";\n",
                             "import workload, { entrypoint as e } from \"./local\";\n"}) {
    FrontendResult r = Parse(std::string(import) +
                             "@workload(\"a\", { image: f() })\n"
                             "class A { @entrypoint({ command: g() }) main() {} }\n");
    EXPECT_EQ(Kinds(r), "") << import;
    EXPECT_EQ(r.module.proto.workloads_size(), 0) << import;
  }
}

TEST(TypeScriptFrontendTest, NameDefaultsToTheMethod) {
  FrontendResult r = Parse(std::string(kHeader) +
                           "@workload({ id: \"a\", image: \"template:x\" })\nclass A {\n"
                           "  @entrypoint({ command: [\"a\"] }) run() {}\n"
                           "  @entrypoint({ command: [\"b\"] }) \"quoted-name\"() {}\n"
                           "  @entrypoint({ name: \"named\", command: [\"c\"] }) other() {}\n"
                           "  @service(\"svc\", { command: [\"d\"] }) static s() {}\n}\n");
  ASSERT_EQ(Kinds(r), "");
  const auto& w = r.module.proto.workloads(0);
  EXPECT_EQ(w.entrypoints(0).name(), "run");
  EXPECT_EQ(w.entrypoints(1).name(), "quoted-name");
  EXPECT_EQ(w.entrypoints(2).name(), "named");
  EXPECT_EQ(w.services(0).name(), "svc");
}

TEST(TypeScriptFrontendTest, DeclarationsAnywhereElseAreMisplaced) {
  FrontendResult r = Parse(std::string(kHeader) +
                           "@workload(\"a\", { image: \"template:x\" })\nclass A {\n"  // 2
                           "  @workload(\"m\") method() {}\n"                          // 4
                           "  @entrypoint({ command: [\"x\"] }) field = 1;\n"          // 5
                           "  @entrypoint({ command: [\"true\"] }) main() {}\n}\n"     // 6
                           "const C = @workload(\"expr\") class {};\n"                 // 8
                           "namespace N { @workload(\"ns\") class D {} }\n"            // 9
                           "class E { m(@service() p: number) {} }\n"                  // 10
                           "@entrypoint() class F {}\n");                              // 11
  EXPECT_EQ(Kinds(r),
            "misplaced-declaration@4:3 misplaced-declaration@11:1 misplaced-declaration@5:3 "
            "misplaced-declaration@8:11 misplaced-declaration@9:15 misplaced-declaration@10:13 ");
  EXPECT_EQ(r.module.proto.workloads_size(), 1);
}

TEST(TypeScriptFrontendTest, PlaintextSecretIsRedactedAndNeverInTheMessage) {
  FrontendResult r = Workload("secrets: { KEY: \"sk-live-123\" }");
  ASSERT_EQ(Kinds(r), "plaintext-secret@2:55 ");
  EXPECT_TRUE(r.diagnostics[0].redact);
  EXPECT_EQ(r.diagnostics[0].message.find("sk-live"), std::string::npos);
}

TEST(TypeScriptFrontendTest, SecretValuesAreNeverQuoted) {
  FrontendResult r = Workload(
      "secrets: { A: \"sk-live-a\" * 2, B: `sk-live-b${x}`, C: [\"sk-live-c\"], "
      "D: \"sk-live-\\1\", E: SecretRef(\"e\") }");
  EXPECT_EQ(Kinds(r), "non-static@2:53 non-static@2:83 syntax-error@2:120 type-mismatch@2:93 ")
      << Kinds(r);
  for (const Diagnostic& d : r.diagnostics) {
    EXPECT_EQ(d.message.find("sk-live"), std::string::npos) << d.message;
    EXPECT_EQ(d.hint.find("sk-live"), std::string::npos) << d.hint;
    EXPECT_TRUE(d.redact || !d.redactions.empty()) << d.message;
  }
  // Literals the reader never reached (after a computed key) are masked all the same.
  FrontendResult computed = Workload("secrets: { [k]: \"sk-live-z\" }");
  ASSERT_EQ(computed.diagnostics.size(), 1u);
  EXPECT_EQ(computed.diagnostics[0].redactions.size(), 1u);
}

TEST(TypeScriptFrontendTest, SyntaxErrorStopsLowering) {
  FrontendResult r = Workload("cpu: 2 2");
  ASSERT_FALSE(r.diagnostics.empty());
  for (const Diagnostic& d : r.diagnostics) {
    EXPECT_EQ(d.kind, DiagnosticKind::kSyntaxError);
  }
  EXPECT_EQ(r.module.proto.workloads_size(), 0);
}

TEST(TypeScriptFrontendTest, FilesWithoutTheSdkAreLeftAlone) {
  FrontendResult r = Parse(
      "import { Component } from \"@angular/core\";\n"
      "@Component({ selector: process.env.X })\nclass A {}\n");
  EXPECT_EQ(Kinds(r), "");
  EXPECT_EQ(r.module.proto.workloads_size(), 0);
  // Nor are their syntax errors mvm's to report, unless the broken region names the SDK.
  EXPECT_EQ(Kinds(Parse("const x = (;\n")), "");
  EXPECT_EQ(Kinds(Parse("// about @mvm/sdk\nconst x = (;\n")), "");
  EXPECT_NE(Kinds(Parse("import mvm = require(\"@mvm/sdk\");\nconst x = (;\n")), "");
  EXPECT_NE(Kinds(Parse("import { workload } from \"@mvm/sdk\";\nconst x = (;\n")), "");
}

}  // namespace
}  // namespace mvm::frontend
