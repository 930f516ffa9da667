// `mvmctl logs NAME [--service S] [-f]`: what the sandbox's commands (or one service) printed, as
// its agent keeps it (a bounded ring: the oldest output goes first).

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "cli/commands.h"
#include "cli/runtime_session.h"
#include "ir/support/terminal_text.h"

namespace mvm::cli {

int RunLogs(Args& args) {
  if (args.positional.size() != 1) {
    return Fail("logs", MakeError(ErrorKind::kUsage, "give one sandbox name"));
  }
  auto session = OpenRuntime(args, /*with_trust=*/false, "logs");
  if (!session) {
    return Fail("logs", session.error());
  }
  auto sandbox = runtime::Attach(session->options, args.positional[0]);
  if (!sandbox) {
    return Fail("logs", sandbox.error());
  }
  // The log holds workload output: a terminal gets it escaped (terminal_text.h) unless --raw.
  const bool escape = !args.Has("raw") && IsTerminal(STDOUT_FILENO);
  TerminalEscaper escaper;
  // Tokens stand for secrets; useless outside their sandbox, but no business of a shared screen.
  const bool redact = !args.Has("show-tokens");
  runtime::TokenRedactor redactor;
  std::string shown;
  // What the sandbox's egress proxy refused it (from the audit log), after its output, on stderr:
  // the names in them are the workload's, so they are escaped like its output.
  uint64_t audit_read = 0;  // the audit log's bytes already looked through
  auto show_refusals = [&] {
    for (const std::string& line :
         runtime::EgressRefusals(session->options.state, args.positional[0], &audit_read)) {
      std::fputs((EscapeForTerminal(line) + "\n").c_str(), stderr);
    }
  };
  const std::string service = args.Get("service");
  while (true) {
    auto logs = service.empty() ? sandbox->agent.Logs() : sandbox->agent.ServiceLogs(service);
    if (!logs) {
      // With -f, the sandbox going away is the normal end.
      if (args.Has("f") && !shown.empty()) {
        const std::string rest = redact ? redactor.Finish() : "";
        std::string text = rest;
        if (escape) {
          text = escaper.Feed(rest);
          text += escaper.Finish();
        }
        std::fwrite(text.data(), 1, text.size(), stdout);
        return kExitOk;
      }
      return Fail("logs", logs.error());
    }
    // Print what is new since the last poll. When the ring has dropped what was shown before, the
    // two no longer line up and the whole current tail is printed again.
    std::string_view raw = *logs;
    if (raw.size() >= shown.size() && raw.compare(0, shown.size(), shown) == 0) {
      raw.remove_prefix(shown.size());
    }
    std::string redacted;
    if (redact) {
      redacted = redactor.Feed(raw);
      if (!args.Has("f")) {
        redacted += redactor.Finish();
      }
      raw = redacted;
    }
    std::string_view fresh = raw;
    if (escape) {
      std::string text = escaper.Feed(fresh);
      if (!args.Has("f")) {
        text += escaper.Finish();  // after Feed: the operands of + are unsequenced
      }
      std::fwrite(text.data(), 1, text.size(), stdout);
    } else {
      std::fwrite(fresh.data(), 1, fresh.size(), stdout);
    }
    std::fflush(stdout);
    shown = std::move(*logs);
    show_refusals();
    if (!args.Has("f")) {
      return kExitOk;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

}  // namespace mvm::cli
