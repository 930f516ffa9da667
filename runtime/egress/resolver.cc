#include "runtime/egress/resolver.h"

#include <arpa/inet.h>
#include <ldns/ldns.h>

#include <algorithm>
#include <memory>

#include "runtime/egress/address.h"

namespace mvm::runtime::egress {

namespace {

struct ResolverFree {
  void operator()(ldns_resolver* r) const { ldns_resolver_deep_free(r); }
};
struct PktFree {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
struct RdfFree {
  void operator()(ldns_rdf* r) const { ldns_rdf_deep_free(r); }
};

template <typename T>
void PushNewest(std::vector<T>& pins, const std::vector<T>& fresh, size_t max) {
  for (const T& a : fresh) {
    auto same = std::find_if(pins.begin(), pins.end(),
                             [&](const T& b) { return std::memcmp(&a, &b, sizeof a) == 0; });
    if (same != pins.end()) {
      pins.erase(same);
    }
  }
  pins.insert(pins.begin(), fresh.begin(), fresh.end());
  if (pins.size() > max) {
    pins.resize(max);
  }
}

nlohmann::json Texts(const std::vector<in_addr>& v4, const std::vector<in6_addr>& v6) {
  nlohmann::json out = nlohmann::json::array();
  for (const in_addr& a : v4) {
    out.push_back(AddressText(a));
  }
  for (const in6_addr& a : v6) {
    out.push_back(AddressText(a));
  }
  return out;
}

}  // namespace

UpstreamAnswer LookupUpstream(const std::string& name, const std::string& resolv_conf) {
  UpstreamAnswer out;
  ldns_resolver* raw = nullptr;
  if (ldns_resolver_new_frm_file(&raw, resolv_conf.c_str()) != LDNS_STATUS_OK || raw == nullptr) {
    out.error = "cannot read the host's resolvers from " + resolv_conf;
    return out;
  }
  std::unique_ptr<ldns_resolver, ResolverFree> resolver(raw);
  ldns_resolver_set_timeout(resolver.get(), timeval{2, 0});
  ldns_resolver_set_retry(resolver.get(), 2);
  ldns_resolver_set_dnssec(resolver.get(), false);
  std::unique_ptr<ldns_rdf, RdfFree> dname(ldns_dname_new_frm_str((name + ".").c_str()));
  if (!dname) {
    out.error = "`" + name + "` is not a DNS name";
    return out;
  }
  bool answered = false;
  // IPv4 first, and IPv6 only for a name without IPv4 addresses: the two questions one after the
  // other would double every lookup the sandbox waits for.
  for (ldns_rr_type type : {LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA}) {
    if (type == LDNS_RR_TYPE_AAAA &&
        (!out.v4.empty() || (answered && out.rcode != Rcode::kNoError))) {
      break;
    }
    ldns_pkt* pkt_raw = nullptr;
    const ldns_status status = ldns_resolver_query_status(&pkt_raw, resolver.get(), dname.get(),
                                                          type, LDNS_RR_CLASS_IN, LDNS_RD);
    std::unique_ptr<ldns_pkt, PktFree> pkt(pkt_raw);
    if (status != LDNS_STATUS_OK || !pkt) {
      out.error =
          std::string("the host's resolvers did not answer: ") + ldns_get_errorstr_by_id(status);
      continue;
    }
    answered = true;
    out.rcode = static_cast<Rcode>(ldns_pkt_get_rcode(pkt.get()));
    if (out.rcode != Rcode::kNoError) {
      break;
    }
    ldns_rr_list* answers = ldns_pkt_answer(pkt.get());
    for (size_t i = 0; i < ldns_rr_list_rr_count(answers); ++i) {
      const ldns_rr* rr = ldns_rr_list_rr(answers, i);
      const ldns_rdf* data = ldns_rr_rdf(rr, 0);
      if (data == nullptr) {
        continue;
      }
      if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_A && ldns_rdf_size(data) == 4) {
        in_addr a{};
        std::memcpy(&a, ldns_rdf_data(data), 4);
        out.v4.push_back(a);
      } else if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_AAAA && ldns_rdf_size(data) == 16) {
        in6_addr a{};
        std::memcpy(&a, ldns_rdf_data(data), 16);
        out.v6.push_back(a);
      }
    }
  }
  if (answered && out.rcode == Rcode::kServFail && out.error.empty()) {
    out.error = "the host's resolvers failed (SERVFAIL)";
  }
  if (answered && out.rcode == Rcode::kNoError) {
    out.error.clear();
  }
  return out;
}

UpstreamAnswer LookupFixedOrUpstream(const std::string& name,
                                     const std::map<std::string, std::vector<std::string>>& fixed,
                                     const std::string& resolv_conf) {
  auto it = fixed.find(name);
  if (it == fixed.end()) {
    return LookupUpstream(name, resolv_conf);
  }
  UpstreamAnswer out;
  for (const std::string& text : it->second) {
    in_addr a{};
    if (::inet_pton(AF_INET, text.c_str(), &a) != 1) {
      out.error = "the fixed address `" + text + "` of " + name + " is not an IPv4 address";
      return out;
    }
    out.v4.push_back(a);
  }
  out.rcode = Rcode::kNoError;
  return out;
}

Resolver::Resolver(Policy policy, UpstreamLookup upstream, EventLog* events, std::string sandbox,
                   const SecretTable* secrets)
    : policy_(std::move(policy)),
      upstream_(std::move(upstream)),
      events_(events),
      sandbox_(std::move(sandbox)),
      secrets_(secrets) {}

