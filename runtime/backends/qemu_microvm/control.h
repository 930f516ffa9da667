#ifndef MVM_RUNTIME_BACKENDS_QEMU_MICROVM_CONTROL_H_
#define MVM_RUNTIME_BACKENDS_QEMU_MICROVM_CONTROL_H_

// A VM's control socket: how `mvmctl pause`, `resume` and `snapshot --full`, run in any process,
// reach the VM's supervisor, which alone holds qemu's monitor (QMP) and the agent port's mux.
//
// The socket is `control.sock` in the sandbox's state directory (owner-only, as the agent socket
// beside it). A client sends one request, a JSON object on one line, with at most one descriptor
// beside it (SCM_RIGHTS), and reads one JSON line back: {"ok":true,...} or
// {"ok":false,"error":...}. The supervisor serves one client at a time, so two snapshots of one VM
// never interleave.
//
// Requests:
//   {"op":"status"}   -> {"ok":true,"status":"running"|"paused"|...,"qemu_version":"7.2.x"}
//   {"op":"pause"}    QMP `stop`: the vCPUs halt; the guest's clocks and timers stand still.
//   {"op":"resume"}   QMP `cont`.
//   {"op":"snapshot"} + a writable descriptor: the VM's memory and device state, as qemu's
//       migration stream, written to it. The agent port is drained first (the mux's QUIESCE), the
//       vCPUs stop, qemu migrates into the descriptor, and the VM continues as it was (paused stays
//       paused) -> {"ok":true,"qemu_version":...,"ram_bytes":N,"duration_ms":D}.

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "ir/support/error_or.h"

namespace mvm::runtime::qemu_microvm {

/// The file name of the control socket in a sandbox's state directory.
inline constexpr char kControlSocket[] = "control.sock";

/// How long a snapshot's migration may take before it is cancelled.
inline constexpr std::chrono::seconds kMaxMigrationTime{300};
/// How long the guest may take to acknowledge the drain of its port.
inline constexpr std::chrono::seconds kMaxQuiesceTime{10};

/// What the supervisor's control thread works with, all owned by the supervisor.
struct ControlEnds {
  int listener = -1;     ///< the listening control socket
  int qmp = -1;          ///< the supervisor's end of qemu's monitor (a connected socket)
  int mux_control = -1;  ///< agent::MuxOptions::control_fd's other end
  /// qemu loads a saved state (Spec::incoming): the state was saved with the vCPUs stopped, so
  /// qemu keeps them stopped once it is loaded; they are continued then.
  bool incoming = false;
  /// How long the guest may take to acknowledge the drain (kMaxQuiesceTime; shorter in tests).
  std::chrono::milliseconds quiesce_timeout = kMaxQuiesceTime;
};

/// How long qemu may take to load a saved state.
inline constexpr std::chrono::seconds kMaxIncomingTime{120};

/// Continues a VM loaded from a saved state (ControlEnds::incoming), then serves control requests
/// until the monitor closes (qemu has ended). Runs on a thread of the
/// supervisor; never throws.
void ServeControl(const ControlEnds& ends);

/// Sends `request` (with `fd` beside it unless -1) to the control socket at `socket` and returns
/// the answer's fields; an Error when the socket cannot be reached, the answer is not one JSON
/// object, or it says {"ok":false} (its "error" is the message). Waits at most `timeout`.
ErrorOr<nlohmann::json> ControlRequest(const std::filesystem::path& socket,
                                       const nlohmann::json& request, int fd,
                                       std::chrono::milliseconds timeout);

}  // namespace mvm::runtime::qemu_microvm

#endif  // MVM_RUNTIME_BACKENDS_QEMU_MICROVM_CONTROL_H_
