#ifndef MVM_PASSES_HOST_H_
#define MVM_PASSES_HOST_H_

#include <string>
#include <string_view>

namespace mvm::passes {

/// Why `host` cannot name an egress destination (a network rule host or a secret host), phrased for
/// a diagnostic; empty when it is valid. Valid hosts are DNS names compared case-insensitively:
/// labels of 1..63 ASCII letters, digits and `-` (not at either end of a label), at most 253
/// characters in all, optionally preceded by a `*.` wildcard label followed by at least two labels.
/// Single-label names (`localhost`, `minio`) are allowed; raw IP addresses are not, because the
/// egress proxy pins names, never addresses.
std::string HostError(std::string_view host);

/// True when `host` looks like an IPv4 or IPv6 literal (with or without brackets or a port).
bool IsIpLiteral(std::string_view host);

/// `host` with ASCII letters lowercased; the canonical spelling stored in normalised IR.
std::string LowercaseHost(std::string_view host);

/// True when a rule for `rule_host` (an exact host or `*.suffix`) covers `host`. Case-insensitive.
/// A wildcard covers subdomains of the suffix at any depth but not the bare suffix, and so also
/// covers a narrower wildcard (`*.example.com` covers `*.api.example.com`).
bool HostAllows(std::string_view rule_host, std::string_view host);

}  // namespace mvm::passes

#endif  // MVM_PASSES_HOST_H_
