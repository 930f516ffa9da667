// The SDK fixture suite (tests/fixtures/sdk/<name>/): one workload written four ways must be one
// IR, and that IR must be the one the spec gives. `decl.py` and `decl.ts` are compiled statically,
// `record.py` and `record.ts` (compiled by tsc) are run in SDK record mode and their IR compiled as
// `mvmctl compile --from-ir` does. Every result, after the whole pass pipeline, must mean the same
// as `expected.ir.json`, which is written by hand from the IR specification and never printed by
// the compiler (tests/fixtures/sdk/README.md): compared as parsed JSON, with source locations set
// aside (tests/support/ir_expectation.h says why those and nothing else). A fixture without
// declarations (one using `files.write`, which a declaration cannot say) checks the two record
// modes alone.
//
// The record outputs are also checked raw: the SDKs must write canonical JSON (RFC 8785) exactly as
// `mvmctl ir canon` would, locations included.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/compilation.h"
#include "ir/json.h"
#include "tests/support/command.h"
#include "tests/support/files.h"
#include "tests/support/ir_expectation.h"
#include "tests/support/temp_dir.h"

namespace mvm {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = fs::path(MVM_SOURCE_DIR) / "tests" / "fixtures" / "sdk";

using mvm::testing::CompiledWithoutLocations;
using mvm::testing::ReadFile;
using mvm::testing::SameIr;

/// The record file as parsed, before any pass, in canonical form with its locations.
std::string ParsedCanonical(const fs::path& path) {
  cli::CompileRequest request;
  request.paths = {path.string()};
  request.from_ir = true;
  request.phase = cli::Phase::kFrontend;
  auto compilation = cli::Compile(request);
  if (!compilation || compilation->has_errors()) {
    ADD_FAILURE() << path << " is not valid IR";
    return "";
  }
  return ir::ToCanonicalJson(compilation->module);
}

/// Runs `argv` in `dir` with `env` added. A record script may print; the IR goes to
/// MVM_RECORD_OUT.
mvm::testing::CommandResult RunScript(const std::vector<std::string>& argv, const fs::path& dir,
                                      const std::vector<std::pair<std::string, std::string>>& env) {
  mvm::testing::CommandOptions options;
  options.cwd = dir;
  for (const auto& [name, value] : env) {
    options.env.push_back(name + "=" + value);
  }
  return mvm::testing::RunCommand(argv, options);
}

class SdkFixtures : public ::testing::Test {
 protected:
  /// Runs a record script and checks what it wrote: canonical as written, and the same IR as
  /// `expected` after the passes.
  void CheckRecord(const std::string& fixture, const std::string& how,
                   const std::vector<std::string>& argv,
                   std::vector<std::pair<std::string, std::string>> env,
                   const nlohmann::json& expected) {
    SCOPED_TRACE(fixture + " through " + how);
    fs::path out = scratch_ / (fixture + "." + how + ".ir.json");
    env.emplace_back("MVM_SDK_MODE", "record");
    env.emplace_back("MVM_RECORD_OUT", out.string());
    mvm::testing::CommandResult ran = RunScript(argv, kFixtures / fixture, env);
    ASSERT_EQ(ran.status, 0) << "the record script failed: " << ran.Describe();
    ASSERT_TRUE(fs::exists(out)) << "the record script wrote no IR to MVM_RECORD_OUT";
    EXPECT_EQ(ReadFile(out), ParsedCanonical(out))
        << "the SDK's output is not the canonical JSON mvmctl writes for it";
    EXPECT_TRUE(SameIr(CompiledWithoutLocations(out, /*from_ir=*/true), expected));
  }

  mvm::testing::TempDir tmp_;
  const fs::path scratch_ = tmp_.path();
};

TEST_F(SdkFixtures, EveryWayOfWritingAFixtureGivesTheSameIr) {
  std::vector<std::string> fixtures;
  for (const fs::directory_entry& e : fs::directory_iterator(kFixtures)) {
    if (e.is_directory()) {
      fixtures.push_back(e.path().filename().string());
    }
  }
  std::sort(fixtures.begin(), fixtures.end());
  ASSERT_GE(fixtures.size(), 4u) << "the fixture suite went missing from " << kFixtures;
  int declarations = 0;
  for (const std::string& name : fixtures) {
    SCOPED_TRACE(name);
    fs::path dir = kFixtures / name;
    nlohmann::json expected = mvm::testing::ReadHandWrittenIr(dir / "expected.ir.json");
    ASSERT_FALSE(expected.is_discarded());
    // The hand-written IR is valid IR, already in the form the passes leave (normalised).
    EXPECT_TRUE(
        SameIr(CompiledWithoutLocations(dir / "expected.ir.json", /*from_ir=*/true), expected))
        << "expected.ir.json is not IR the passes accept unchanged";

    for (const char* decl : {"decl.py", "decl.ts"}) {
      if (fs::exists(dir / decl)) {
        SCOPED_TRACE(decl);
        ++declarations;
        EXPECT_TRUE(SameIr(CompiledWithoutLocations(dir / decl, /*from_ir=*/false), expected));
      }
    }
    ASSERT_TRUE(fs::exists(dir / "record.py") && fs::exists(dir / "record.ts"))
        << "every fixture has a Python and a TypeScript record script";
    CheckRecord(name, "python", {MVM_PYTHON, "record.py"},
                {{"PYTHONPATH", (fs::path(MVM_SOURCE_DIR) / "sdks" / "python").string()},
                 {"PYTHONDONTWRITEBYTECODE", "1"}},
                expected);
    fs::path compiled = fs::path(MVM_SDK_TS_FIXTURES) / name / "record.js";
    CheckRecord(name, "typescript", {MVM_NODE, "--enable-source-maps", compiled.string()}, {},
                expected);
  }
  EXPECT_GE(declarations, 8) << "fewer declarations than fixtures written to be declared";
}

}  // namespace
}  // namespace mvm
