#ifndef MVM_IR_SUPPORT_OS_PROCESS_H_
#define MVM_IR_SUPPORT_OS_PROCESS_H_

// Starting host programs: Spawn with explicit descriptors, and RunProcess to completion with its
// output captured. Both use posix_spawn, so they are safe in a threaded process.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ir/support/error_or.h"

namespace mvm::os {

/// Puts every signal that has a handler back to SIG_DFL, ignored ones staying ignored: what an exec
/// would leave. For a forked child that runs on without one: the parent's handlers act on the
/// parent's descriptor numbers, which the child reuses for other files (a SIGWINCH handler's
/// self-pipe write once landed in a VM supervisor's client socket). System calls only: safe
/// between fork and exec.
void ResetCaughtSignals();

/// How a child ended.
struct ExitStatus {
  int exit_code = -1;  ///< the exit status, or -1 when a signal killed it
  int signal = 0;      ///< the signal that killed it, or 0

  /// From a waitpid status.
  static ExitStatus FromWaitStatus(int status);
  bool success() const { return exit_code == 0; }
  /// "exit status 3" / "killed by signal 9", for messages.
  std::string Describe() const;
};

/// What to start. The child gets the caller's environment unless `env` is set, an empty signal mask
/// and default dispositions for the signals a caller commonly blocks or ignores (SIGPIPE, SIGCHLD,
/// SIGINT, SIGTERM, SIGHUP, SIGQUIT), whatever the caller's are.
struct SpawnOptions {
  /// argv[0] is looked up on PATH unless `executable` is set.
  std::vector<std::string> argv;
  /// When set, the program that runs; argv[0] then only names it.
  std::filesystem::path executable;
  /// "NAME=value" entries, replacing the caller's environment when set.
  std::optional<std::vector<std::string>> env;
  /// The child's working directory; the caller's when empty. A relative `executable` or argv[0] is
  /// found from the caller's.
  std::filesystem::path cwd;
  /// The child's descriptors: {child fd, caller's fd}. 0, 1 and 2 not listed here are /dev/null.
  /// Nothing else is passed, provided the caller opens its descriptors O_CLOEXEC (all of mvm does).
  /// A caller's fd must not be a child fd number of another entry.
  std::vector<std::pair<int, int>> fds;
};

/// `strings` as the null-terminated array execve and its kin take; valid while `strings` is.
/// Inline so the guest agent, which links none of this library, can use it.
inline std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const std::string& s : strings) {
    out.push_back(const_cast<char*>(s.c_str()));
  }
  out.push_back(nullptr);
  return out;
}

/// The caller's environment with `additions` ("NAME=value") set, replacing entries of the same
/// name: for SpawnOptions::env.
std::vector<std::string> EnvironmentWith(const std::vector<std::string>& additions);

/// The first executable regular file `name` in a directory of PATH (or /usr/bin:/bin when PATH is
/// unset), as posix_spawnp and execvp would find it; nullopt when there is none.
std::optional<std::filesystem::path> FindProgram(std::string_view name);

/// Starts `options` and returns the child's pid, which the caller waits for (WaitForExit). An Error
/// when it cannot start (no such program, not executable).
ErrorOr<pid_t> Spawn(const SpawnOptions& options);

/// Waits for child `pid` to end (through EINTR) and reaps it.
ErrorOr<ExitStatus> WaitForExit(pid_t pid);

/// What RunProcess captures, beside the Spawn options (whose `fds` it sets itself).
struct RunOptions {
  SpawnOptions spawn;
  /// Bytes the child reads on stdin (from an in-memory file, so a child that never reads cannot
  /// block the caller); /dev/null when unset.
  std::optional<std::string> stdin_data;
  /// stderr into the same pipe as stdout, so `out` holds both interleaved as written, `err`
  /// nothing.
  bool merge_stderr = false;
  /// Each line of stderr (with merge_stderr: of the output), without its newline, as it arrives; a
  /// last line without a newline too. May be empty.
  std::function<void(std::string_view line)> on_line;
  /// Called after each `silence` during which no line came (with the time since the start), so a
  /// long quiet run can show it is alive. May be empty.
  std::function<void(std::chrono::seconds elapsed)> on_silence;
  std::chrono::milliseconds silence{std::chrono::seconds(30)};
  /// Each of `out` and `err` keeps at most the last this many bytes (errors are at the end); the
  /// pipes are read to the end regardless, so the child never blocks on a full one.
  size_t max_captured = size_t{1} << 20;
};

/// How a run ended and what it printed.
struct ProcessResult {
  ExitStatus status;
  std::string out;
  std::string err;
  bool out_truncated = false;  ///< `out` lost its front to RunOptions::max_captured
  bool err_truncated = false;

  bool success() const { return status.success(); }
  std::string Describe() const { return status.Describe(); }
  /// The last `lines` lines of `err`, or of `out` when `err` is empty (always so with
  /// merge_stderr): where a failed tool says why, for messages.
  std::string Tail(size_t lines) const;
};

/// Runs `options` to completion. An Error only when the process cannot be started or waited for; a
/// failing process is a ProcessResult the caller judges.
ErrorOr<ProcessResult> RunProcess(const RunOptions& options);

/// The last `lines` lines of `text`, without trailing newlines.
std::string LastLines(std::string_view text, size_t lines);

}  // namespace mvm::os

#endif  // MVM_IR_SUPPORT_OS_PROCESS_H_
