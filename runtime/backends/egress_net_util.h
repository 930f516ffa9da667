#ifndef MVM_RUNTIME_BACKENDS_EGRESS_NET_UTIL_H_
#define MVM_RUNTIME_BACKENDS_EGRESS_NET_UTIL_H_

// What every backend's egress plumbing does the same way, in the network namespace of the calling
// thread: the proxy's and the resolver's sockets, and the nftables rules that lead to them.

#include <string>

#include "ir/support/error_or.h"
#include "ir/support/os/unique_fd.h"

namespace mvm::runtime::backends {

/// A socket of `type` (SOCK_STREAM: listening; SOCK_DGRAM) bound at IPv4 `address`:`port`.
ErrorOr<os::UniqueFd> BoundEgressSocket(int type, const char* address, int port);

/// Loads `rules` (nft syntax) with libnftables; `what` names them in the error.
ErrorOr<Ok> LoadNftRules(const std::string& rules, const std::string& what);

}  // namespace mvm::runtime::backends

#endif  // MVM_RUNTIME_BACKENDS_EGRESS_NET_UTIL_H_
