// The workload side of the agent's event loop: starting processes, their stdin and output, reaping,
// timeouts, signals to every workload process, and stopping.

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "runtime/agent/event_loop.h"
#include "runtime/agent/exec.h"

namespace mvm::runtime::agent::internal {

void Server::StartExec(Connection& conn, const v1::Exec& request) {
  auto spec = CheckExec(request);
  if (!spec) {
    SendError(conn, spec.error().message);
    return;
  }
  auto id = SpawnDetached(*spec, /*service=*/"");
  if (!id) {
    SendError(conn, id.error().message);
    return;
  }
  execs_[*id].conn_id = conn.id;
  execs_[*id].end_when_idle = request.end_when_idle();
  conn.state = Connection::State::kExec;
  conn.exec_id = *id;
}

ErrorOr<uint64_t> Server::SpawnDetached(const ExecSpec& checked, const std::string& service) {
  ExecSpec spec = checked;
  spec.workload_capabilities = options_.workload_capabilities;
  auto spawned = Spawn(spec, baseline_);
  if (!spawned) {
    return spawned.error();
  }
  const uint64_t id = next_exec_++;
  Exec& exec = execs_[id];
  exec.id = id;
  exec.pid = spawned->pid;
  exec.pid_in_result = spawned->pid < 0;
  exec.shim = spawned->shim;
  exec.service = service;
  exec.spec = std::move(spec);
  exec.in = std::move(spawned->stdin_fd);
  exec.out = std::move(spawned->stdout_fd);
  exec.err = std::move(spawned->stderr_fd);
  exec.status = std::move(spawned->status_fd);
  exec.result = std::move(spawned->result_fd);
  exec.start = Clock::now();
  if (exec.spec.timeout_ms > 0) {
    exec.deadline = exec.start + milliseconds(exec.spec.timeout_ms);
  }
  shims_.insert(exec.shim);
  log_.AppendMarker("exec " + std::to_string(id) + " started (pid " + std::to_string(exec.pid) +
                    ", shim " + std::to_string(exec.shim) + "): " + exec.spec.display);
  return id;
}

void Server::ReadOutput(Exec& exec, int stream, bool drain) {
  os::UniqueFd& fd = stream == 0 ? exec.out : exec.err;
  char buffer[kReadChunk];
  // One read per wake-up keeps the loop fair between workloads; a drain empties the pipe (up to a
  // bound, as a background process may keep writing).
  size_t budget = drain ? kDrainLimit : sizeof buffer;
  while (fd.valid() && budget > 0) {
    ssize_t n = read(fd.get(), buffer, std::min(sizeof buffer, budget));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      if (n == 0 || errno != EAGAIN) {
        fd.Reset();
      }
      return;
    }
    const auto size = static_cast<size_t>(n);
    budget -= size;
    log_.Append(std::string_view(buffer, size));
    if (!exec.service.empty()) {
      if (auto it = services_.find(exec.service); it != services_.end()) {
        it->second.log.Append(std::string_view(buffer, size));
      }
    }
    if (exec.finished) {
      continue;  // a background process of a finished exec: the log is all that is left
    }
    Exec::Counts& counts = exec.counts[stream];
    counts.produced += size;
    const uint64_t room =
        exec.spec.output_limit_bytes - std::min(exec.spec.output_limit_bytes, counts.forwarded);
    const size_t forward = static_cast<size_t>(std::min<uint64_t>(room, size));
    Connection* conn = FindConnection(exec.conn_id);
    if (forward > 0 && conn != nullptr) {
      counts.forwarded += forward;
      v1::Response response;
      v1::ExecOutput* output = response.mutable_exec_output();
      output->set_stream(stream == 0 ? v1::STREAM_STDOUT : v1::STREAM_STDERR);
      output->set_data(buffer, forward);
      Send(*conn, response);
    }
  }
}

