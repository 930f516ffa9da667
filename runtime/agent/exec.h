#ifndef MVM_RUNTIME_AGENT_EXEC_H_
#define MVM_RUNTIME_AGENT_EXEC_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "ir/support/error_or.h"
#include "runtime/agent/request.h"
#include "runtime/agent/unique_fd.h"

namespace mvm::runtime::agent {

/// A workload process just forked: its own session and process group (pgid == pid), stdio on
/// pipes. The agent's ends are non-blocking and close-on-exec.
struct Spawned {
  pid_t pid = -1;
  UniqueFd stdin_fd;   ///< write end; closed at once when there is no stdin data
  UniqueFd stdout_fd;  ///< read end
  UniqueFd stderr_fd;  ///< read end
  /// Read end of the child's close-on-exec status pipe: EOF alone means execve succeeded; a
  /// ChildFailure record means the child gave up before (see DecodeChildFailure).
  UniqueFd status_fd;
};

/// Forks and execs `spec`. An Error only when the agent could not even fork (pipes, fork).
ErrorOr<Spawned> Spawn(const ExecSpec& spec);

/// What the child reports on the status pipe when it cannot run the command.
struct ChildFailure {
  enum class Step : int32_t { kSetup = 1, kChdir = 2, kExec = 3 };
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
