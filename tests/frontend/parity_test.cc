// Python / TypeScript parity: every tests/fixtures/parity/<name>.py has a <name>.ts (or .tsx) that
// declares the same thing, written line for line. Both go through the whole pipeline (frontend and
// the default passes) and must give the same IR digest and the same diagnostic kinds on the same
// lines. Leading comment lines carry markers the test reads:
//   `# expect: kind kind...` / `// expect: ...`  the set of kinds reported (`none` for a clean
//   file)
//   `# profile: production`                     run the production profile instead of dev
//   `# workloads: 0`                            the file declares nothing (otherwise at least one)

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "frontend/frontend.h"
#include "ir/digest.h"
#include "ir/json.h"
#include "ir/options.h"
#include "passes/pass.h"

namespace mvm::frontend {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = fs::path(MVM_SOURCE_DIR) / "tests" / "fixtures" / "parity";

/// What compiling one fixture produced.
struct Outcome {
  std::string digest;
  std::string ir;  // canonical, without locations: shown when digests differ
  int workloads = 0;
  std::vector<std::pair<uint32_t, std::string>> lines_and_kinds;  // sorted
  std::set<std::string> kinds;
  std::string listing;  // every diagnostic, for failure messages
  std::set<std::string> expected_kinds;
  bool expect_markers = false;
  int expected_workloads = -1;  // -1: at least one
};

/// The value of `marker` (`expect:`) in the leading comment lines of `text`, or nullopt.
std::optional<std::string> Marker(std::string_view text, std::string_view marker) {
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    size_t body = line.starts_with("#") ? 1 : line.starts_with("//") ? 2 : std::string::npos;
    if (body == std::string::npos) {
      return std::nullopt;  // past the leading comments
    }
    std::string_view rest = std::string_view(line).substr(body);
    while (rest.starts_with(' ')) {
      rest.remove_prefix(1);
    }
    if (rest.starts_with(marker)) {
      return std::string(rest.substr(marker.size()));
    }
  }
  return std::nullopt;
}

Outcome Compile(const fs::path& path) {
  Outcome out;
  auto file = SourceFile::Read(path.string());
  if (!file) {
    ADD_FAILURE() << file.error().message;
    return out;
  }
  passes::PassOptions options;
  if (auto profile = Marker(file->contents(), "profile:")) {
    options.profile = profile->find("production") != std::string::npos
                          ? passes::Profile::kProduction
                          : passes::Profile::kDev;
  }
  if (auto expect = Marker(file->contents(), "expect:")) {
    out.expect_markers = true;
    std::istringstream words(*expect);
    for (std::string word; words >> word;) {
      if (word != "none") {
        out.expected_kinds.insert(word);
      }
    }
  }
  if (auto workloads = Marker(file->contents(), "workloads:")) {
    out.expected_workloads = std::stoi(*workloads);
  }

  FrontendResult result = ParseSource(*file);
  auto pipeline = passes::ParsePipeline(passes::kDefaultPipeline);
  EXPECT_TRUE(pipeline.ok());
  DiagnosticSink sink;
  passes::PassContext context{options, sink};
  passes::RunPipeline(*pipeline, result.module, context);
  for (Diagnostic& d : sink.Take()) {
    result.diagnostics.push_back(std::move(d));
  }
  out.digest = ir::ModuleDigest(result.module);
  out.ir = ir::ToCanonicalJson(result.module, ir::JsonOptions{.with_locations = false});
  out.workloads = result.module.proto.workloads_size();
  for (const Diagnostic& d : result.diagnostics) {
    std::string kind(KindInfo(d.kind).name);
    out.lines_and_kinds.emplace_back(d.loc.line, kind);
    out.kinds.insert(kind);
    out.listing += "  " + std::to_string(d.loc.line) + ":" + std::to_string(d.loc.column) + " [" +
                   kind + "] " + d.message + "\n";
  }
  std::sort(out.lines_and_kinds.begin(), out.lines_and_kinds.end());
  return out;
}