void Server::ContinueStdin(Connection& conn, const v1::ExecStdin& request) {
  auto it = execs_.find(conn.exec_id);
  if (it == execs_.end()) {
    return;
  }
  Exec& exec = it->second;
  if (request.data().size() > kFileChunk) {
    ProtocolError(conn, "protocol error: ExecStdin of " + std::to_string(request.data().size()) +
                            " bytes is larger than the limit of " + std::to_string(kFileChunk) +
                            " bytes");
    return;
  }
  if (request.has_window()) {
    if (!exec.spec.tty) {
      ProtocolError(conn,
                    "protocol error: ExecStdin `window` resizes a terminal, and this Exec has no "
                    "`tty`");
      return;
    }
    auto window = CheckWindow(request.window(), "ExecStdin `window`");
    if (!window) {
      ProtocolError(conn, "protocol error: " + window.error().message);
      return;
    }
    // The kernel sends SIGWINCH to the terminal's foreground process group.
    const winsize size{window->first, window->second, 0, 0};
    const os::UniqueFd& master = exec.out.valid() ? exec.out : exec.in;
    if (master.valid()) {
      (void)ioctl(master.get(), TIOCSWINSZ, &size);  // fails only once the terminal is gone
    }
  }
  if (exec.stdin_eof) {
    return;
  }
  // A command that closed its stdin wants no more; the client is not told, and reads on.
  if (exec.in.valid()) {
    std::string& data = exec.spec.stdin_data;
    if (exec.stdin_sent > 0) {
      data.erase(0, exec.stdin_sent);
      exec.stdin_sent = 0;
    }
    data.append(request.data());
    if (!request.data().empty()) {
      const char last = request.data().back();
      exec.tty_line_open = last != '\n' && last != '\r';
    }
  }
  exec.stdin_eof = request.eof();
  if (exec.stdin_eof && exec.spec.tty) {
    TypeEof(exec);
  }
}

void Server::TypeEof(Exec& exec) {
  termios mode{};
  if (!exec.in.valid() || tcgetattr(exec.in.get(), &mode) != 0 || !(mode.c_lflag & ICANON) ||
      mode.c_cc[VEOF] == _POSIX_VDISABLE) {
    return;  // raw or gone: a terminal then has no way to say "end"
  }
  // VEOF at the start of a line is the end; after typed characters it only hands them over.
  exec.spec.stdin_data.append(exec.tty_line_open ? 2 : 1, static_cast<char>(mode.c_cc[VEOF]));
}

void Server::WriteStdin(Exec& exec) {
  std::string& data = exec.spec.stdin_data;
  while (exec.in.valid() && exec.stdin_sent < data.size()) {
    ssize_t n = write(exec.in.get(), data.data() + exec.stdin_sent,
                      std::min(data.size() - exec.stdin_sent, kReadChunk));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      if (errno == EAGAIN) {
        return;
      }
      exec.in.Reset();  // EPIPE: the workload closed its stdin; the rest is not wanted
      break;
    }
    exec.stdin_sent += static_cast<size_t>(n);
  }
  data.clear();
  exec.stdin_sent = 0;
  if (!exec.spec.stdin_stream || exec.stdin_eof) {
    exec.in.Reset();
    data.shrink_to_fit();
  }
  // There is room again: frames the client sent meanwhile may be waiting in its decoder.
  if (Connection* conn = exec.spec.stdin_stream ? FindConnection(exec.conn_id) : nullptr;
      conn != nullptr && conn->state == Connection::State::kExec && conn->exec_id == exec.id) {
    HandleFrames(*conn);
  }
}

void Server::ReadStatus(Exec& exec) {
  if (!exec.status.valid()) {
    return;
  }
  char buffer[kChildFailureBytes * 2];
  ssize_t n = read(exec.status.get(), buffer, sizeof buffer);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
    return;
  }
  if (n > 0) {
    if (exec.status_bytes.size() < sizeof buffer) {
      exec.status_bytes.append(buffer, static_cast<size_t>(n));
    }
    return;
  }
  exec.status.Reset();
  exec.status_eof = true;
  MaybeFinish(exec);
}

void Server::ReadResult(Exec& exec) {
  char buffer[kWaitStatusBytes + kResultBytes];
  for (;;) {
    ssize_t n = read(exec.result.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && errno == EAGAIN) {
      return;
    }
    if (n <= 0) {
      exec.result.Reset();  // EOF: the shim reported the status, or died without (see Reap)
      return;
    }
    if (exec.result_bytes.size() < sizeof buffer) {
      exec.result_bytes.append(buffer, static_cast<size_t>(n));
    }
    // The pid first when Spawn did not get it, then the command's wait status and what is left.
    const size_t status_at = exec.pid_in_result ? kWaitStatusBytes : 0;
    if (exec.pid_in_result && exec.pid < 0 && exec.result_bytes.size() >= kWaitStatusBytes) {
      int32_t pid = 0;
      std::memcpy(&pid, exec.result_bytes.data(), sizeof pid);
      exec.pid = pid;
    }
    if (!exec.reaped && exec.result_bytes.size() >= status_at + kResultBytes) {
      int32_t report[2] = {0, 1};
      std::memcpy(report, exec.result_bytes.data() + status_at, sizeof report);
      exec.reaped = true;
      exec.wait_status = report[0];
      exec.tree_left = report[1] != 0;
      exec.end = Clock::now();
      MaybeFinish(exec);
    }
  }
}

