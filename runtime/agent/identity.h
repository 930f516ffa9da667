#ifndef MVM_RUNTIME_AGENT_IDENTITY_H_
#define MVM_RUNTIME_AGENT_IDENTITY_H_

// A restored VM's new identity (agent.proto, Refresh): the copies of one snapshot share their
// hostname, the kernel's random state and a clock that stopped when the snapshot was taken, until
// the host tells each its own.

#include "ir/support/error_or.h"
#include "runtime/agent/agent.pb.h"

namespace mvm::runtime::agent {

/// The bounds of Refresh::entropy.
inline constexpr size_t kMinRefreshEntropy = 32;
inline constexpr size_t kMaxRefreshEntropy = 512;

/// Sets the hostname, mixes the entropy into the kernel's pool and reseeds its CRNG (RNDADDENTROPY,
/// then RNDRESEEDCRNG, so that the next read of /dev/urandom or getrandom() already depends on
/// it), and steps CLOCK_REALTIME. Needs the capabilities a microVM's init has; an Error names the
/// step that failed, after the steps before it took effect.
ErrorOr<Ok> ApplyRefresh(const ::mvm::agent::v1::Refresh& refresh);

}  // namespace mvm::runtime::agent

#endif  // MVM_RUNTIME_AGENT_IDENTITY_H_
