#ifndef MVM_RUNTIME_BACKENDS_CONTAINER_EGRESS_NET_H_
#define MVM_RUNTIME_BACKENDS_CONTAINER_EGRESS_NET_H_

// A container's way out, for a plan that allows egress (docs/architecture/egress.md). The sandbox
// keeps its own network namespace with only `lo`; in it this adds
//   - a default route via `lo`, so that a connection to any address leaves the socket layer, and
//     198.18.0.1 on `lo` as the source address of such connections;
//   - an nftables rule that redirects every TCP connection to anything outside 127.0.0.0/8 to the
//     proxy's socket at 127.0.0.1:15001 (the proxy reads the original destination);
//   - the proxy's listening socket there, and the resolver's UDP socket at 127.0.0.53:53, both
//     made in the sandbox's namespace by this (host) process and served by the egress helper in
//     the host's.
// Nothing else leaves: packets to other addresses go to `lo`, which delivers only local ones, and
// IPv6 has no route at all. The sandbox's root may delete the route or the rule; that breaks only
// its own transparency, because nothing but these two sockets is reachable from its namespace.

#include <sys/types.h>

#include "ir/support/error_or.h"
#include "runtime/backends/backend.h"

namespace mvm::runtime::container {

inline constexpr const char* kResolverAddress = "127.0.0.53";
inline constexpr int kProxyPort = 15001;

/// The resolv.conf a sandbox with egress gets.
std::string EgressResolvConf();

/// Sets up the way out in the network namespace of `pid` (the sandbox's PID 1) and returns its
/// sockets.
ErrorOr<backends::EgressEndpoints> OpenEgressNetwork(pid_t pid);

}  // namespace mvm::runtime::container

#endif  // MVM_RUNTIME_BACKENDS_CONTAINER_EGRESS_NET_H_
