#include "runtime/egress/dns_message.h"

#include <ldns/ldns.h>

#include <cstdlib>
#include <memory>

namespace mvm::runtime::egress {

namespace {

struct PktFree {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
using Pkt = std::unique_ptr<ldns_pkt, PktFree>;

}  // namespace

std::optional<DnsQuery> ParseDnsQuery(std::string_view wire) {
  ldns_pkt* raw = nullptr;
  if (wire.size() < 12 || ldns_wire2pkt(&raw, reinterpret_cast<const uint8_t*>(wire.data()),
                                        wire.size()) != LDNS_STATUS_OK) {
    if (raw != nullptr) {
      ldns_pkt_free(raw);
    }
    if (wire.size() >= 12 && (static_cast<uint8_t>(wire[2]) & 0x80) == 0) {
      // A header that says "query" over bytes ldns cannot read: answer FORMERR with its id.
      DnsQuery q;
      q.id = static_cast<uint16_t>((static_cast<uint8_t>(wire[0]) << 8) |
                                   static_cast<uint8_t>(wire[1]));
      q.problem = "a malformed DNS query";
      q.problem_rcode = Rcode::kFormErr;
      return q;
    }
    return std::nullopt;
  }
  Pkt pkt(raw);
  if (ldns_pkt_qr(pkt.get())) {
    return std::nullopt;  // a response: never answered, or two resolvers could loop
  }
  DnsQuery q;
  q.id = ldns_pkt_id(pkt.get());
  q.recursion_desired = ldns_pkt_rd(pkt.get());
  if (ldns_pkt_get_opcode(pkt.get()) != LDNS_PACKET_QUERY) {
    q.problem = "a DNS operation other than QUERY";
    q.problem_rcode = Rcode::kNotImp;
    return q;
  }
  ldns_rr_list* questions = ldns_pkt_question(pkt.get());
  if (ldns_rr_list_rr_count(questions) != 1) {
    q.problem = "a DNS query with " + std::to_string(ldns_rr_list_rr_count(questions)) +
                " questions (one is answered)";
    q.problem_rcode = Rcode::kFormErr;
    return q;
  }
  const ldns_rr* question = ldns_rr_list_rr(questions, 0);
  q.type = static_cast<uint16_t>(ldns_rr_get_type(question));
  q.klass = static_cast<uint16_t>(ldns_rr_get_class(question));
  char* text = ldns_rdf2str(ldns_rr_owner(question));
  if (text == nullptr) {
    q.problem = "a DNS query whose name cannot be read";
    q.problem_rcode = Rcode::kFormErr;
    return q;
  }
  q.name = text;
  std::free(text);
  if (q.name.ends_with('.')) {
    q.name.pop_back();
  }
  return q;
}

std::string DnsAnswer(const DnsQuery& query, Rcode rcode, const std::vector<in_addr>& addresses,
                      uint32_t ttl) {
  Pkt pkt(ldns_pkt_new());
  if (!pkt) {
    return "";
  }
  ldns_pkt_set_id(pkt.get(), query.id);
  ldns_pkt_set_qr(pkt.get(), true);
  ldns_pkt_set_opcode(pkt.get(), LDNS_PACKET_QUERY);
  ldns_pkt_set_rd(pkt.get(), query.recursion_desired);
  ldns_pkt_set_ra(pkt.get(), true);
  ldns_pkt_set_rcode(pkt.get(), static_cast<uint8_t>(rcode));
  ldns_rdf* owner = nullptr;
  if (query.problem.empty() && !query.name.empty()) {
    owner = ldns_dname_new_frm_str((query.name + ".").c_str());
  }
  if (owner != nullptr) {
    ldns_rr* question = ldns_rr_new();
    ldns_rr_set_owner(question, ldns_rdf_clone(owner));
    ldns_rr_set_type(question, static_cast<ldns_rr_type>(query.type));
    ldns_rr_set_class(question, static_cast<ldns_rr_class>(query.klass));
    ldns_rr_set_question(question, true);
    ldns_pkt_push_rr(pkt.get(), LDNS_SECTION_QUESTION, question);
    for (const in_addr& address : addresses) {
      ldns_rr* rr = ldns_rr_new();
      ldns_rr_set_owner(rr, ldns_rdf_clone(owner));
      ldns_rr_set_type(rr, LDNS_RR_TYPE_A);
      ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
      ldns_rr_set_ttl(rr, ttl);
      ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, 4, &address));
      ldns_pkt_push_rr(pkt.get(), LDNS_SECTION_ANSWER, rr);
    }
    ldns_rdf_deep_free(owner);
  }
  uint8_t* wire = nullptr;
  size_t size = 0;
  if (ldns_pkt2wire(&wire, pkt.get(), &size) != LDNS_STATUS_OK) {
    return "";
  }
  std::string out(reinterpret_cast<const char*>(wire), size);
  std::free(wire);
  return out;
}

}  // namespace mvm::runtime::egress
