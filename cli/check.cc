// `mvmctl check`: parse + passes, print diagnostics, write nothing.

#include "cli/commands.h"
#include "cli/plan_emit.h"

namespace mvm::cli {

std::vector<FlagSpec> CheckFlags() {
  std::vector<FlagSpec> flags = CompilerFlags();
  for (const FlagSpec& f : FileLimitFlags()) {
    flags.push_back(f);
  }
  return flags;
}

std::optional<Error> ApplyCheckFlags(const Args& args, CompileRequest& request) {
  request.keep_ir = false;  // check writes nothing; keeping no IR keeps memory flat in N
  // Which project files ship, so their mistakes show here; their contents matter only to plans.
  request.resolve_files = true;
  request.hash_files = false;
  auto limits = ReadFileLimits(args);
  if (!limits) {
    return limits.error();
  }
  request.file_limits = *limits;
  return std::nullopt;
}

int RunCheck(Args& args) {
  std::string error;
  CompileRequest request;
  DiagnosticFormat format = DiagnosticFormat::kHuman;
  if (!ApplyCompilerFlags(args, request, format, error)) {
    return Fail("check", MakeError(ErrorKind::kUsage, error));
  }
  if (auto problem = ApplyCheckFlags(args, request)) {
    return Fail("check", *problem);
  }
  auto compilation = Compile(request);
  if (!compilation) {
    return FailCompilation("check", compilation.error(), format);
  }
  PrintDiagnostics(*compilation, format);
  return compilation->has_errors() ? kExitInputErrors : kExitOk;
}

}  // namespace mvm::cli
