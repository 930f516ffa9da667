#ifndef MVM_RUNTIME_AGENT_SERVER_H_
#define MVM_RUNTIME_AGENT_SERVER_H_

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "ir/support/error_or.h"

namespace mvm::runtime::agent {

/// What `mvm-agent` is told on its command line.
struct AgentOptions {
  std::string socket_path;  ///< --socket: where to listen (a stale socket there is replaced)
  int listen_fd = -1;  ///< --listen-fd: an inherited listening unix socket, used instead of a path
  std::string files_root = "/";  ///< --files-root: the directory file requests are confined to
  size_t log_bytes = 1u << 20;   ///< --log-bytes: size of the log ring
  /// False (--no-workload-capabilities): commands keep no capability at all. A container's agent
  /// holds CAP_SETUID and CAP_SETGID only to run commands as an image's User; true: commands keep
  /// the agent's capabilities that kWorkloadCapabilities (exec.cc) allows, as in a microVM.
  bool workload_capabilities = true;
  /// --watch-volume (repeated): absolute paths of the volumes whose operations the agent counts
  /// for VolumeOps (volume_ops.h); a microVM's init takes them from its mount manifest, which the
  /// host writes from the plan's volumes. Watched before the first client is served.
  std::vector<std::string> watch_volumes;
  /// Called once the socket listens and every signal is blocked, before the first client is
  /// served: the microVM init starts the stream multiplexer here, so that it inherits the blocked
  /// mask and finds the socket ready. May be empty.
  std::function<void()> on_listening;
};

/// The agent's version, as Hello reports it.
const char* AgentVersion();

/// What the agent writes to its own stderr over its whole life, at most.
inline constexpr size_t kLogBudgetBytes = 1u << 20;

/// Runs the agent in this process: makes itself non-dumpable, takes over its signals (all blocked
/// and read from a signalfd, so no ordinary signal can kill it), becomes a child subreaper unless
/// it is PID 1, listens on `options.socket_path` and serves clients until a Shutdown request or
/// SIGTERM, SIGINT or SIGHUP. Returns the exit status for a clean stop (0), or an Error when it
/// cannot start.
ErrorOr<int> RunAgent(const AgentOptions& options);

}  // namespace mvm::runtime::agent

#endif  // MVM_RUNTIME_AGENT_SERVER_H_
