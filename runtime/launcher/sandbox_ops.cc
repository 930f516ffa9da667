// What runs against a live sandbox through its agent: a command (Exec, with the host's guard and
// the audit of what the agent reports), and the file operations of `mvmctl fs` (Attach, RunFileOp).

#include <sys/syscall.h>
#include <unistd.h>

#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "runtime/launcher/internal.h"
#include "runtime/launcher/launcher.h"

namespace mvm::runtime {

using namespace internal;  // NOLINT(google-build-using-namespace)

namespace {

/// How long the agent may overrun a workload's timeout before the launcher kills the sandbox
/// itself: the agent enforces the timeout, the launcher only guards against an agent that stopped
/// answering.
constexpr auto kTimeoutGrace = std::chrono::seconds(10);

}  // namespace

ExecOutcome DescribeExec(const agent::ExecResult& result, bool oom_killed, uint32_t memory_mb,
                         uint32_t timeout_seconds, std::string_view timeout_option,
                         bool on_terminal) {
  ExecOutcome out;
  out.result = result;
  if (result.timed_out) {
    out.exit_status = kExitTimeout;
    out.message = "timed out after " + std::to_string(timeout_seconds) + " s (" +
                  std::string(timeout_option) + "); the command and its children were killed";
  } else if (!result.error.empty()) {
    out.exit_status = result.exit_code;
    out.message = result.error;
  } else if (result.signal != 0) {
    out.exit_status = 128 + result.signal;
    if (oom_killed && result.signal == SIGKILL) {
      out.message = "killed: memory limit " + std::to_string(memory_mb) + " MiB reached";
    } else if (on_terminal && result.signal == SIGINT) {
      // The user's ^C; the terminal echoed it, and docker says nothing more either.
    } else {
      const char* name = sigabbrev_np(result.signal);
      out.message = "killed by signal " + std::to_string(result.signal) +
                    (name != nullptr ? std::string(" (SIG") + name + ")" : "");
    }
  } else {
    out.exit_status = result.exit_code;
  }
  auto truncated = [&](std::string_view stream, uint64_t produced, uint64_t dropped) {
    if (dropped == 0) {
      return;
    }
    std::string line = std::string(stream) + " truncated: " + std::to_string(dropped) + " of " +
                       std::to_string(produced) + " bytes dropped (output limit)";
    out.message += out.message.empty() ? line : "\n" + line;
  };
  truncated("stdout", result.stdout_bytes, result.stdout_dropped);
  truncated("stderr", result.stderr_bytes, result.stderr_dropped);
  return out;
}

ErrorOr<ExecOutcome> Exec(const LauncherOptions& options, const SandboxRecord& record,
                          agent::Client& agent, agent::ExecRequest request,
                          const agent::OutputSink& sink, uint32_t timeout_seconds,
                          audit::Log& audit, std::string_view timeout_option,
                          ExecTerminal* terminal, std::optional<audit::Log::Event>* exit_record,
                          std::span<const audit::Log::Event> before) {
  (void)options;
  request.timeout_ms = timeout_seconds * 1000;
  if (terminal != nullptr) {
    terminal->Prepare(request);
  }
  std::string command;
  for (const std::string& a : request.argv) {
    command += (command.empty() ? "" : " ") + a;
  }
  nlohmann::json begun = {{"sandbox", record.name}, {"command", command}};
  if (request.tty) {
    begun["tty"] = true;
  }
  // First: `before` holds a run's `launch`, which no error below may drop.
  std::vector<audit::Log::Event> step(before.begin(), before.end());
  step.push_back({"exec", std::move(begun)});
  (void)audit.AppendAll(step);
  auto backend = backends::Find(record.backend);
  if (!backend) {
    return backend.error();
  }
  auto record_exit = [&](nlohmann::json fields) -> std::string {
    if (exit_record != nullptr) {
      exit_record->emplace(audit::Log::Event{"exec-exit", std::move(fields)});
      return "";
    }
    auto id = audit.Append("exec-exit", fields);
    return id ? *id : "";
  };

  // The agent enforces the timeout; this guard covers an agent that stopped answering, from the
  // first request of this exec (the guest's OOM count) to its last.
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
  bool guard_fired = false;
  std::thread guard;
  if (timeout_seconds > 0) {
    guard = std::thread([&] {
      std::unique_lock<std::mutex> lock(mu);
      if (!cv.wait_for(lock, std::chrono::seconds(timeout_seconds) + kTimeoutGrace,
                       [&] { return finished; })) {
        guard_fired = true;
        SignalRecord(record, SIGKILL);
      }
    });
  }
  auto end_guard = [&] {
    {
      std::lock_guard<std::mutex> lock(mu);
      finished = true;
    }
    cv.notify_all();
    if (guard.joinable()) {
      guard.join();
    }
  };
  auto oom_before = (*backend)->OomKills(record.InstanceName(), agent);
  if (terminal != nullptr) {
    if (auto raw = terminal->Enter(); !raw) {
      end_guard();
      return Error{"the terminal: " + raw.error().message + "; run without -t"};
    }
  }
  const auto started = Clock::now();
  auto result = agent.Exec(request, sink);
  if (terminal != nullptr) {
    terminal->Restore();
  }
  const auto wall_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  auto oom_after = result ? (*backend)->OomKills(record.InstanceName(), agent)
                          : ErrorOr<uint64_t>(Error{"no exec result"});
  end_guard();
  if (!result || guard_fired) {
    if (guard_fired) {
      agent::ExecResult timed_out;
      timed_out.timed_out = true;
      ExecOutcome out =
          DescribeExec(timed_out, false, record.memory_mb, timeout_seconds, timeout_option);
      out.message += " (the guest agent stopped answering; the sandbox was killed)";
      out.audit_id = record_exit({{"sandbox", record.name},
                                  {"command", command},
                                  {"exit_status", out.exit_status},
                                  {"timed_out", true},
                                  {"host_killed", true},
                                  {"host_wall_ms", wall_ms},
                                  {"agent_reported", nlohmann::json::array()}});
      return out;
    }
    return Error{"lost the guest agent during `" + command + "`: " + result.error().message};
  }
  bool oom = oom_before && oom_after && *oom_after > *oom_before;
  ExecOutcome out = DescribeExec(*result, oom, record.memory_mb, timeout_seconds, timeout_option,
                                 terminal != nullptr);
  // What the agent says is recorded as its report: a workload that took over the agent (a guest's
  // root can, on the microVM backend) can make it say anything. The host's own measurements are
  // the wall time and, on the container backend, the cgroup's OOM count.
  nlohmann::json agent_reported = {"exit_status",    "timed_out",      "duration_ms",
                                   "stdout_dropped", "stderr_dropped", "stdout_bytes",
                                   "stderr_bytes"};
  if (!(*backend)->capabilities().host_measures_oom) {
    agent_reported.push_back("oom_killed");
  }
  out.audit_id = record_exit({{"sandbox", record.name},
                              {"command", command},
                              {"exit_status", out.exit_status},
                              {"timed_out", result->timed_out},
                              {"oom_killed", oom},
                              {"stdout_bytes", result->stdout_bytes},
                              {"stderr_bytes", result->stderr_bytes},
                              {"stdout_dropped", result->stdout_dropped},
                              {"stderr_dropped", result->stderr_dropped},
                              {"duration_ms", result->duration_ms},
                              {"host_wall_ms", wall_ms},
                              {"host_killed", false},
                              {"agent_reported", agent_reported}});
  return out;
}

ErrorOr<Attached> Attach(const LauncherOptions& options, std::string_view name) {
  auto record = ReadRecord(options.state, name);
  if (!record) {
    return record.error();
  }
  if (!IsRunning(*record)) {
    return Error{"sandbox `" + std::string(name) + "` is not running; `mvmctl ps` shows its state"};
  }
  if (record->paused) {
    return PausedError(name);
  }
  auto client = agent::Client::Connect(options.state.AgentSocket(name), std::chrono::seconds(2));
  if (!client) {
    return Error{"cannot reach the guest agent of `" + std::string(name) +
                 "`: " + client.error().message};
  }
  return Attached{std::move(*record), std::move(*client)};
}

ErrorOr<FileResult> RunFileOp(Attached& sandbox, const FileRequest& request, audit::Log& audit) {
  static constexpr std::string_view kEvents[] = {"file-read", "file-write", "file-list",
                                                 "file-remove"};
  std::string_view event = kEvents[static_cast<int>(request.op)];
  FileResult result;
  std::string failure;
  switch (request.op) {
    case FileOp::kRead:
      if (auto data = sandbox.agent.ReadFile(request.path)) {
        result.data = std::move(*data);
      } else {
        failure = data.error().message;
      }
      break;
    case FileOp::kWrite:
      if (auto done = sandbox.agent.WriteFile(request.path, request.data); !done) {
        failure = done.error().message;
      }
      break;
    case FileOp::kList:
      if (auto entries = sandbox.agent.List(request.path)) {
        result.entries = std::move(*entries);
      } else {
        failure = entries.error().message;
      }
      break;
    case FileOp::kRemove:
      if (auto done = sandbox.agent.Remove(request.path, request.recursive); !done) {
        failure = done.error().message;
      }
      break;
  }
  nlohmann::json fields = {{"sandbox", sandbox.record.name}, {"path", request.path}};
  if (request.op == FileOp::kWrite) {
    fields["bytes"] = request.data.size();
  } else if (request.op == FileOp::kRead) {
    fields["bytes"] = result.data.size();
  }
  if (!failure.empty()) {
    fields["refused"] = failure;
  }
  (void)audit.Append(event, fields);
  if (!failure.empty()) {
    return Error{failure};
  }
  return result;
}

}  // namespace mvm::runtime
