#include "runtime/egress/resolver.h"

#include <arpa/inet.h>
#include <ldns/ldns.h>

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "runtime/egress/dns_message.h"
#include "runtime/egress/substitute.h"
#include "runtime/secrets/secrets.h"
#include "tests/runtime/egress/egress_test_util.h"

namespace {

namespace eg = mvm::runtime::egress;

using mvm::testing::V4;

/// A DNS query for `name` of `type`, built by ldns as a client would.
std::string Query(const std::string& name, uint16_t type, uint16_t id = 0x1234) {
  ldns_pkt* pkt = nullptr;
  EXPECT_EQ(ldns_pkt_query_new_frm_str(&pkt, name.c_str(), static_cast<ldns_rr_type>(type),
                                       LDNS_RR_CLASS_IN, LDNS_RD),
            LDNS_STATUS_OK);
  ldns_pkt_set_id(pkt, id);
  uint8_t* wire = nullptr;
  size_t size = 0;
  EXPECT_EQ(ldns_pkt2wire(&wire, pkt, &size), LDNS_STATUS_OK);
  std::string out(reinterpret_cast<char*>(wire), size);
  free(wire);
  ldns_pkt_free(pkt);
  return out;
}

struct Answer {
  uint16_t id = 0;
  int rcode = -1;
  std::vector<std::string> a;
};

Answer Parse(const std::string& wire) {
  Answer out;
  ldns_pkt* pkt = nullptr;
  if (ldns_wire2pkt(&pkt, reinterpret_cast<const uint8_t*>(wire.data()), wire.size()) !=
      LDNS_STATUS_OK) {
    return out;
  }
  out.id = ldns_pkt_id(pkt);
  out.rcode = ldns_pkt_get_rcode(pkt);
  ldns_rr_list* answers = ldns_pkt_answer(pkt);
  for (size_t i = 0; i < ldns_rr_list_rr_count(answers); ++i) {
    char* text = ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(answers, i), 0));
    out.a.emplace_back(text);
    free(text);
  }
  ldns_pkt_free(pkt);
  return out;
}

struct Recorded {
  std::mutex mu;
  std::vector<std::pair<std::string, nlohmann::json>> events;
};

class ResolverTest : public ::testing::Test {
 protected:
  ResolverTest()
      : log_(
            [this](const std::string& e, const nlohmann::json& f) {
              std::lock_guard<std::mutex> lock(recorded_.mu);
              recorded_.events.emplace_back(e, f);
            },
            std::chrono::milliseconds(60000)) {
    policy_.rules = {{"allowed.test", eg::Protocol::kHttps}, {"*.wild.test", eg::Protocol::kHttp}};
    policy_.dns = true;
  }

  /// The upstream: allowed.test has one public address; rebind.wild.test answers 203.0.113.30
  /// first and the metadata address after; private.wild.test a private one.
  eg::UpstreamAnswer Upstream(const std::string& name) {
    ++asked_;
    eg::UpstreamAnswer a;
    a.rcode = eg::Rcode::kNoError;
    if (name == "allowed.test") {
      a.v4 = {V4("203.0.113.10")};
    } else if (name == "rebind.wild.test") {
      a.v4 = {V4(rebinds_++ == 0 ? "203.0.113.30" : "169.254.169.254")};
    } else if (name == "private.wild.test") {
      a.v4 = {V4("203.0.113.31"), V4("10.1.2.3")};
    } else {
      a.rcode = eg::Rcode::kNxDomain;
    }
    return a;
  }

