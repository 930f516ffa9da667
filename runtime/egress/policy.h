#ifndef MVM_RUNTIME_EGRESS_POLICY_H_
#define MVM_RUNTIME_EGRESS_POLICY_H_

// A sandbox's egress policy as the verified plan states it, and the one way names are compared
// with it: the resolver, the proxy's HTTP Host check and its TLS SNI check all ask Match.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mvm::runtime::egress {

enum class Protocol { kHttp, kHttps };

std::string_view ProtocolName(Protocol protocol);

struct Rule {
  /// A normalised name (NormaliseName) or `*.` + a normalised name.
  std::string host;
  Protocol protocol = Protocol::kHttps;
};

struct Policy {
  std::vector<Rule> rules;
  /// The sandbox may resolve names (only the names the rules allow) through the pinning resolver.
  bool dns = false;

  /// The rule that allows `name` (normalised) over `protocol`, as "https api.example.com", or
  /// nothing. An exact rule matches only its name; `*.suffix` matches every name that ends in
  /// `.suffix`, at any depth, but not `suffix` itself.
  std::optional<std::string> Match(std::string_view name, Protocol protocol) const;
  /// Whether any rule allows `name` over either protocol: the resolver answers only such names.
  bool AllowsName(std::string_view name) const;
};

/// Whether a rule's host `pattern` covers `name` (both normalised): an exact pattern only its name,
/// `*.suffix` every name that ends in `.suffix`, at any depth, but not `suffix` itself. Rules and a
/// secret's hosts are matched by this one function.
bool HostPatternCovers(std::string_view pattern, std::string_view name);

/// `name` as a DNS name in the form rules are compared in: lowercase ASCII, one trailing dot
/// dropped, labels of 1–63 letters, digits, `-` or `_`, 253 characters at most. Nothing for
/// anything else: an empty name, a non-ASCII byte (a client sends internationalised names in their
/// `xn--` ASCII form), an IP address in any spelling `inet_aton` or `inet_pton` accepts (`1.2.3.4`,
/// `0x7f.1`, `2130706433`, `::1`), a name whose last label is all digits, a port or a bracket.
std::optional<std::string> NormaliseName(std::string_view name);

}  // namespace mvm::runtime::egress

#endif  // MVM_RUNTIME_EGRESS_POLICY_H_
