#ifndef MVM_RUNTIME_EGRESS_DNS_MESSAGE_H_
#define MVM_RUNTIME_EGRESS_DNS_MESSAGE_H_

// The resolver's DNS wire format, through ldns: queries from the sandbox are parsed and answers
// built by a DNS library, never by hand.

#include <netinet/in.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mvm::runtime::egress {

inline constexpr uint16_t kTypeA = 1;
inline constexpr uint16_t kTypeAaaa = 28;
inline constexpr uint16_t kClassIn = 1;

enum class Rcode : uint8_t {
  kNoError = 0,
  kFormErr = 1,
  kServFail = 2,
  kNxDomain = 3,
  kNotImp = 4,
  kRefused = 5,
};

struct DnsQuery {
  uint16_t id = 0;
  /// The question's name as ldns prints it, without the final dot ("api.example.com").
  std::string name;
  uint16_t type = 0;
  uint16_t klass = 0;
  bool recursion_desired = false;
  /// Why this is not a query the resolver answers (several questions, not QUERY, a response):
  /// it is answered FORMERR or NOTIMP with the same id. Empty for an ordinary query.
  std::string problem;
  Rcode problem_rcode = Rcode::kNoError;
};

/// The query in `wire`; nothing when the bytes are not a DNS message at all (then no answer is
/// sent: not even the id is known to be one).
std::optional<DnsQuery> ParseDnsQuery(std::string_view wire);

/// An answer to `query`: its question, `rcode`, and one A record per address with `ttl` seconds.
/// Empty if ldns fails (out of memory).
std::string DnsAnswer(const DnsQuery& query, Rcode rcode, const std::vector<in_addr>& addresses,
                      uint32_t ttl);

}  // namespace mvm::runtime::egress

#endif  // MVM_RUNTIME_EGRESS_DNS_MESSAGE_H_