void Server::Reap() {
  for (;;) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) {
      break;
    }
    // Children of the agent are exec shims, and orphans of a shim that was killed (adopted: the
    // agent is PID 1 or a subreaper); nothing else is owed anything.
    if (shims_.erase(pid) == 0) {
      continue;
    }
    for (auto& [id, exec] : execs_) {
      if (exec.shim != pid || exec.reaped) {
        continue;
      }
      // What the shim wrote before it exited is in the pipe.
      if (exec.result.valid()) {
        ReadResult(exec);
      }
      if (!exec.reaped) {
        // Killed before the command ended (by the workload: the agent never signals shims but
        // with SIGCONT): its own status stands for the command's.
        exec.reaped = true;
        exec.wait_status = status;
        exec.end = Clock::now();
        exec.result.Reset();
        MaybeFinish(exec);
      }
      break;
    }
  }
}

void Server::CheckTimeouts() {
  RestartDueServices();
  const auto now = Clock::now();
  for (auto& [id, exec] : execs_) {
    if (exec.deadline && !exec.timed_out && !exec.reaped && *exec.deadline <= now) {
      exec.timed_out = true;
      // The shim's whole tree, wherever its processes moved their session or group.
      if (shims_.count(exec.shim) != 0) {
        SignalTree(TreeScope{exec.shim, {}, {}}, SIGKILL);
        kill(exec.shim, SIGCONT);  // so that a shim the workload stopped reaps and reports
      } else if (exec.pid > 0 && kill(-exec.pid, SIGKILL) != 0) {
        kill(exec.pid, SIGKILL);  // the shim was killed: the command's group is what is known
      }
    }
  }
}

void Server::MaybeFinish(Exec& exec) {
  if (exec.finished || !exec.reaped || !exec.status_eof) {
    return;
  }
  // What the process wrote before it exited is in the pipes: collect it before the result. Later
  // output (its background children) goes only to the log.
  ReadOutput(exec, 0, true);
  ReadOutput(exec, 1, true);
  exec.in.Reset();
  exec.finished = true;

  const std::string prefix = "exec " + std::to_string(exec.id) + ": " + exec.spec.display + " → ";
  Connection* conn = FindConnection(exec.conn_id);
  std::optional<StartFailure> failure;
  if (auto child = DecodeChildFailure(exec.status_bytes)) {
    failure = DescribeFailure(exec.spec, *child);
  }
  if (failure && failure->request_error) {
    log_.AppendMarker(prefix + "not started: " + failure->message);
    if (!exec.service.empty()) {
      AppendServiceMarker(exec.service, "not started: " + failure->message);
      OnServiceExit(exec.service, failure->exit_code, 0, true);
    }
    if (conn != nullptr) {
      SendError(*conn, failure->message);
      BecomeIdle(*conn);
      HandleFrames(*conn);  // requests the client sent meanwhile are buffered
    }
    return;
  }

  v1::Response response;
  v1::ExecExit* result = response.mutable_exec_exit();
  std::string outcome;
  if (WIFSIGNALED(exec.wait_status)) {
    const int signal = WTERMSIG(exec.wait_status);
    result->set_signal(signal);
    result->set_exit_code(128 + signal);
    outcome = "signal " + std::to_string(signal);
  } else {
    result->set_exit_code(WEXITSTATUS(exec.wait_status));
    outcome = "exit " + std::to_string(WEXITSTATUS(exec.wait_status));
  }
  if (exec.timed_out) {
    result->set_timed_out(true);
    outcome += " (timed out after " + std::to_string(exec.spec.timeout_ms) + " ms)";
  }
  if (failure) {
    result->set_error(failure->message);
    outcome += ": " + failure->message;
  }
  const Exec::Counts& out = exec.counts[0];
  const Exec::Counts& err = exec.counts[1];
  result->set_stdout_bytes(out.produced);
  result->set_stderr_bytes(err.produced);
  result->set_stdout_dropped(out.produced - out.forwarded);
  result->set_stderr_dropped(err.produced - err.forwarded);
  result->set_duration_ms(
      static_cast<uint32_t>(std::min<uint64_t>(MillisBetween(exec.start, exec.end), UINT32_MAX)));
  result->set_exec_id(exec.id);
  result->set_pid(exec.pid);
  log_.AppendMarker(prefix + outcome);
  if (!exec.service.empty()) {
    AppendServiceMarker(exec.service, "exited: " + outcome);
    OnServiceExit(exec.service, result->exit_code(), result->signal(),
                  result->exit_code() != 0 || result->signal() != 0);
  }
  if (conn != nullptr && exec.end_when_idle && NothingElseRuns(exec)) {
    result->set_agent_exits(true);
    log_.AppendMarker("exec " + std::to_string(exec.id) +
                      " was the last: nothing else runs, exiting");
    Send(*conn, response);
    exit_now_ = true;  // before any other request or connection is served
    return;
  }
  if (conn != nullptr) {
    Send(*conn, response);
    BecomeIdle(*conn);
    HandleFrames(*conn);
  }
}

