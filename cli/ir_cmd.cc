// `mvmctl ir show|canon|digest`: look at Workload IR.

#include <unistd.h>

#include <cstdio>

#include "cli/commands.h"
#include "ir/digest.h"
#include "ir/json.h"

namespace mvm::cli {

int RunIr(Args& args) {
  if (args.positional.size() != 2) {
    return Fail("ir",
                MakeError(ErrorKind::kUsage,
                          "expected `show FILE`, `canon FILE.ir.json` or `digest FILE.ir.json`"));
  }
  const std::string& action = args.positional[0];
  CompileRequest request;
  request.paths = {args.positional[1]};
  if (action == "show") {
    request.phase = Phase::kFrontend;
  } else if (action == "canon" || action == "digest") {
    request.from_ir = true;
    request.phase = Phase::kFrontend;
  } else {
    return Fail("ir", MakeError(ErrorKind::kUsage, "unknown action `" + action +
                                                       "`; use `show`, `canon` or `digest`"));
  }
  DiagnosticFormat format = DiagnosticFormat::kHuman;
  std::string f = args.Get("format", "human");
  if (f == "json") {
    format = DiagnosticFormat::kJson;
  } else if (f != "human") {
    return Fail("ir",
                MakeError(ErrorKind::kUsage, "unknown format `" + f + "`; use `human` or `json`"));
  }
  auto compilation = Compile(request);
  if (!compilation) {
    return FailCompilation("ir", compilation.error(), format);
  }
  if (compilation->has_errors()) {
    PrintDiagnostics(*compilation, format);
    return kExitInputErrors;
  }
  std::string out = action == "digest" ? ir::ModuleDigest(compilation->module)
                                       : ir::ToCanonicalJson(compilation->module);
  // The canonical bytes exactly, as `compile` writes them, so they hash the same; a newline only
  // for a terminal.
  if (action == "digest" || isatty(STDOUT_FILENO)) {
    out += "\n";
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

}  // namespace mvm::cli
