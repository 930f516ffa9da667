// The documentation's examples of declarations and their IR (tests/fixtures/spec/<name>/): each
// `decl.py` / `decl.ts` must compile to `expected.ir.json`, IR written by hand from the spec and
// never printed by the compiler (tests/fixtures/spec/README.md), compared as parsed JSON with
// source locations set aside (tests/support/ir_expectation.h says why those and nothing else).
//
// The pages and the fixtures are kept the same by markers: a line
//   <!-- ir-example: PATH -->
// (or `<!-- ir-example: PATH fix: OLD => NEW; OLD => NEW -->`, for a page that shows a declaration
// with mistakes and says how to fix them; each OLD must occur once) just before a fenced block says
// that the block is in the fixture file PATH. A declaration block, fixes applied, must appear in it
// as whole consecutive lines (the fixture may add a comment and an import the page leaves out); an
// IR block (PATH ends in `.json`, locations elided as `{…}`) must mean the same as PATH. Every
// fixture must be shown by some page.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "tests/support/files.h"
#include "tests/support/ir_expectation.h"

namespace mvm {
namespace {

namespace fs = std::filesystem;

const fs::path kRoot = fs::path(MVM_SOURCE_DIR);
const fs::path kFixtures = kRoot / "tests" / "fixtures" / "spec";

using mvm::testing::CompiledWithoutLocations;
using mvm::testing::ReadFile;
using mvm::testing::SameIr;

std::vector<std::string> FixtureNames() {
  std::vector<std::string> names;
  for (const fs::directory_entry& e : fs::directory_iterator(kFixtures)) {
    if (e.is_directory()) {
      names.push_back(e.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST(DocIrExamples, EveryDeclarationCompilesToItsHandWrittenIr) {
  std::vector<std::string> names = FixtureNames();
  ASSERT_GE(names.size(), 5u) << "the documentation's examples went missing from " << kFixtures;
  int declarations = 0;
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    fs::path dir = kFixtures / name;
    nlohmann::json expected = mvm::testing::ReadHandWrittenIr(dir / "expected.ir.json");
    ASSERT_FALSE(expected.is_discarded());
    EXPECT_TRUE(
        SameIr(CompiledWithoutLocations(dir / "expected.ir.json", /*from_ir=*/true), expected))
        << "expected.ir.json is not IR the passes accept unchanged";
    int here = 0;
    for (const char* decl : {"decl.py", "decl.ts"}) {
      if (fs::exists(dir / decl)) {
        SCOPED_TRACE(decl);
        ++here;
        EXPECT_TRUE(SameIr(CompiledWithoutLocations(dir / decl, /*from_ir=*/false), expected));
      }
    }
    EXPECT_GE(here, 1) << dir << " has neither decl.py nor decl.ts";
    declarations += here;
  }
  EXPECT_GE(declarations, 9) << "fewer declarations than the examples and their twins";
}

/// One `<!-- ir-example: ... -->` marker and the fenced block after it.
struct DocExample {
  std::string where;  // page:line of the marker
  std::string path;   // the fixture file, relative to the repository
  std::vector<std::pair<std::string, std::string>> fixes;
  std::string block;  // the block's lines, each with its newline
};

std::vector<std::string> Split(const std::string& text, const std::string& separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t at; (at = text.find(separator, start)) != std::string::npos;
       start = at + separator.size()) {
    parts.push_back(text.substr(start, at - start));
  }
  parts.push_back(text.substr(start));
  return parts;
}

/// The markers of one Markdown page; a test failure for a marker with no fenced block right after.
std::vector<DocExample> ExamplesOf(const fs::path& page) {
  static const std::regex kMarker(R"(^<!-- ir-example: (\S+)(?: fix: (.*))? -->$)");
  std::vector<std::string> lines = Split(ReadFile(page), "\n");
  std::vector<DocExample> found;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::smatch m;
    if (!std::regex_match(lines[i], m, kMarker)) {
      continue;
    }
    DocExample example;
    example.where = fs::relative(page, kRoot).string() + ":" + std::to_string(i + 1);
    example.path = m[1];
    if (m[2].matched) {
      for (const std::string& fix : Split(m[2], "; ")) {
        std::vector<std::string> sides = Split(fix, " => ");
        EXPECT_EQ(sides.size(), 2u) << example.where << ": a fix is `OLD => NEW`: " << fix;
        if (sides.size() == 2) {
          example.fixes.emplace_back(sides[0], sides[1]);
        }
      }
    }
    if (i + 1 >= lines.size() || !lines[i + 1].starts_with("```")) {
      ADD_FAILURE() << example.where
                    << ": an ir-example marker must stand just above a fenced block";
      continue;
    }
    size_t j = i + 2;
    for (; j < lines.size() && !lines[j].starts_with("```"); ++j) {
      example.block += lines[j] + "\n";
    }
    found.push_back(example);
    i = j;
  }
  return found;
}

/// `text` with every `{…}` (a location the page leaves out) made an empty object, parsed.
nlohmann::json ParseElided(std::string text) {
  const std::string elided = "{…}";
  for (size_t at; (at = text.find(elided)) != std::string::npos;) {
    text.replace(at, elided.size(), "{}");
  }
  return mvm::testing::ParseJson(text);
}

/// `module` without its source locations, by position as the schema places them: a workload's
/// `source`, and `loc` on its network, rules, secrets, volumes, entrypoints and services.
void DropLocations(nlohmann::json& module) {
  if (!module.contains("workloads")) {
    return;
  }
  for (nlohmann::json& w : module["workloads"]) {
    w.erase("source");
    if (w.contains("network")) {
      w["network"].erase("loc");
      if (w["network"].contains("rules")) {
        for (nlohmann::json& rule : w["network"]["rules"]) {
          rule.erase("loc");
        }
      }
    }
    for (const char* list : {"secrets", "volumes", "entrypoints", "services"}) {
      if (w.contains(list)) {
        for (nlohmann::json& item : w[list]) {
          item.erase("loc");
        }
      }
    }
  }
}

TEST(DocIrExamples, ThePagesShowTheFixtures) {
  std::vector<fs::path> pages = {kRoot / "README.md"};
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(kRoot / "docs")) {
    if (e.is_regular_file() && e.path().extension() == ".md") {
      pages.push_back(e.path());
    }
  }
  std::set<std::string> shown;
  int examples = 0;
  for (const fs::path& page : pages) {
    for (DocExample& example : ExamplesOf(page)) {
      SCOPED_TRACE(example.where);
      ++examples;
      fs::path fixture = kRoot / example.path;
      ASSERT_TRUE(fs::is_regular_file(fixture)) << example.path << " does not exist";
      fs::path rel = fs::relative(fixture, kFixtures);
      ASSERT_FALSE(rel.empty() || rel.begin()->string() == "..")
          << example.path << " is not in tests/fixtures/spec/";
      shown.insert(rel.begin()->string());
      for (const auto& [old_text, new_text] : example.fixes) {
        size_t at = example.block.find(old_text);
        ASSERT_NE(at, std::string::npos) << "the page's block has no `" << old_text << "` to fix";
        ASSERT_EQ(example.block.find(old_text, at + 1), std::string::npos)
            << "`" << old_text << "` occurs more than once in the page's block";
        example.block.replace(at, old_text.size(), new_text);
      }
      if (fixture.extension() == ".json") {
        nlohmann::json shown_ir = ParseElided(example.block);
        ASSERT_FALSE(shown_ir.is_discarded()) << "the page's IR is not JSON once `{…}` is `{}`";
        DropLocations(shown_ir);
        EXPECT_EQ(shown_ir, mvm::testing::ParseJson(ReadFile(fixture)))
            << "the page's IR and " << example.path << " differ";
      } else {
        EXPECT_NE(("\n" + ReadFile(fixture)).find("\n" + example.block), std::string::npos)
            << "the page's block (fixes applied) is not in " << example.path << " as whole lines:\n"
            << example.block;
      }
    }
  }
  EXPECT_GE(examples, 6) << "fewer ir-example markers in the pages than examples";
  for (const std::string& name : FixtureNames()) {
    EXPECT_TRUE(shown.contains(name))
        << "tests/fixtures/spec/" << name << " is the example of no page (no ir-example marker)";
  }
}

}  // namespace
}  // namespace mvm
