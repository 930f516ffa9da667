#ifndef MVM_RUNTIME_BACKENDS_HELPER_H_
#define MVM_RUNTIME_BACKENDS_HELPER_H_

// Host-side helper processes of a sandbox (its parent-death watchdog; later its egress proxy and
// resolver), started one way: fork, then only system calls until exec, so that no C++ runs in a
// child of a process that may have threads (a lock held by another thread at the fork would never
// be released in the child: the hang ASan's allocator showed), explicit descriptors, optionally a
// session of its own, and a parent-death signal unless the helper must outlive its starter. A
// helper is recorded (role, pid, start time) so that whoever ends the sandbox (`destroy`, `gc`,
// the watchdog) finds and ends its helpers too, and never a process that merely reuses the pid.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "ir/support/error_or.h"
#include "runtime/backends/backend.h"

namespace mvm::runtime::backends {

struct HelperSpec {
  std::string role;               ///< what it is for ("watchdog"), for records and errors
  std::filesystem::path program;  ///< exec'd as it is (no PATH search)
  std::vector<std::string> argv;  ///< argv[0] first
  /// Descriptors of the caller that the helper gets as 3, 4, … in this order. Everything else is
  /// closed; 0, 1 and 2 are /dev/null unless `output` is given.
  std::vector<int> fds;
  int output = -1;  ///< stdout and stderr, when not -1
  /// SIGKILL when the starting thread dies (PR_SET_PDEATHSIG); false for a helper whose job is to
  /// act when the starter dies.
  bool dies_with_parent = true;
  bool own_session = false;  ///< setsid(): a terminal's Ctrl-C does not reach it
};

/// What a record keeps of a helper.
struct HelperRecord {
  std::string role;
  pid_t pid = 0;
  uint64_t start_time = 0;  ///< /proc/<pid>/stat field 22
};

struct Helper {
  OwnedProcess process;
  HelperRecord record;
};

/// Starts the helper and returns once it has exec'd its program (or an Error naming the step that
/// failed in the child, e.g. "exec /usr/bin/x: No such file or directory").
ErrorOr<Helper> StartHelper(const HelperSpec& spec);

/// Sends `signal` to the helper if the recorded process is still that process (same start time).
void SignalHelper(const HelperRecord& helper, int signal);

/// /proc/<pid>/stat field 22 (start time in clock ticks since boot), so a reused pid is never
/// mistaken for the process it once was; 0 when the process is gone or a zombie.
uint64_t ProcessStartTime(pid_t pid);

}  // namespace mvm::runtime::backends

#endif  // MVM_RUNTIME_BACKENDS_HELPER_H_
