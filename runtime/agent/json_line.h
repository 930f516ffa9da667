#ifndef MVM_RUNTIME_AGENT_JSON_LINE_H_
#define MVM_RUNTIME_AGENT_JSON_LINE_H_

// One JSON object per line on a unix socket, with a descriptor passed along where a request needs
// one (SCM_RIGHTS): the host-side control wires of a warm pool (runtime/launcher/pool_wire.h), an
// egress helper's settings, and a VM supervisor's control socket
// (runtime/backends/qemu_microvm/control.h). Host only: the guest agent speaks agent.proto.

#include <chrono>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string_view>

#include "ir/support/error_or.h"

namespace mvm::runtime::agent {

/// Writes all of `data` on the unix socket `sock`; `pass_fd`, unless -1, goes along with its
/// first byte.
ErrorOr<Ok> WriteAllWithFd(int sock, std::string_view data, int pass_fd = -1);

/// Reads one line holding a JSON object from `sock`, waiting at most `timeout` for all of it and
/// refusing a line longer than `max_bytes`. With `received_fd`, the first descriptor passed along
/// is stored there (the caller closes it, also on an Error); any other is closed. What follows the
/// line in the same read is dropped: the peer sends one line and waits for the answer.
ErrorOr<nlohmann::json> ReadJsonLine(int sock, int* received_fd, std::chrono::milliseconds timeout,
                                     size_t max_bytes);

}  // namespace mvm::runtime::agent

#endif  // MVM_RUNTIME_AGENT_JSON_LINE_H_
