// libFuzzer target: one untrusted TypeScript file through everything `mvmctl compile app.ts` does
// with it: tree-sitter parse, declaration reading and lowering, the default pass pipeline in both
// profiles (the IR verifier runs between passes in this build), canonical JSON, digest, and the
// human/JSON/SARIF diagnostic printers. Crashes, sanitizer reports, leaks, CHECK failures, hangs
// and a broken JSON round trip of an error-free compilation are all findings.
//
// The first byte picks the grammar (odd: .tsx, even: .ts), so one corpus reaches both; the rest is
// the file. The parity fixtures (tests/fixtures/parity/*.ts, *.tsx) make a good seed corpus.

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "frontend/frontend.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const char* path = (data[0] & 1) != 0 ? "fuzz.tsx" : "fuzz.ts";
  mvm::SourceFile file(path, std::string(reinterpret_cast<const char*>(data + 1), size - 1));
  mvm::frontend::FrontendResult result = mvm::frontend::ParseSource(file);
  mvm::fuzz::CompileBothProfilesAndRender(result.module, std::move(result.diagnostics), file);
  return 0;
}