bool Resolver::HoldsToken(std::string_view name) {
  const SandboxSecret* secret = secrets_ != nullptr ? secrets_->FindToken(name) : nullptr;
  if (secret == nullptr) {
    return false;
  }
  // No `name` field: the name holds the token, and records hold a secret's name only.
  events_->Record("secret-exfiltration", {{"sandbox", sandbox_},
                                          {"secret", secret->name},
                                          {"reason", "a secret token in a DNS name"}});
  return true;
}

Resolver::Resolved Resolver::Resolve(const std::string& name) {
  Resolved out;
  auto reject = [&](const std::string& reason, nlohmann::json extra) {
    out.refused = reason;
    extra["sandbox"] = sandbox_;
    extra["name"] = name;
    extra["reason"] = reason;
    events_->Record("dns-reject", std::move(extra));
  };
  if (HoldsToken(name)) {
    out.rcode = Rcode::kRefused;
    out.refused = "a secret token in the name";
    return out;
  }
  UpstreamAnswer answer = upstream_(name);
  if (!answer.error.empty()) {
    out.rcode = Rcode::kServFail;
    out.refused = answer.error;
    events_->Record(
        "proxy-fail",
        {{"sandbox", sandbox_}, {"name", name}, {"stage", "resolve"}, {"reason", answer.error}});
    return out;
  }
  if (answer.rcode != Rcode::kNoError) {
    out.rcode = answer.rcode;
    out.refused = answer.rcode == Rcode::kNxDomain ? "the name does not exist upstream"
                                                   : "the upstream resolver refused the name";
    return out;
  }
  for (const in_addr& a : answer.v4) {
    if (std::string why = RefusedAddress(a); !why.empty()) {
      out.rcode = Rcode::kRefused;
      reject("the answer holds " + AddressText(a) + ", which is " + why,
             {{"addresses", Texts(answer.v4, answer.v6)}});
      return out;
    }
  }
  for (const in6_addr& a : answer.v6) {
    if (std::string why = RefusedAddress(a); !why.empty()) {
      out.rcode = Rcode::kRefused;
      reject("the answer holds " + AddressText(a) + ", which is " + why,
             {{"addresses", Texts(answer.v4, answer.v6)}});
      return out;
    }
  }
  if (answer.v4.empty() && answer.v6.empty()) {
    out.rcode = Rcode::kNoError;
    out.refused = "the name has no address upstream";
    return out;
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = names_.find(name);
  if (it == names_.end()) {
    if (names_.size() >= kMaxNames || next_ >= kSyntheticSize) {
      out.rcode = Rcode::kRefused;
      reject("the sandbox has resolved " + std::to_string(kMaxNames) + " names, the most it may",
             nlohmann::json::object());
      return out;
    }
    Entry entry;
    entry.synthetic.s_addr = htonl(kSyntheticBase + next_++);
    it = names_.emplace(name, entry).first;
    by_synthetic_[ntohl(entry.synthetic.s_addr)] = name;
  }
  PushNewest(it->second.v4, answer.v4, kMaxPins);
  PushNewest(it->second.v6, answer.v6, kMaxPins);
  out.synthetic = it->second.synthetic;
  out.v4 = it->second.v4;
  out.v6 = it->second.v6;
  events_->Record("dns-pin", {{"sandbox", sandbox_},
                              {"name", name},
                              {"addresses", Texts(answer.v4, answer.v6)},
                              {"sandbox_address", AddressText(it->second.synthetic)}});
  return out;
}

std::string Resolver::Answer(std::string_view wire) {
  std::optional<DnsQuery> query = ParseDnsQuery(wire);
  if (!query) {
    return "";
  }
  // First, whatever the rules say: a `*.example.com` rule must not let `<token>.example.com` be
  // asked upstream, where the question itself is the leak.
  if (HoldsToken(query->name)) {
    return DnsAnswer(*query, Rcode::kRefused, {}, 0);
  }
  if (!query->problem.empty()) {
    return DnsAnswer(*query, query->problem_rcode, {}, 0);
  }
  std::optional<std::string> name = NormaliseName(query->name);
  if (!name || !policy_.AllowsName(*name) || query->klass != kClassIn) {
    events_->Record("dns-reject", {{"sandbox", sandbox_},
                                   {"name", query->name},
                                   {"reason", "no rule of the policy allows this name"}});
    return DnsAnswer(*query, Rcode::kNxDomain, {}, 0);
  }
  if (query->type != kTypeA) {
    // The sandbox reaches the proxy over IPv4 only; for other types (AAAA, HTTPS records that
    // could carry ECH keys, TXT) the name exists and has no data.
    return DnsAnswer(*query, Rcode::kNoError, {}, 30);
  }
  Resolved resolved = Resolve(*name);
  if (resolved.refused) {
    return DnsAnswer(*query, resolved.rcode == Rcode::kNoError ? Rcode::kNoError : resolved.rcode,
                     {}, 0);
  }
  return DnsAnswer(*query, Rcode::kNoError, {resolved.synthetic}, 30);
}

std::optional<std::string> Resolver::NameOf(in_addr synthetic) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_synthetic_.find(ntohl(synthetic.s_addr));
  if (it == by_synthetic_.end()) {
    return std::nullopt;
  }
  return it->second;
}

std::vector<in_addr> Resolver::PinnedV4(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = names_.find(name);
  return it == names_.end() ? std::vector<in_addr>{} : it->second.v4;
}

std::vector<in6_addr> Resolver::PinnedV6(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = names_.find(name);
  return it == names_.end() ? std::vector<in6_addr>{} : it->second.v6;
}

}  // namespace mvm::runtime::egress
