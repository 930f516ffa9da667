#ifndef MVM_RUNTIME_EGRESS_ADDRESS_H_
#define MVM_RUNTIME_EGRESS_ADDRESS_H_

// Which upstream addresses the proxy may ever connect to, whatever name they were given for: the
// pinning resolver refuses an answer that holds any other (a rebinding name, a name pointed at the
// cloud metadata service or at the host's own networks).

#include <netinet/in.h>

#include <string>
#include <string_view>

namespace mvm::runtime::egress {

/// Why the proxy must never connect to `address`, e.g. "link-local (169.254.0.0/16, cloud metadata
/// services)"; empty when it may. Refused: unspecified, "this network", loopback, the private
/// ranges, carrier-grade NAT, link-local, IETF protocol assignments, benchmarking (mvm's own
/// sandbox-side addresses come from it), multicast, reserved and broadcast; for IPv6 the same
/// kinds (unspecified, loopback, unique local, link-local, site-local, multicast) and any IPv4
/// address embedded in a mapped, compatible or NAT64 address that is refused itself.
std::string RefusedAddress(const in_addr& address);
std::string RefusedAddress(const in6_addr& address);

/// "203.0.113.10" / "2001:db8::1".
std::string AddressText(const in_addr& address);
std::string AddressText(const in6_addr& address);

}  // namespace mvm::runtime::egress

#endif  // MVM_RUNTIME_EGRESS_ADDRESS_H_
