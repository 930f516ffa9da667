// `mvmctl lsp`: the language server over stdio.

#include <unistd.h>

#include <csignal>

#include "cli/commands.h"
#include "cli/org_policy_file.h"
#include "lsp/server.h"

namespace mvm::cli {

int RunLsp(Args& args) {
  // Editors pass --stdio by convention; stdio is the only transport.
  for (const std::string& arg : args.positional) {
    if (arg != "--stdio") {
      return Fail("lsp", MakeError(ErrorKind::kUsage, "unexpected argument `" + arg + "`"));
    }
  }
  // An editor that goes away must end the server through a failed write, not kill it mid-reply.
  std::signal(SIGPIPE, SIG_IGN);
  lsp::ServerOptions options;
  options.read_policy = [](const std::string& path) { return ReadOrgPolicy(path); };
  return lsp::RunServer(STDIN_FILENO, STDOUT_FILENO, std::move(options));
}

}  // namespace mvm::cli
