// Shared by the libFuzzer targets: everything the CLI does with a module and its diagnostics after
// reading a file, so a fuzzer reaches what `mvmctl compile` / `mvmctl ir canon` reach.

#ifndef MVM_TESTS_FUZZ_FUZZ_SUPPORT_H_
#define MVM_TESTS_FUZZ_FUZZ_SUPPORT_H_

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "ir/digest.h"
#include "ir/json.h"
#include "ir/module.h"
#include "ir/support/diagnostic.h"
#include "ir/support/diagnostic_render.h"
#include "ir/support/source_file.h"
#include "passes/pass.h"

namespace mvm::fuzz {

/// Prints `what` with both texts and aborts: a property of mvm (not of the input) is broken, and
/// libFuzzer saves the input that broke it.
[[noreturn]] inline void Fail(std::string_view what, std::string_view first = {},
                              std::string_view second = {}) {
  std::fprintf(stderr, "fuzz property violated: %.*s\n", static_cast<int>(what.size()), what.data());
  if (!first.empty()) {
    std::fprintf(stderr, "--- first\n%.*s\n", static_cast<int>(first.size()), first.data());
  }
  if (!second.empty()) {
    std::fprintf(stderr, "--- second\n%.*s\n", static_cast<int>(second.size()), second.data());
  }
  std::abort();
}

/// The default pipeline, parsed once (it is a constant, so failing to parse it is a bug).
inline const std::vector<const passes::PassInfo*>& DefaultPipeline() {
  static const std::vector<const passes::PassInfo*>* const kPipeline = [] {
    auto parsed = passes::ParsePipeline(passes::kDefaultPipeline);
    if (!parsed) {
      Fail("the default pipeline does not parse", parsed.error().message);
    }
    return new std::vector<const passes::PassInfo*>(std::move(*parsed));
  }();
  return *kPipeline;
}

/// Renders `diagnostics` the three ways the CLI can (human with source lines from `file`, JSON,
/// SARIF). The output is dropped: the renderers are exercised for memory errors and crashes.
inline void RenderAll(std::vector<Diagnostic> diagnostics, const SourceFile& file) {
  SortDiagnostics(diagnostics);
  auto lookup = [&](std::string_view path) -> const SourceFile* {
    return path == file.path() ? &file : nullptr;
  };
  (void)RenderHuman(diagnostics, lookup, HumanRenderOptions{.color = true});
  (void)RenderJson(diagnostics);
  (void)RenderSarif(diagnostics, "fuzz");
}

inline bool HasErrors(const std::vector<Diagnostic>& diagnostics) {
  return std::any_of(diagnostics.begin(), diagnostics.end(),
                     [](const Diagnostic& d) { return d.severity == Severity::kError; });
}

/// The IR JSON fixed point: canonical JSON that mvm wrote must read back without diagnostics and
/// re-serialise to the same bytes. Returns the canonical text.
inline std::string CheckCanonicalRoundTrip(const ir::Module& module) {
  std::string first = ir::ToCanonicalJson(module);
  SourceFile again("canonical.ir.json", first);
  ir::Module reread;
  DiagnosticSink sink;
  if (!ir::FromJson(again, reread, sink)) {
    std::string why = RenderHuman(sink.diagnostics(), [&](std::string_view) { return &again; });
    Fail("FromJson rejects the canonical JSON that ToCanonicalJson wrote", first, why);
  }
  std::string second = ir::ToCanonicalJson(reread);
  if (second != first) {
    Fail("FromJson(ToCanonicalJson(m)) does not re-serialise identically", first, second);
  }
  return first;
}

/// Runs the default pipeline over a copy of `module` in `profile` (what `mvmctl compile` does, and
/// with MVM_VERIFY_BETWEEN_PASSES the IR verifier after each pass), then writes the module's JSON
/// and digest and renders every diagnostic. When nothing was an error, the compiled module must
/// also survive the canonical JSON round trip (`compile -o` output is read back by `--from-ir`).
inline void CompileAndEmit(const ir::Module& module, std::vector<Diagnostic> diagnostics,
                           passes::Profile profile, const SourceFile& file) {
  ir::Module compiled = module;
  DiagnosticSink sink;
  passes::PassOptions options;
  options.profile = profile;
  passes::PassContext context{options, sink};
  passes::RunPipeline(DefaultPipeline(), compiled, context);
  for (Diagnostic& d : sink.Take()) {
    diagnostics.push_back(std::move(d));
  }
  if (HasErrors(diagnostics)) {
    (void)ir::ToCanonicalJson(compiled);
  } else {
    (void)CheckCanonicalRoundTrip(compiled);
  }
  (void)ir::ModuleDigest(compiled);
  RenderAll(std::move(diagnostics), file);
}

}  // namespace mvm::fuzz

#endif  // MVM_TESTS_FUZZ_FUZZ_SUPPORT_H_
