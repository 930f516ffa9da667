// The agent's checks of what clients send: pure functions over the decoded messages, shared by the
// agent and its fuzz target. Everything here treats its input as hostile.

#ifndef MVM_RUNTIME_AGENT_REQUEST_H_
#define MVM_RUNTIME_AGENT_REQUEST_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ir/support/error_or.h"
#include "runtime/agent/agent.pb.h"

namespace mvm::runtime::agent {

namespace v1 = ::mvm::agent::v1;

/// The PATH a workload gets when its request names none (the usual container default).
inline constexpr std::string_view kDefaultPath =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The longest path a client may name (PATH_MAX, terminator included).
inline constexpr size_t kMaxPathBytes = 4095;

/// `text` in backticks for an error message, cut to a readable length and with control bytes
/// escaped, so a hostile name cannot flood or forge the message.
std::string Quote(std::string_view text);

/// Parses one frame's payload. An Error for bytes that are not a Request or a Request of no kind.
ErrorOr<v1::Request> ParseRequest(std::string_view payload);

/// An Exec request, checked and turned into what fork/execve need.
struct ExecSpec {
  std::vector<std::string> argv;
  std::vector<std::string> env;         ///< NAME=value, PATH included
  std::vector<std::string> candidates;  ///< paths to try with execve, in order
  bool searched = false;                ///< argv[0] had no '/', so candidates come from PATH
  std::string cwd;
  /// What the command reads first; with `stdin_stream`, the ExecStdin data not yet written too.
  std::string stdin_data;
  /// The client streams more stdin after `stdin_data` (agent.proto, ExecStdin).
  bool stdin_stream = false;
  /// The command runs on a pseudo-terminal of `rows` x `cols` cells (agent.proto, Exec.tty).
  bool tty = false;
  uint16_t rows = 0;
  uint16_t cols = 0;
  uint32_t timeout_ms = 0;
  uint64_t output_limit_bytes = 0;
  std::string display;  ///< a short command line for log markers
  /// Switch to these ids before exec (both set or neither).
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  /// False: the command keeps no capability (AgentOptions::workload_capabilities).
  bool workload_capabilities = true;
};

/// Checks an Exec request: a non-empty argv, no NUL byte in argv, env or cwd (execve would cut the
/// string there), unique environment names without '=', an absolute cwd, a window size only with
/// `tty` and within a terminal's range.
ErrorOr<ExecSpec> CheckExec(const v1::Exec& exec);

/// A terminal size a client sent (Exec.window, ExecStdin.window), checked: each side at most
/// 65535. `where` names the field in messages.
ErrorOr<std::pair<uint16_t, uint16_t>> CheckWindow(const v1::WindowSize& window,
                                                   std::string_view where);

/// Checks a client's path and turns it into one relative to the files root: absolute, no NUL byte,
/// at most kMaxPathBytes; "/" becomes ".". Escapes (`..`, symlinks) are left for openat2 to refuse.
ErrorOr<std::string> SandboxRelative(std::string_view path);

/// A relative path split into the directory that holds its last component and that component.
struct ParentAndName {
  std::string parent;  ///< relative, "." for the root
  std::string name;    ///< never empty, ".", ".." or containing '/'
};

/// Splits what SandboxRelative returned, for operations on a directory entry (remove, create). An
/// Error for the root itself and for paths ending in "." or "..". `path` names it in messages.
ErrorOr<ParentAndName> SplitParent(std::string_view relative, std::string_view path);

}  // namespace mvm::runtime::agent

#endif  // MVM_RUNTIME_AGENT_REQUEST_H_