/// The fixture names: every `<name>.py` in the fixture directory.
std::vector<std::string> FixtureNames() {
  std::vector<std::string> names;
  for (const fs::directory_entry& entry : fs::directory_iterator(kFixtures)) {
    if (entry.path().extension() == ".py") {
      names.push_back(entry.path().stem().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

/// The TypeScript twin of `name`: `.ts`, else `.tsx`.
fs::path TypeScriptTwin(const std::string& name) {
  fs::path ts = kFixtures / (name + ".ts");
  return fs::exists(ts) ? ts : kFixtures / (name + ".tsx");
}

std::string Describe(const Outcome& o) { return o.listing.empty() ? "  (none)\n" : o.listing; }

class ParityTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ParityTest, SameIrAndSameDiagnosticsOnTheSameLines) {
  const std::string& name = GetParam();
  fs::path ts_path = TypeScriptTwin(name);
  ASSERT_TRUE(fs::exists(ts_path)) << name << ".py has no .ts or .tsx twin";
  Outcome py = Compile(kFixtures / (name + ".py"));
  Outcome ts = Compile(ts_path);

  EXPECT_EQ(py.digest, ts.digest) << "python IR:     " << py.ir << "\ntypescript IR: " << ts.ir;
  EXPECT_EQ(py.lines_and_kinds, ts.lines_and_kinds) << "python:\n"
                                                    << Describe(py) << "typescript:\n"
                                                    << Describe(ts);
  for (const Outcome* o : {&py, &ts}) {
    const char* language = o == &py ? "python" : "typescript";
    ASSERT_TRUE(o->expect_markers) << language << " fixture has no `expect:` line";
    EXPECT_EQ(o->kinds, o->expected_kinds) << language << ":\n" << Describe(*o);
    if (o->expected_workloads >= 0) {
      EXPECT_EQ(o->workloads, o->expected_workloads) << language;
    } else {
      EXPECT_GE(o->workloads, 1) << language << " fixture declares nothing: " << o->ir;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ParityTest, ::testing::ValuesIn(FixtureNames()),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           return param.param;
                         });

TEST(ParitySuiteTest, EveryTypeScriptFixtureHasAPythonTwin) {
  int pairs = 0;
  for (const fs::directory_entry& entry : fs::directory_iterator(kFixtures)) {
    std::string ext = entry.path().extension().string();
    if (ext == ".ts" || ext == ".tsx") {
      fs::path py = entry.path();
      py.replace_extension(".py");
      EXPECT_TRUE(fs::exists(py)) << entry.path() << " has no Python twin";
      ++pairs;
    }
  }
  EXPECT_GE(pairs, 30);
}

/// Every kind one source file can produce in either profile is somewhere in the suite. (Not every
/// kind of the registry: `invalid-ir` needs IR JSON input, policy kinds a policy file.)
TEST(ParitySuiteTest, CoversEverySingleFileDiagnosticKind) {
  std::set<std::string> seen;
  for (const std::string& name : FixtureNames()) {
    for (const std::string& kind : Compile(kFixtures / (name + ".py")).kinds) {
      seen.insert(kind);
    }
  }
  for (const char* kind : {"syntax-error",
                           "non-static",
                           "unknown-option",
                           "type-mismatch",
                           "missing-option",
                           "plaintext-secret",
                           "duplicate-option",
                           "misplaced-declaration",
                           "out-of-range",
                           "invalid-id",
                           "duplicate-workload-id",
                           "no-entrypoint",
                           "invalid-image-ref",
                           "invalid-host",
                           "duplicate-entrypoint",
                           "invalid-value",
                           "secret-host-not-allowed",
                           "mutable-image-tag",
                           "missing-timeout",
                           "weak-isolation",
                           "unsafe-mount"}) {
    EXPECT_TRUE(seen.contains(kind)) << "no parity fixture reports " << kind;
  }
}

/// Every option of ir/options.def is spelled, in its language's spelling, in some fixture of each
/// language (a cheap textual check; the digests prove the values agree).
TEST(ParitySuiteTest, CoversEveryOption) {
  std::string python;
  std::string typescript;
  for (const fs::directory_entry& entry : fs::directory_iterator(kFixtures)) {
    auto file = SourceFile::Read(entry.path().string());
    ASSERT_TRUE(file.ok());
    (entry.path().extension() == ".py" ? python : typescript) += file->contents();
  }
  for (const ir::OptionInfo& o : ir::AllOptions()) {
    EXPECT_NE(python.find(std::string(o.python)), std::string::npos) << o.python;
    EXPECT_NE(typescript.find(std::string(o.typescript)), std::string::npos) << o.typescript;
  }
}

}  // namespace
}  // namespace mvm::frontend
