// Secret masking is the same in both languages (one evaluator core, frontend/common/evaluator.h):
// whatever stands in a secret's place, no printer shows a string literal of it, wherever that
// literal is written, the definition of a constant the secret names included. Each case is written
// in Python and in TypeScript and rendered by all three printers.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "frontend/frontend.h"
#include "ir/support/diagnostic_render.h"

namespace mvm::frontend {
namespace {

struct Case {
  const char* name;
  /// Module-level lines before the declaration.
  const char* python_prelude;
  const char* typescript_prelude;
  /// The value of `secrets`.
  const char* python_secrets;
  const char* typescript_secrets;
};

// Every literal that must never be printed contains "sk-live".
const Case kCases[] = {
    // A constant whose definition is not static: the literal is on the constant's own line,
    // outside the value in the secret's place. The TypeScript reader used to print it.
    {"non_static_constant", "KEY = make(\"sk-live-call\")\n",
     "const KEY = make(\"sk-live-call\");\n", "{\"K\": KEY}", "{ K: KEY }"},
    {"constant_of_constant", "INNER = make(\"sk-live-inner\")\nKEY = INNER\n",
     "const INNER = make(\"sk-live-inner\");\nconst KEY = INNER;\n", "{\"K\": KEY}", "{ K: KEY }"},
    {"partly_static_constant", "KEY = \"sk-live-plus\" + os.sep\n",
     "const KEY = \"sk-live-plus\" + os.sep;\n", "{\"K\": KEY}", "{ K: KEY }"},
    {"plaintext_constant", "KEY = \"sk-live-plain\"\n", "const KEY = \"sk-live-plain\";\n",
     "{\"K\": KEY}", "{ K: KEY }"},
    {"non_static_call", "", "", "{\"K\": make(\"sk-live-direct\")}",
     "{ K: make(\"sk-live-direct\") }"},
    {"literal_after_the_problem", "", "", "{\"K\": [os.sep, \"sk-live-after\"]}",
     "{ K: [os.sep, \"sk-live-after\"] }"},
    // A key that cannot be read: the values after it are never read, but are secrets all the same.
    // The TypeScript reader used to print them.
    {"unreadable_key", "", "", "{f\"{os.sep}\": \"sk-live-key\"}", "{ \"\\8\": \"sk-live-key\" }"},
    {"unpacked_entries", "X = {}\n", "const X = {};\n", "{**X, \"K\": \"sk-live-unpacked\"}",
     "{ ...X, K: \"sk-live-unpacked\" }"},
};

/// Every way mvmctl prints the diagnostics of `file`.
std::string RenderAll(const SourceFile& file) {
  FrontendResult result = ParseSource(file);
  EXPECT_FALSE(result.diagnostics.empty()) << file.contents();
  SourceLookup lookup = [&](std::string_view path) -> const SourceFile* {
    return path == file.path() ? &file : nullptr;
  };
  return RenderHuman(result.diagnostics, lookup) + RenderJson(result.diagnostics) +
         RenderSarif(
             result.diagnostics,
             SarifOptions{
                 .tool_version = "test", .base_directory = "", .failure = "", .exit_code = 0});
}

TEST(SecretMaskingTest, NoPrinterShowsALiteralInASecretsPlaceInEitherLanguage) {
  for (const Case& c : kCases) {
    std::string python = std::string("import os\nfrom mvm import workload, entrypoint\n") +
                         c.python_prelude + "@workload(\"a\", image=\"template:busybox\", " +
                         "secrets=" + c.python_secrets +
                         ")\nclass A:\n    @entrypoint(command=[\"true\"])\n"
                         "    def main(self): ...\n";
    std::string typescript =
        std::string(
            "import * as os from \"os\";\nimport { workload, entrypoint } from "
            "\"@mvm/sdk\";\n") +
        c.typescript_prelude +
        "@workload(\"a\", { image: \"template:busybox\", secrets: " + c.typescript_secrets +
        " })\nclass A { @entrypoint({ command: [\"true\"] }) main() {} }\n";
    for (const SourceFile& file : {SourceFile("t.py", python), SourceFile("t.ts", typescript)}) {
      std::string out = RenderAll(file);
      EXPECT_EQ(out.find("sk-live"), std::string::npos) << c.name << " in " << file.path() << ":\n"
                                                        << file.contents() << "printed:\n"
                                                        << out;
    }
  }
}

}  // namespace
}  // namespace mvm::frontend
