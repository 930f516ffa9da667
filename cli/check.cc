// `mvmctl check`: parse + passes, print diagnostics, write nothing.

#include "cli/commands.h"

namespace mvm::cli {

int RunCheck(Args& args) {
  std::string error;
  CompileRequest request;
  DiagnosticFormat format = DiagnosticFormat::kHuman;
  if (!ApplyCompilerFlags(args, request, format, error)) {
    return Fail("check", MakeError(ErrorKind::kUsage, error));
  }
  request.keep_ir = false;  // check writes nothing; keeping no IR keeps memory flat in N
  auto compilation = Compile(request);
  if (!compilation) {
    return FailCompilation("check", compilation.error(), format);
  }
  PrintDiagnostics(*compilation, format);
  return compilation->has_errors() ? kExitInputErrors : kExitOk;
}

}  // namespace mvm::cli
