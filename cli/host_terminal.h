#ifndef MVM_CLI_HOST_TERMINAL_H_
#define MVM_CLI_HOST_TERMINAL_H_

// The user's terminal during `run -t` and `exec -t` (docker's habit): raw while the command runs,
// so that every key, ^C and ^D included, reaches the sandbox's terminal as typed and the command's
// output reaches the screen unchanged; restored however mvmctl ends; its size sent at the start
// and again on every SIGWINCH.

#include <optional>
#include <string_view>

#include "ir/support/error_or.h"
#include "ir/support/os/unique_fd.h"
#include "runtime/agent/client.h"
#include "runtime/launcher/launcher.h"

namespace mvm::cli {

/// The usage Error of `-t` that cannot be given (exit 2): stdin is not a terminal (docker's
/// "the input device is not a TTY"), or the output is collected as --format=json. std::nullopt
/// when `-t` can be given.
std::optional<Error> CheckTerminalRequest(bool json);

/// The terminal on stdin. At most one lives at a time: its signal handlers reach it through a
/// global.
class HostTerminal final : public runtime::ExecTerminal {
 public:
  /// Watches SIGWINCH from now on (resize_fd); the terminal stays as it is until Enter.
  HostTerminal();
  HostTerminal(const HostTerminal&) = delete;
  HostTerminal& operator=(const HostTerminal&) = delete;
  /// Restores the terminal when it is raw, and the signal dispositions it changed.
  ~HostTerminal() override;

  /// Fills the terminal fields of `request` (agent::ExecRequest::tty, window, resize_fd,
  /// window_size), gives it this terminal's TERM (`xterm` when unset) unless it has a TERM already,
  /// and lifts the output limit, which an interactive session has no use for. The caller keeps
  /// this object alive while the request runs.
  void Prepare(runtime::agent::ExecRequest& request) const override;

  /// Makes the terminal raw until Restore, and makes SIGINT, SIGTERM, SIGHUP and SIGQUIT restore
  /// it before they end mvmctl as they would have (the sandbox is then removed as on any death of
  /// mvmctl). An Error when stdin's mode cannot be read or set.
  ErrorOr<Ok> Enter() override;
  /// Puts the terminal back as Enter found it, once the command's output is written; idempotent.
  void Restore() override;

  /// The terminal's size now (0x0 when it has none).
  runtime::agent::WindowSize Size() const;

 private:
  os::UniqueFd resize_read_;
  os::UniqueFd resize_write_;
  bool raw_ = false;
};

}  // namespace mvm::cli

#endif  // MVM_CLI_HOST_TERMINAL_H_
