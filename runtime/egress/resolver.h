#ifndef MVM_RUNTIME_EGRESS_RESOLVER_H_
#define MVM_RUNTIME_EGRESS_RESOLVER_H_

// The pinning resolver of one sandbox. It answers only names the policy allows, asks the host's
// own resolvers for them, refuses an answer that holds an address the proxy must never reach, and
// hands the sandbox a stable address of its own for each name (from 198.18.0.0/15), so that the
// proxy knows from a connection's destination which name it was resolved for. The proxy then
// connects that name only to addresses this resolver accepted for it: the pins.

#include <netinet/in.h>

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/egress/dns_message.h"
#include "runtime/egress/event_log.h"
#include "runtime/egress/policy.h"
#include "runtime/egress/substitute.h"

namespace mvm::runtime::egress {

/// What the host's resolvers said about a name.
struct UpstreamAnswer {
  Rcode rcode = Rcode::kServFail;
  std::vector<in_addr> v4;
  std::vector<in6_addr> v6;
  std::string error;  ///< when the resolvers could not be asked or did not answer
};

using UpstreamLookup = std::function<UpstreamAnswer(const std::string& name)>;

/// Asks the resolvers of `resolv_conf` (ldns; A, and AAAA only when there is no A; recursion
/// desired, 2 s per try).
UpstreamAnswer LookupUpstream(const std::string& name, const std::string& resolv_conf);

/// `fixed`'s addresses for a name it holds (every one must be a dotted IPv4 address, else the
/// answer is an error), LookupUpstream for any other name.
UpstreamAnswer LookupFixedOrUpstream(const std::string& name,
                                     const std::map<std::string, std::vector<std::string>>& fixed,
                                     const std::string& resolv_conf);

/// The sandbox-side address range: 198.18.0.0/15, which RefusedAddress refuses upstream.
inline constexpr uint32_t kSyntheticBase = (198u << 24) | (18u << 16);
inline constexpr uint32_t kSyntheticSize = 1u << 17;

class Resolver {
 public:
  /// At most this many names get an address per sandbox; later names are refused.
  static constexpr size_t kMaxNames = 4096;
  /// At most this many pinned addresses per name (the newest are kept).
  static constexpr size_t kMaxPins = 32;

  /// `secrets` (borrowed, may be null) are the sandbox's: a name holding one of their tokens is
  /// refused whatever the policy says, since asking upstream would carry the token out.
  Resolver(Policy policy, UpstreamLookup upstream, EventLog* events, std::string sandbox,
           const SecretTable* secrets = nullptr);

  /// The answer to one DNS message from the sandbox; empty when none is sent.
  std::string Answer(std::string_view wire);

  /// The outcome of resolving a name for the proxy.
  struct Resolved {
    in_addr synthetic{};
    std::vector<in_addr> v4;
    std::vector<in6_addr> v6;
    std::optional<std::string> refused;  ///< why not (and dns-reject was recorded)
    Rcode rcode = Rcode::kNoError;
  };
  /// Resolves `name` (normalised, allowed by the policy) upstream, checks and pins the answer.
  Resolved Resolve(const std::string& name);

  /// The name a sandbox-side address was handed out for.
  std::optional<std::string> NameOf(in_addr synthetic) const;
  /// The addresses pinned for `name`, newest first.
  std::vector<in_addr> PinnedV4(const std::string& name) const;
  std::vector<in6_addr> PinnedV6(const std::string& name) const;

 private:
  Policy policy_;
  UpstreamLookup upstream_;
  EventLog* events_;
  std::string sandbox_;
  const SecretTable* secrets_;
  /// Whether `name` holds a token (and then records the attempt).
  bool HoldsToken(std::string_view name);
  mutable std::mutex mu_;
  struct Entry {
    in_addr synthetic{};
    std::vector<in_addr> v4;
    std::vector<in6_addr> v6;
  };
  std::map<std::string, Entry> names_;
  std::map<uint32_t, std::string> by_synthetic_;
  uint32_t next_ = 2;  ///< 198.18.0.1 is kept for mvm's own use
};

}  // namespace mvm::runtime::egress

#endif  // MVM_RUNTIME_EGRESS_RESOLVER_H_
