#ifndef MVM_RUNTIME_BACKENDS_HELPER_H_
#define MVM_RUNTIME_BACKENDS_HELPER_H_

// Host-side helper processes of a sandbox (its parent-death watchdog, the pool daemon, a microVM's
// confined qemu and virtiofsds; later its egress proxy and resolver), started one way: a clone,
// into new namespaces when asked, then only system calls until exec, so that nothing that may
// allocate or lock runs in a child of a process that may have threads (a lock held by another
// thread at the clone would never be released in the child: the hang ASan's allocator showed),
// explicit descriptors, optionally a session of its own, and a parent-death signal unless the
// helper must outlive its starter. A
// helper is recorded (role, pid, start time) so that whoever ends the sandbox (`destroy`, `gc`,
// the watchdog) finds and ends its helpers too, and never a process that merely reuses the pid.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/support/error_or.h"
#include "ir/support/os/unique_fd.h"
#include "runtime/backends/backend.h"

namespace mvm::runtime::backends {

/// The helper's side between its fork and its exec, for the hooks of a HelperSpec. A hook runs in
/// the child, which may make only system calls (no allocation, no locks: the starter may have
/// threads), and reports a failed step with `Fail`.
class HelperChild {
 public:
  explicit HelperChild(int report_fd) : report_fd_(report_fd) {}
  /// Reports step `step` (an index into HelperSpec::steps) with the current errno and exits.
  [[noreturn]] void Fail(int step) const;

 private:
  int report_fd_;
};

/// Steps that confine a process, for HelperSpec hooks and other freshly cloned children: they make
/// only system calls (no allocation, no locks), and return false with errno set when one fails.
/// Empties the capability bounding set, so that no exec can gain a capability back.
bool EmptyCapabilityBoundingSet();
/// Clears the permitted, effective, inheritable and ambient capability sets.
bool ClearCapabilities();

struct HelperSpec {
  std::string role;               ///< what it is for ("watchdog"), for records and errors
  std::filesystem::path program;  ///< exec'd as it is (no PATH search)
  std::vector<std::string> argv;  ///< argv[0] first
  /// Descriptors of the caller that the helper gets as 3, 4, … in this order. Everything else is
  /// closed; 0 is /dev/null, and 1 and 2 are `output` (or /dev/null when it is -1).
  std::vector<int> fds;
  int output = -1;
  /// SIGKILL when the starting thread dies (PR_SET_PDEATHSIG, armed last, so that a change of
  /// credentials in `confine` does not clear it); false for a helper whose job is to act when the
  /// starter dies.
  bool dies_with_parent = true;
  bool own_session = false;  ///< setsid(): a terminal's Ctrl-C does not reach it
  /// CLONE_NEW* flags: the helper starts in new namespaces of these kinds (a user namespace's ids
  /// are mapped by `prepare`).
  int namespaces = 0;
  /// In the child, before its descriptors are placed (every descriptor of the starter is still
  /// open): mounts, receiving a descriptor from `prepare`.
  std::function<void(const HelperChild&)> setup;
  /// In the child, once its descriptors are placed: credentials, capabilities, filters.
  std::function<void(const HelperChild&)> confine;
  /// What `setup` and `confine` do, by the step numbers they report, for the error message.
  std::vector<std::string> steps;
  /// In the starter, once the child exists and before its exec is awaited: what only the parent
  /// can do for it (mapping a user namespace's ids). An error ends the child.
  std::function<ErrorOr<Ok>(pid_t)> prepare;
  /// Said after an exec that found no program, e.g. "install the Debian package qemu-system-x86".
  std::string missing_hint;
  /// The starter's environment instead of only a fixed PATH: for a helper that starts sandboxes
  /// itself (a warm pool's daemon), which must find what its starter would (PATH, MVM_*).
  bool inherits_environment = false;
  /// For a helper that has work only when its starter dies (the parent-death watchdog): the child,
  /// with its descriptors placed and confined, reads descriptor 3 before its exec. A byte (the
  /// starter disarming it) ends it at once with no exec; end of file (the starter gone) execs the
  /// program, which finds the same end of file. A launch does not pay for loading the program and
  /// its libraries a second time, and a disarmed child exits at once. The price: an exec that
  /// fails after the child reported its steps can no longer be reported (the child exits 127); the
  /// program is the starter's own executable for this.
  bool exec_on_hangup = false;
  /// StartHelper returns once the child exists, without waiting for it to report its steps done:
  /// its report pipe is handed back (Helper::unconfirmed), for ConfirmHelper once the caller has
  /// done other work meanwhile. For a helper whose start must not cost the caller a wait for the
  /// child to be scheduled (the watchdog, on every launch); until confirmed it may have failed.
  bool confirm_later = false;
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
  /// With HelperSpec::confirm_later: the read end of the child's report pipe, for ConfirmHelper.
  os::UniqueFd unconfirmed;
};

/// Starts the helper and returns once it has exec'd its program (or an Error naming the step that
/// failed in the child, e.g. "cannot start the watchdog: exec /usr/bin/x: No such file or
/// directory"; the child is reaped then).
ErrorOr<Helper> StartHelper(const HelperSpec& spec);

/// Waits for a helper started with HelperSpec::confirm_later (`report` being its
/// Helper::unconfirmed) to have taken its steps; an Error naming the failed one (the child has
/// exited 127 then, and is the caller's to reap).
ErrorOr<Ok> ConfirmHelper(const os::UniqueFd& report, std::string_view role);

/// Sends `signal` to the helper if the recorded process is still that process (same start time);
/// whether it was sent.
bool SignalHelper(const HelperRecord& helper, int signal);

/// /proc/<pid>/stat field 22 (start time in clock ticks since boot), so a reused pid is never
/// mistaken for the process it once was; 0 when the process is gone or a zombie.
uint64_t ProcessStartTime(pid_t pid);

}  // namespace mvm::runtime::backends

#endif  // MVM_RUNTIME_BACKENDS_HELPER_H_
