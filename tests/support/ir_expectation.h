// Hand-written IR expectations (tests/fixtures/sdk/*/expected.ir.json,
// tests/fixtures/spec/*/expected.ir.json): compiling a declaration and comparing with one. The
// expectations are written from the IR specification (ir/workload.proto, docs/architecture/ir.md,
// docs/declarations.md), never printed by the compiler, so the comparison is semantic: parsed JSON
// against parsed JSON, member order and whitespace aside.
//
// The one thing set aside is source locations (`source` on a workload, `loc` on its nodes): the
// spec makes them no part of what a declaration means (docs/architecture/ir.md, "Digest": moving a
// declaration does not change its IR digest), and each way of writing a workload puts them in a
// different file. They are removed by type (ir::ClearSourceLocs), so a volume's `source`, a host
// path, and an env variable called `loc` are compared like everything else.
#ifndef MVM_TESTS_SUPPORT_IR_EXPECTATION_H_
#define MVM_TESTS_SUPPORT_IR_EXPECTATION_H_

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "cli/compilation.h"
#include "ir/canonical_json.h"
#include "ir/json.h"
#include "ir/support/diagnostic_render.h"
#include "tests/support/files.h"

namespace mvm::testing {

/// The module in `path` (a declaration, or IR with `from_ir`) after every pass, in canonical JSON
/// without locations; "" with a test failure when it does not compile cleanly.
inline std::string CompiledWithoutLocations(const std::filesystem::path& path, bool from_ir) {
  cli::CompileRequest request;
  request.paths = {path.string()};
  request.from_ir = from_ir;
  auto compilation = cli::Compile(request);
  if (!compilation) {
    ADD_FAILURE() << path << ": " << compilation.error().message;
    return "";
  }
  if (compilation->has_errors() || compilation->module.proto.workloads_size() == 0) {
    ADD_FAILURE() << path << " does not compile cleanly:\n" << RenderJson(compilation->diagnostics);
    return "";
  }
  return ir::ToCanonicalJson(compilation->module, {.with_locations = false});
}

/// `text` parsed as JSON; a discarded value when it is not JSON.
inline nlohmann::json ParseJson(std::string_view text) {
  return nlohmann::json::parse(text, /*cb=*/nullptr, /*allow_exceptions=*/false);
}

/// A hand-written expectation, parsed; a test failure (and a discarded value) when it is missing or
/// not JSON. It must not be in the canonical one-line form the compiler prints: that is how a copy
/// of the compiler's output would look, and the point of the file is that it is not one.
inline nlohmann::json ReadHandWrittenIr(const std::filesystem::path& path) {
  std::string text = ReadFile(path);
  nlohmann::json parsed = ParseJson(text);
  if (text.empty() || parsed.is_discarded()) {
    ADD_FAILURE() << path << " is missing, empty or not JSON";
    return nlohmann::json(nlohmann::json::value_t::discarded);
  }
  if (text.ends_with('\n')) {
    text.pop_back();
  }
  EXPECT_NE(text, ir::CanonicalJson(parsed))
      << path << " is in the compiler's canonical form; it is written by hand, laid out as "
      << "ir/workload.proto orders the fields (see tests/fixtures/sdk/README.md), and never "
      << "regenerated from the compiler's output";
  return parsed;
}

/// Success when the IR in `actual` (JSON text) means the same as `expected`; otherwise the JSON
/// Patch that turns the expectation into what the compiler made, and both documents.
inline ::testing::AssertionResult SameIr(std::string_view actual, const nlohmann::json& expected) {
  nlohmann::json parsed = ParseJson(actual);
  if (parsed.is_discarded()) {
    return ::testing::AssertionFailure() << "the compiler's output is not JSON: " << actual;
  }
  if (parsed == expected) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "the compiler's IR differs from the hand-written expectation\n"
         << "  patch from expected to compiled: " << nlohmann::json::diff(expected, parsed).dump()
         << "\n  compiled: " << ir::CanonicalJson(parsed)
         << "\n  expected: " << ir::CanonicalJson(expected);
}

}  // namespace mvm::testing

#endif  // MVM_TESTS_SUPPORT_IR_EXPECTATION_H_
