// Shared by the libFuzzer targets: everything the CLI does with a module and its diagnostics after
// reading a file, so a fuzzer reaches what `mvmctl compile` / `mvmctl ir canon` reach.

#ifndef MVM_TESTS_FUZZ_FUZZ_SUPPORT_H_
#define MVM_TESTS_FUZZ_FUZZ_SUPPORT_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/reflection.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
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
  std::fprintf(stderr, "fuzz property violated: %.*s\n", static_cast<int>(what.size()),
               what.data());
  if (!first.empty()) {
    std::fprintf(stderr, "--- first\n%.*s\n", static_cast<int>(first.size()), first.data());
  }
  if (!second.empty()) {
    std::fprintf(stderr, "--- second\n%.*s\n", static_cast<int>(second.size()), second.data());
  }
  std::abort();
}

/// True when `s` is UTF-8 that JSON can carry (no surrogates, no overlong forms, at most U+10FFFF).
inline bool IsValidUtf8(std::string_view s) {
  static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;  // continuation bytes
    uint32_t cp = c;
    if (c >= 0x80) {
      if ((c & 0xE0) == 0xC0) {
        n = 1, cp = c & 0x1F;
      } else if ((c & 0xF0) == 0xE0) {
        n = 2, cp = c & 0x0F;
      } else if ((c & 0xF8) == 0xF0) {
        n = 3, cp = c & 0x07;
      } else {
        return false;
      }
    }
    if (n >= s.size() - i) {
      return false;
    }
    for (size_t k = 1; k <= n; ++k) {
      auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

/// Aborts when a string anywhere in `message` (map keys included) is not valid UTF-8: the IR's JSON
/// form cannot hold it, and protobuf's JSON printer drops such bytes silently.
inline void CheckStringsAreUtf8(const google::protobuf::Message& message) {
  namespace pb = google::protobuf;
  const pb::Descriptor* descriptor = message.GetDescriptor();
  const pb::Reflection* reflection = message.GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const pb::FieldDescriptor* field = descriptor->field(i);
    if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING) {
      std::string scratch;
      if (field->is_repeated()) {
        for (int k = 0; k < reflection->FieldSize(message, field); ++k) {
          const std::string& v =
              reflection->GetRepeatedStringReference(message, field, k, &scratch);
          if (!IsValidUtf8(v)) {
            Fail("a string in the IR is not valid UTF-8", field->full_name(), v);
          }
        }
      } else if (!IsValidUtf8(reflection->GetStringReference(message, field, &scratch))) {
        Fail("a string in the IR is not valid UTF-8", field->full_name(),
             reflection->GetStringReference(message, field, &scratch));
      }
    } else if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      // Maps are repeated entry messages with `key` and `value` fields, so they are covered here.
      if (field->is_repeated()) {
        for (int k = 0; k < reflection->FieldSize(message, field); ++k) {
          CheckStringsAreUtf8(reflection->GetRepeatedMessage(message, field, k));
        }
      } else if (reflection->HasField(message, field)) {
        CheckStringsAreUtf8(reflection->GetMessage(message, field));
      }
    }
  }
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
/// SARIF). The output is dropped: the renderers are exercised for memory errors and crashes. SARIF
/// is skipped when there is nothing to report: its rule table does not depend on the input, and
/// building it would dominate the time of a clean input.
inline void RenderAll(std::vector<Diagnostic> diagnostics, const SourceFile& file) {
  SortDiagnostics(diagnostics);
  auto lookup = [&](std::string_view path) -> const SourceFile* {
    return path == file.path() ? &file : nullptr;
  };
  (void)RenderHuman(diagnostics, lookup, HumanRenderOptions{.color = true});
  (void)RenderJson(diagnostics);
  if (!diagnostics.empty()) {
    (void)RenderSarif(
        diagnostics,
        SarifOptions{
            .tool_version = "fuzz", .base_directory = "/src", .failure = "", .exit_code = 0});
  }
}

inline bool HasErrors(const std::vector<Diagnostic>& diagnostics) {
  return std::any_of(diagnostics.begin(), diagnostics.end(),
                     [](const Diagnostic& d) { return d.severity == Severity::kError; });
}

/// The IR JSON fixed point: every string is valid UTF-8, and canonical JSON that mvm wrote reads
/// back without diagnostics and re-serialises to the same bytes. Returns the canonical text.
inline std::string CheckCanonicalRoundTrip(const ir::Module& module) {
  CheckStringsAreUtf8(module.proto);
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
/// and digest. When nothing was an error, the compiled module must also survive the canonical JSON
/// round trip (`compile -o` output is read back by `--from-ir`). Appends the passes' diagnostics to
/// `diagnostics` (which holds the reader's, to decide whether there were errors).
inline void CompileAndEmit(const ir::Module& module, std::vector<Diagnostic>& diagnostics,
                           passes::Profile profile) {
  ir::Module compiled = module;
  DiagnosticSink sink;
  passes::PassOptions options;
  options.profile = profile;
  passes::PassContext context{options, sink};
  passes::RunPipeline(DefaultPipeline(), compiled, context);
  std::vector<Diagnostic> found = sink.Take();
  if (HasErrors(diagnostics) || HasErrors(found)) {
    CheckStringsAreUtf8(compiled.proto);
    (void)ir::ToCanonicalJson(compiled);
  } else {
    (void)CheckCanonicalRoundTrip(compiled);
  }
  (void)ir::ModuleDigest(compiled);
  for (Diagnostic& d : found) {
    diagnostics.push_back(std::move(d));
  }
}

/// Everything after reading: the pipeline in the dev and in the production profile, then one
/// rendering of the reader's diagnostics plus both pipelines'.
inline void CompileBothProfilesAndRender(const ir::Module& module,
                                         std::vector<Diagnostic> diagnostics,
                                         const SourceFile& file) {
  const size_t read = diagnostics.size();
  std::vector<Diagnostic> production = diagnostics;
  CompileAndEmit(module, diagnostics, passes::Profile::kDev);
  CompileAndEmit(module, production, passes::Profile::kProduction);
  diagnostics.insert(diagnostics.end(), std::make_move_iterator(production.begin() + read),
                     std::make_move_iterator(production.end()));
  RenderAll(std::move(diagnostics), file);
}

}  // namespace mvm::fuzz

#endif  // MVM_TESTS_FUZZ_FUZZ_SUPPORT_H_
