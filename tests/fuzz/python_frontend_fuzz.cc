// libFuzzer target: one untrusted Python file through everything `mvmctl compile app.py` does with
// it: PEP 263 decoding, tree-sitter parse, declaration reading and lowering, the default pass
// pipeline in both profiles (the IR verifier runs between passes in this build), canonical JSON,
// digest, and the human/JSON/SARIF diagnostic printers. Crashes, sanitizer reports, leaks, CHECK
// failures, hangs and a broken JSON round trip of an error-free compilation are all findings.

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "frontend/frontend.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mvm::SourceFile file("fuzz.py", std::string(reinterpret_cast<const char*>(data), size));
  mvm::DiagnosticSink sink;
  if (!mvm::frontend::DecodeSource(file, sink)) {
    mvm::fuzz::CompileBothProfilesAndRender(mvm::ir::Module(), sink.Take(), file);
    return 0;
  }
  mvm::frontend::FrontendResult result = mvm::frontend::ParseSource(file);
  mvm::fuzz::CompileBothProfilesAndRender(result.module, std::move(result.diagnostics), file);
  return 0;
}