bool Server::NothingElseRuns(const Exec& exec) const {
  // Only as PID 1 are the sandbox's processes all below the agent (a microVM's agent is its PID 1
  // too, but a VM does not end with it: the client asks only where the sandbox does). Watched
  // volumes would lose their last counts.
  if (getpid() != 1 || exec.tree_left || volumes_ || !services_.empty() ||
      stop_ != StopPhase::kRunning) {
    return false;
  }
  for (const auto& [id, other] : execs_) {
    if (id != exec.id && !other.finished) {
      return false;
    }
  }
  if (shims_.size() > (shims_.count(exec.shim) != 0 ? 1u : 0u)) {
    return false;  // a finished exec's shim still waits for processes of its tree
  }
  // Anything else below PID 1: orphans of a shim that was killed, the helpers it started with.
  return ListTree(TreeScope{getpid(), shims_, {}}).empty();
}

std::set<pid_t> ChildrenAtStart() {
  const std::vector<pid_t> below = ListTree(TreeScope{getpid(), {}, {}});
  return std::set<pid_t>(below.begin(), below.end());
}

TreeScope Server::Workloads() const { return TreeScope{getpid(), shims_, helpers_}; }

uint64_t Server::SignalWorkloads(int signal) {
  const uint64_t signalled = SignalTree(Workloads(), signal);
  if (signal == SIGCONT || signal == SIGKILL) {
    // A shim stopped by its workload would leave the killed unreaped, or the resumed unwatched.
    for (pid_t shim : shims_) {
      kill(shim, SIGCONT);
    }
  }
  return signalled;
}

void Server::BeginStop(int signal) {
  if (stop_ != StopPhase::kRunning) {
    return;
  }
  log_.AppendMarker("stopping: " + std::string(strsignal(signal)) + " to every workload");
  stop_ = StopPhase::kTerm;
  stop_deadline_ = Clock::now() + kStopGrace;
  SignalWorkloads(signal);
}

bool Server::StopDone() {
  if (stop_ == StopPhase::kLastAsk) {
    return last_ask_answered_ || Clock::now() >= stop_deadline_;
  }
  const bool empty = shims_.empty() && ListTree(Workloads()).empty();
  const auto now = Clock::now();
  if (stop_ == StopPhase::kTerm && (empty || now >= stop_deadline_)) {
    if (!empty) {
      log_.AppendMarker("stopping: SIGKILL to what is left");
      SignalWorkloads(SIGKILL);
    }
    stop_ = StopPhase::kKill;
    stop_deadline_ = now + kKillGrace;
  }
  if (stop_ != StopPhase::kKill) {
    return false;
  }
  // Give the exec results of the killed workloads a chance to reach their clients.
  const bool settled =
      empty && std::all_of(execs_.begin(), execs_.end(), [](auto& e) { return e.second.finished; });
  return settled || now >= stop_deadline_;
}

}  // namespace mvm::runtime::agent::internal