  std::vector<std::string> Events(const std::string& name) {
    // The log writes on its own thread; wait (bounded) for it to catch up.
    for (int i = 0; i < 200; ++i) {
      {
        std::lock_guard<std::mutex> lock(recorded_.mu);
        if (recorded_.events.size() >= expected_) {
          break;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::lock_guard<std::mutex> lock(recorded_.mu);
    std::vector<std::string> out;
    for (const auto& [event, fields] : recorded_.events) {
      if (fields.value("name", "") == name) {
        out.push_back(event);
      }
    }
    return out;
  }

  eg::Policy policy_;
  Recorded recorded_;
  eg::EventLog log_;
  int asked_ = 0;
  int rebinds_ = 0;
  size_t expected_ = 0;
};

TEST_F(ResolverTest, AnAllowedNameGetsAStableSandboxAddressAndItsUpstreamAddressIsPinned) {
  eg::Resolver r(
      policy_, [this](const std::string& n) { return Upstream(n); }, &log_, "box");
  Answer a = Parse(r.Answer(Query("Allowed.Test.", eg::kTypeA, 7)));
  EXPECT_EQ(a.id, 7);
  EXPECT_EQ(a.rcode, LDNS_RCODE_NOERROR);
  ASSERT_EQ(a.a.size(), 1u);
  EXPECT_EQ(a.a[0], "198.18.0.2");
  EXPECT_EQ(r.NameOf(V4("198.18.0.2")), "allowed.test");
  ASSERT_EQ(r.PinnedV4("allowed.test").size(), 1u);
  Answer again = Parse(r.Answer(Query("allowed.test.", eg::kTypeA)));
  EXPECT_EQ(again.a, a.a);
  EXPECT_EQ(asked_, 2);  // every query is asked upstream: pins follow the name's addresses
  expected_ = 1;
  EXPECT_EQ(Events("allowed.test"), std::vector<std::string>{"dns-pin"});  // repeats aggregated
}

TEST_F(ResolverTest, ANameNoRuleAllowsIsNxdomainAndAuditedWithoutAskingUpstream) {
  eg::Resolver r(
      policy_, [this](const std::string& n) { return Upstream(n); }, &log_, "box");
  Answer a = Parse(r.Answer(Query("other.test.", eg::kTypeA)));
  EXPECT_EQ(a.rcode, LDNS_RCODE_NXDOMAIN);
  EXPECT_EQ(asked_, 0);
  // The apex of a wildcard is not covered either.
  EXPECT_EQ(Parse(r.Answer(Query("wild.test.", eg::kTypeA))).rcode, LDNS_RCODE_NXDOMAIN);
  expected_ = 2;
  EXPECT_EQ(Events("other.test"), std::vector<std::string>{"dns-reject"});
}

TEST_F(ResolverTest, RebindingToTheMetadataAddressIsRefusedAndThePinStaysPublic) {
  eg::Resolver r(
      policy_, [this](const std::string& n) { return Upstream(n); }, &log_, "box");
  Answer first = Parse(r.Answer(Query("rebind.wild.test.", eg::kTypeA)));
  ASSERT_EQ(first.a.size(), 1u);
  Answer second = Parse(r.Answer(Query("rebind.wild.test.", eg::kTypeA)));
  EXPECT_EQ(second.rcode, LDNS_RCODE_REFUSED);
  EXPECT_TRUE(second.a.empty());
  std::vector<in_addr> pins = r.PinnedV4("rebind.wild.test");
  ASSERT_EQ(pins.size(), 1u);
  EXPECT_EQ(pins[0].s_addr, V4("203.0.113.30").s_addr);
  expected_ = 2;
  EXPECT_EQ(Events("rebind.wild.test"), (std::vector<std::string>{"dns-pin", "dns-reject"}));
}

TEST_F(ResolverTest, AnAnswerWithAnyPrivateAddressIsRefusedWhole) {
  eg::Resolver r(
      policy_, [this](const std::string& n) { return Upstream(n); }, &log_, "box");
  Answer a = Parse(r.Answer(Query("private.wild.test.", eg::kTypeA)));
  EXPECT_EQ(a.rcode, LDNS_RCODE_REFUSED);
  EXPECT_TRUE(r.PinnedV4("private.wild.test").empty());
  EXPECT_EQ(r.NameOf(V4("198.18.0.2")), std::nullopt);
}

TEST_F(ResolverTest, OtherTypesOfAnAllowedNameAreEmptyAndMalformedQueriesAreAnsweredOrDropped) {
  eg::Resolver r(
      policy_, [this](const std::string& n) { return Upstream(n); }, &log_, "box");
  Answer aaaa = Parse(r.Answer(Query("allowed.test.", eg::kTypeAaaa)));
  EXPECT_EQ(aaaa.rcode, LDNS_RCODE_NOERROR);
  EXPECT_TRUE(aaaa.a.empty());
  Answer https = Parse(r.Answer(Query("allowed.test.", 65)));
  EXPECT_EQ(https.rcode, LDNS_RCODE_NOERROR);
  EXPECT_TRUE(https.a.empty());
  EXPECT_EQ(asked_, 0);
  EXPECT_EQ(r.Answer("short"), "");
  const char raw[] = "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff\xff";
  std::string garbage(raw, sizeof raw - 1);
  Answer formerr = Parse(r.Answer(garbage));
  EXPECT_EQ(formerr.id, 0x1234);
  EXPECT_EQ(formerr.rcode, LDNS_RCODE_FORMERR);
}

TEST_F(ResolverTest, ANameHoldingASecretTokenIsRefusedWhateverTheRules) {
  const std::string token = mvm::runtime::secrets::MintToken();
  std::vector<eg::SandboxSecret> list;
  list.push_back({"openai",
                  token,
                  {"allowed.test"},
                  std::make_shared<const mvm::runtime::secrets::SecretBytes>(
                      std::move(*mvm::runtime::secrets::SecretBytes::Copy("sk-value")))});
  const eg::SecretTable table(std::move(list));
  eg::Resolver r(
      policy_, [this](const std::string& n) { return Upstream(n); }, &log_, "box", &table);
  std::string upper = token;
  for (char& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  // `*.wild.test` allows both names, yet neither is asked upstream, where the question itself
  // would carry the token out.
  EXPECT_EQ(Parse(r.Answer(Query(token + ".wild.test.", eg::kTypeA))).rcode, LDNS_RCODE_REFUSED);
  EXPECT_EQ(Parse(r.Answer(Query("a." + upper + ".wild.test.", eg::kTypeAaaa))).rcode,
            LDNS_RCODE_REFUSED);
  EXPECT_EQ(asked_, 0);
  EXPECT_EQ(Parse(r.Answer(Query("allowed.test.", eg::kTypeA))).rcode, LDNS_RCODE_NOERROR);
  // The proxy's own lookups go through the same check.
  EXPECT_TRUE(r.Resolve(token + ".wild.test").refused.has_value());
  EXPECT_EQ(asked_, 1);
  log_.Close();
  std::lock_guard<std::mutex> lock(recorded_.mu);
  std::vector<nlohmann::json> refused;
  for (const auto& [event, fields] : recorded_.events) {
    if (event == "secret-exfiltration") {
      refused.push_back(fields);
    }
  }
  // Three of one kind: written once, then counted when the log closes. No record names the name.
  ASSERT_EQ(refused.size(), 2u);
  EXPECT_EQ(refused[0], (nlohmann::json{{"sandbox", "box"},
                                        {"secret", "openai"},
                                        {"reason", "a secret token in a DNS name"}}));
  EXPECT_EQ(refused[1].value("repeats", 0), 2);
}

}  // namespace
