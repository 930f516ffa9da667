// libFuzzer target: untrusted IR JSON (SDK record mode output, `mvmctl ir canon`, `compile
// --from-ir`). Whatever FromJson accepts must (1) be a canonical-JSON fixed point:
// FromJson(ToCanonicalJson(m)) succeeds and re-serialises to the same bytes, and (2) go through
// the default pipeline in both profiles without tripping the IR verifier, which FromJson promises
// (ir/verify.h). Rejected input only has its diagnostics rendered.

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mvm::SourceFile file("fuzz.ir.json", std::string(reinterpret_cast<const char*>(data), size));
  mvm::ir::Module module;
  mvm::DiagnosticSink sink;
  bool ok = mvm::ir::FromJson(file, module, sink);
  std::vector<mvm::Diagnostic> diagnostics = sink.Take();
  if (ok == mvm::fuzz::HasErrors(diagnostics)) {
    mvm::fuzz::Fail(ok ? "FromJson accepted the input but reported an error"
                       : "FromJson rejected the input without reporting an error");
  }
  if (!ok) {
    mvm::fuzz::RenderAll(std::move(diagnostics), file);
    return 0;
  }
  (void)mvm::fuzz::CheckCanonicalRoundTrip(module);
  mvm::fuzz::CompileBothProfilesAndRender(module, std::move(diagnostics), file);
  return 0;
}
