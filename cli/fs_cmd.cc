// `mvmctl fs NAME read|write|ls|rm PATH`: files inside a running sandbox, through its agent (paths
// are confined to the sandbox; `write` reads the content from stdin).

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <iterator>

#include "cli/commands.h"
#include "cli/runtime_session.h"
#include "ir/support/terminal_text.h"

namespace mvm::cli {

int RunFs(const std::vector<std::string>& argv) {
  const Command& self = FindCommand("fs");
  if (WantsHelp(argv, self.usage)) {
    return kExitOk;
  }
  std::vector<FlagSpec> specs = {{"state-dir", true}, {"r", false}};
  std::string error;
  auto args = ParseArgs(argv, specs, error);
  if (!args) {
    return Fail("fs", error, kExitUsage);
  }
  if (args->positional.size() != 3) {
    return Fail("fs", "expected NAME read|write|ls|rm PATH", kExitUsage);
  }
  const std::string& verb = args->positional[1];
  runtime::FileRequest request;
  request.path = args->positional[2];
  request.recursive = args->Has("r");
  if (verb == "read") {
    request.op = runtime::FileOp::kRead;
  } else if (verb == "write") {
    request.op = runtime::FileOp::kWrite;
    request.data.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else if (verb == "ls") {
    request.op = runtime::FileOp::kList;
  } else if (verb == "rm") {
    request.op = runtime::FileOp::kRemove;
  } else {
    return Fail("fs", "unknown action `" + verb + "`; use read, write, ls or rm", kExitUsage);
  }
  auto session = OpenRuntime(*args, /*with_trust=*/false, "fs");
  if (!session) {
    return Fail("fs", session.error().message, kExitEnvironment);
  }
  auto sandbox = runtime::Attach(session->options, args->positional[0]);
  if (!sandbox) {
    return Fail("fs", sandbox.error().message, kExitEnvironment);
  }
  auto result = runtime::RunFileOp(*sandbox, request, session->log());
  if (!result) {
    return Fail("fs", result.error().message, kExitInputErrors);
  }
  // Names and contents come from the sandbox: a terminal gets them escaped (terminal_text.h);
  // a pipe or a file gets the bytes. Redirect `read` to a file for the exact content.
  const bool escape = IsTerminal(STDOUT_FILENO);
  auto shown = [escape](const std::string& text, TerminalEscaper::Kind kind) {
    return escape ? EscapeForTerminal(text, kind) : text;
  };
  if (request.op == runtime::FileOp::kRead) {
    const std::string data = shown(result->data, TerminalEscaper::Kind::kOutput);
    std::fwrite(data.data(), 1, data.size(), stdout);
  }
  for (const runtime::agent::FileEntry& e : result->entries) {
    char type = e.type == runtime::agent::FileEntry::Type::kDir       ? 'd'
                : e.type == runtime::agent::FileEntry::Type::kSymlink ? 'l'
                : e.type == runtime::agent::FileEntry::Type::kFile    ? '-'
                                                                      : '?';
    std::printf(
        "%c%04o %10llu %s%s%s\n", type, e.mode & 07777, static_cast<unsigned long long>(e.size),
        shown(e.name, TerminalEscaper::Kind::kName).c_str(), e.link_target.empty() ? "" : " -> ",
        shown(e.link_target, TerminalEscaper::Kind::kName).c_str());
  }
  return kExitOk;
}

}  // namespace mvm::cli
