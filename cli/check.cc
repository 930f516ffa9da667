// `mvmctl check`: parse + passes, print diagnostics, write nothing.

#include "cli/commands.h"

namespace mvm::cli {

int RunCheck(const std::vector<std::string>& argv) {
  const Command& self = FindCommand("check");
  if (WantsHelp(argv, self.usage)) {
    return kExitOk;
  }
  std::string error;
  auto args = ParseArgs(argv, CompilerFlags(), error);
  CompileRequest request;
  DiagnosticFormat format = DiagnosticFormat::kHuman;
  if (!args || !ApplyCompilerFlags(*args, request, format, error)) {
    return Fail("check", MakeError(ErrorKind::kUsage, error));
  }
  request.keep_ir = false;  // check writes nothing; keeping no IR keeps memory flat in N
  auto compilation = Compile(request);
  if (!compilation) {
    return Fail("check", compilation.error());
  }
  PrintDiagnostics(*compilation, format);
  return compilation->has_errors() ? kExitInputErrors : kExitOk;
}

}  // namespace mvm::cli
