#ifndef MVM_RUNTIME_AGENT_EXEC_H_
#define MVM_RUNTIME_AGENT_EXEC_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "ir/support/error_or.h"
#include "ir/support/os/unique_fd.h"
#include "runtime/agent/request.h"

namespace mvm::runtime::agent {

/// A workload just started: an exec shim (a child of the agent and a child subreaper) and below it
/// the command, in its own session and process group (pgid == pid), stdio on pipes. Whatever the
/// command starts, setsid or double fork included, stays below the shim: orphans re-parent to it,
/// never to the agent, so the exec's whole tree is the shim's descendants. The agent's ends are
/// non-blocking and close-on-exec. With ExecSpec::tty the command's stdio is one pseudo-terminal:
/// stdout_fd is its master, stdin_fd a duplicate of it, and there is no stderr_fd.
struct Spawned {
  pid_t pid = -1;          ///< the command
  pid_t shim = -1;         ///< its parent, which reaps the command and every orphan below it
  os::UniqueFd stdin_fd;   ///< write end; closed at once when there is no stdin to come
  os::UniqueFd stdout_fd;  ///< read end
  os::UniqueFd stderr_fd;  ///< read end; none with a terminal
  /// Read end of the child's close-on-exec status pipe: EOF alone means execve succeeded; a
  /// ChildFailure record means the child gave up before (see DecodeChildFailure).
  os::UniqueFd status_fd;
  /// Read end of the shim's result pipe: the command's wait status and whether processes of its
  /// tree are left (kResultBytes, one write) once it exits, then EOF. EOF alone means the shim died
  /// first (it was killed).
  os::UniqueFd result_fd;
};

/// What the agent learns of its own process once, at its start, so that each workload's child
/// need not ask again between fork and execve (LearnProcessBaseline).
struct ProcessBaseline {
  /// No signal is ignored (a handler does not survive execve; an ignored signal would): the child
  /// need not reset 64 dispositions. False when it could not be made so.
  bool no_ignored_signals = false;
  /// The capability bounding set, as /proc/self/status says (CapBnd): the child drops what is not
  /// kept with one prctl each, instead of asking about every capability in turn. Unset when it
  /// could not be read.
  std::optional<uint64_t> bounding_set;
};

/// Reads /proc/self/status once, resets every signal the agent inherited as ignored to its default
/// (the agent blocks them all and reads them from a signalfd, so this changes nothing for it, but
/// an ignored SIGCHLD would never reach that signalfd), and says what it found.
ProcessBaseline LearnProcessBaseline();

/// Forks the shim, which forks and execs `spec`. An Error only when the agent could not even fork
/// (pipes, fork). `baseline`: what LearnProcessBaseline said, which spares the child work; the
/// default asks nothing of the agent's start and makes the child find everything itself.
ErrorOr<Spawned> Spawn(const ExecSpec& spec, const ProcessBaseline& baseline = {});

/// The size of one number the shim writes on the result pipe (the command's pid, when Spawn did not
/// get it in time).
inline constexpr size_t kWaitStatusBytes = sizeof(int32_t);
/// The shim's report once the command is reaped: its wait status, then 1 when processes of its
/// tree are still alive below the shim and 0 when the tree is gone, in one write.
inline constexpr size_t kResultBytes = 2 * sizeof(int32_t);

/// What the child reports on the status pipe when it cannot run the command.
struct ChildFailure {
  enum class Step : int32_t { kSetup = 1, kChdir = 2, kExec = 3, kUser = 4 };
  Step step = Step::kSetup;
  int32_t error = 0;  ///< errno
};
/// The size of one ChildFailure record on the status pipe.
inline constexpr size_t kChildFailureBytes = 8;
/// Reads a record of kChildFailureBytes; std::nullopt for anything else.
std::optional<ChildFailure> DecodeChildFailure(std::string_view bytes);

/// How a failure to start is reported to the client.
struct StartFailure {
  /// True when the request itself cannot be run (working directory, process setup): the client
  /// gets an Error instead of an exit status.
  bool request_error = false;
  int exit_code = 0;  ///< 127 command not found, 126 found but not runnable
  std::string message;
};
StartFailure DescribeFailure(const ExecSpec& spec, const ChildFailure& failure);

}  // namespace mvm::runtime::agent

#endif  // MVM_RUNTIME_AGENT_EXEC_H_
