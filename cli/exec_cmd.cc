// `mvmctl exec NAME [--timeout S] [-i] [-t] [-e K=V]... -- CMD...`: run a command in a running
// sandbox.

#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/host_terminal.h"
#include "cli/runtime_session.h"
#include "ir/support/terminal_text.h"

namespace mvm::cli {

int RunExec(Args& args) {
  if (args.positional.size() != 1 || args.after_dashdash.empty()) {
    return Fail("exec",
                MakeError(ErrorKind::kUsage, "give a sandbox name and a command after `--`"));
  }
  std::string format = args.Get("format", "human");
  if (format != "human" && format != "json") {
    return Fail("exec", MakeError(ErrorKind::kUsage,
                                  "unknown format `" + format + "`; use `human` or `json`"));
  }
  const bool tty = args.Has("t");
  if (tty) {
    if (auto refused = CheckTerminalRequest(format == "json")) {
      return Fail("exec", *refused);
    }
  }
  uint32_t timeout = 0;
  if (args.Has("timeout")) {
    std::string t = args.Get("timeout");
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), timeout);
    if (ec != std::errc() || end != t.data() + t.size() || timeout == 0 || timeout > 86400) {
      return Fail("exec",
                  MakeError(ErrorKind::kUsage,
                            "`--timeout " + t + "`: expected whole seconds from 1 to 86400"));
    }
  }
  runtime::agent::ExecRequest request;
  request.argv = args.after_dashdash;
  request.cwd = args.Get("cwd", "/");
  if (auto it = args.flags.find("e"); it != args.flags.end()) {
    for (const std::string& kv : it->second) {
      size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) {
        return Fail("exec", MakeError(ErrorKind::kUsage, "`-e " + kv + "`: expected NAME=VALUE"));
      }
      request.env.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
  }
  if (args.Has("i")) {
    request.stdin_fd = STDIN_FILENO;
  }
  auto session = OpenRuntime(args, /*with_trust=*/false, "exec");
  if (!session) {
    return FailRun("exec", session.error());
  }
  const std::string& name = args.positional[0];
  auto record = runtime::ReadRecord(session->options.state, name);
  if (!record) {
    return FailRun("exec", record.error());
  }
  if (!runtime::IsRunning(*record)) {
    return FailRun("exec", Error{"sandbox `" + name + "` is not running"});
  }
  if (record->paused) {
    return FailRun("exec", runtime::PausedError(name));
  }
  // `-e` of the same name wins over the sandbox's variables, and `--cwd` over an image's
  // WorkingDir.
  runtime::PrepareSandboxExec(*record, request, /*cwd_given=*/args.Has("cwd"));
  std::optional<HostTerminal> terminal;
  if (tty) {
    terminal.emplace();
  }
  auto client = runtime::agent::Client::Connect(session->options.state.AgentSocket(name),
                                                std::chrono::seconds(2));
  if (!client) {
    return FailRun("exec", client.error());
  }
  std::string out, err;
  bool json = format == "json";
  // The command's output reaches a terminal escaped (terminal_text.h) unless --raw; a pipe or a
  // file gets the bytes. JSON escapes what it must by itself. With -t the command has a terminal
  // of its own, and what it writes there is meant for the user's as it is.
  const bool escape[2] = {!tty && !args.Has("raw") && IsTerminal(STDOUT_FILENO),
                          !tty && !args.Has("raw") && IsTerminal(STDERR_FILENO)};
  TerminalEscaper escapers[2];
  auto sink = [&](runtime::agent::Stream stream, std::string_view data) {
    const int i = stream == runtime::agent::Stream::kStdout ? 0 : 1;
    if (json) {
      (i == 0 ? out : err).append(data);
      return;
    }
    std::FILE* f = i == 0 ? stdout : stderr;
    if (escape[i]) {
      const std::string shown = escapers[i].Feed(data);
      std::fwrite(shown.data(), 1, shown.size(), f);
    } else {
      std::fwrite(data.data(), 1, data.size(), f);
    }
    std::fflush(f);
  };
  auto outcome =
      runtime::Exec(session->options, *record, *client, std::move(request), sink, timeout,
                    session->log(), "--timeout", terminal ? &*terminal : nullptr);
  for (int i : {0, 1}) {
    if (!json && escape[i]) {
      const std::string rest = escapers[i].Finish();
      std::fwrite(rest.data(), 1, rest.size(), i == 0 ? stdout : stderr);
    }
  }
  if (!outcome) {
    return FailRun("exec", outcome.error());
  }
  if (json) {
    nlohmann::json j = {{"stdout", out},
                        {"stderr", err},
                        {"exit_code", outcome->exit_status},
                        {"timed_out", outcome->result.timed_out},
                        {"audit_id", outcome->audit_id}};
    if (!outcome->message.empty()) {
      j["message"] = outcome->message;
    }
    // Workload output need not be UTF-8; replace rather than fail.
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else if (!outcome->message.empty()) {
    std::fprintf(stderr, "mvmctl exec: %s\n", outcome->message.c_str());
  }
  if (!args.Has("i")) {
    NoteUnreadStdin("exec");
  }
  return outcome->exit_status;
}

}  // namespace mvm::cli
