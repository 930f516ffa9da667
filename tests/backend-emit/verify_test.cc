#include "backend-emit/plan/verify.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backend-emit/plan/base64.h"
#include "ir/canonical_json.h"
#include "tests/backend-emit/plan_test_util.h"

namespace mvm::plan {
namespace {

using testing::kExpiresAt;
using testing::kNotBefore;
using testing::SignedPlanFile;
using testing::TestKey;
using testing::TestOptions;
using testing::TestWorkload;
using testing::Trusted;

constexpr int64_t kNow = kNotBefore + 3600;

class PlanVerifyTest : public ::testing::Test {
 protected:
  PlanVerifyTest() : key_(TestKey()), trusted_{Trusted(key_)}, clock_(kNow) {}

  OrRefusal<VerifiedPlan> Verify(std::string_view bytes) {
    return VerifyPlan(bytes, trusted_, clock_);
  }

  // The reason `bytes` is refused; fails the test when it is accepted.
  RefusalReason ReasonFor(std::string_view bytes) {
    auto result = Verify(bytes);
    EXPECT_FALSE(result.ok()) << "accepted: " << bytes;
    return result.ok() ? RefusalReason::kReplayed : result.error().reason;
  }

  // A file whose envelope carries `payload` (any bytes) signed by `key`.
  static std::string SignRaw(const std::string& payload, const SecretKey& key) {
    return SerializeEnvelope(MakeEnvelope(payload, &key));
  }

  SecretKey key_;
  std::vector<TrustedKey> trusted_;
  FixedClock clock_;
};

TEST(EnvelopeTest, PaeMatchesTheDsseSpec) {
  // The example of the DSSE protocol document.
  EXPECT_EQ(Pae("http://example.com/HelloWorld", "hello world"),
            "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
  EXPECT_EQ(Pae("", ""), "DSSEv1 0  0 ");
  EXPECT_EQ(Pae(kPayloadType, "{}"), "DSSEv1 39 application/vnd.mvm.execution-plan+json 2 {}");
}

TEST(EnvelopeTest, SerialisesCanonically) {
  Envelope unsigned_envelope = MakeEnvelope("{}", nullptr);
  EXPECT_EQ(SerializeEnvelope(unsigned_envelope),
            R"({"payload":"e30=","payloadType":"application/vnd.mvm.execution-plan+json",)"
            R"("signatures":[]})");
  SecretKey key = TestKey();
  Envelope signed_envelope = MakeEnvelope("{}", &key);
  ASSERT_EQ(signed_envelope.signatures.size(), 1u);
  EXPECT_EQ(signed_envelope.signatures[0].keyid, key.KeyId());
  EXPECT_TRUE(VerifySignature(key.public_key(), Pae(kPayloadType, "{}"),
                              signed_envelope.signatures[0].sig));
  std::string file = SerializeEnvelope(signed_envelope);
  EXPECT_EQ(file, R"({"payload":"e30=","payloadType":"application/vnd.mvm.execution-plan+json",)"
                  R"("signatures":[{"keyid":")" +
                      key.KeyId() + R"(","sig":")" +
                      Base64Encode(signed_envelope.signatures[0].sig) + R"("}]})");
}

TEST_F(PlanVerifyTest, RoundTrip) {
  std::string file = SignedPlanFile(key_);
  auto decoded = DecodeEnvelope(file);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(SerializeEnvelope(*decoded), file);

  auto verified = Verify(file);
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_EQ(verified->key_id, key_.KeyId());
  EXPECT_EQ(verified->plan.workload().id(), "agent-tool");
  EXPECT_EQ(verified->plan.epoch(), 7u);
  EXPECT_EQ(verified->payload, decoded->payload);
  EXPECT_EQ(verified->payload_digest, PayloadDigest(decoded->payload));
}

TEST_F(PlanVerifyTest, ValidityWindowIsHalfOpen) {
  std::string file = SignedPlanFile(key_);
  clock_.Set(kNotBefore);
  EXPECT_TRUE(Verify(file).ok());
  clock_.Set(kExpiresAt - 1);
  EXPECT_TRUE(Verify(file).ok());
  clock_.Set(kExpiresAt);
  EXPECT_EQ(ReasonFor(file), RefusalReason::kExpired);
  EXPECT_NE(Verify(file).error().message.find("expired at 2025-01-02T00:00:00Z (now "
                                              "2025-01-02T00:00:00Z)"),
            std::string::npos);
  clock_.Set(kNotBefore - 1);
  EXPECT_EQ(ReasonFor(file), RefusalReason::kNotYetValid);
}

TEST_F(PlanVerifyTest, EachRefusalReason) {
  std::string good = SignedPlanFile(key_);
  nlohmann::json env = nlohmann::json::parse(good);

  EXPECT_EQ(ReasonFor("not json"), RefusalReason::kNotJson);
  EXPECT_EQ(ReasonFor(""), RefusalReason::kNotJson);
  EXPECT_EQ(ReasonFor("[]"), RefusalReason::kMalformedEnvelope);
  {
    // DSSE requires payload, payloadType, signatures and sig; keyid, when there, is a string.
    for (const char* member : {"payload", "payloadType", "signatures"}) {
      nlohmann::json missing = env;
      missing.erase(member);
      EXPECT_EQ(ReasonFor(missing.dump()), RefusalReason::kMalformedEnvelope) << member;
    }
    nlohmann::json no_sig = env;
    no_sig["signatures"][0].erase("sig");
    EXPECT_EQ(ReasonFor(ir::CanonicalJson(no_sig)), RefusalReason::kMalformedEnvelope);
    nlohmann::json number = env;
    number["payload"] = 1;
    EXPECT_EQ(ReasonFor(ir::CanonicalJson(number)), RefusalReason::kMalformedEnvelope);
    nlohmann::json keyid_number = env;
    keyid_number["signatures"][0]["keyid"] = 7;
    EXPECT_EQ(ReasonFor(keyid_number.dump()), RefusalReason::kMalformedEnvelope);
    nlohmann::json signature_string = env;
    signature_string["signatures"][0] = "sig";
    EXPECT_EQ(ReasonFor(signature_string.dump()), RefusalReason::kMalformedEnvelope);
    nlohmann::json signatures_object = env;
    signatures_object["signatures"] = env["signatures"][0];
    EXPECT_EQ(ReasonFor(signatures_object.dump()), RefusalReason::kMalformedEnvelope);
  }
  // A member named twice could verify one payload and show another: not JSON mvm reads.
  EXPECT_EQ(ReasonFor(R"({"payload":"e30=",)" + good.substr(1)), RefusalReason::kNotJson);
  EXPECT_EQ(ReasonFor(good + "x"), RefusalReason::kNotJson);
  {
    nlohmann::json type = env;
    type["payloadType"] = "application/vnd.in-toto+json";
    EXPECT_EQ(ReasonFor(ir::CanonicalJson(type)), RefusalReason::kWrongPayloadType);
  }
  {
    nlohmann::json bad = env;
    bad["payload"] = env["payload"].get<std::string>() + "=";
    EXPECT_EQ(ReasonFor(ir::CanonicalJson(bad)), RefusalReason::kBadBase64);
    bad = env;
    bad["signatures"][0]["sig"] = "QR==";
    EXPECT_EQ(ReasonFor(ir::CanonicalJson(bad)), RefusalReason::kBadBase64);
    // Padding is required in both alphabets, and one string never mixes them.
    std::string sig = env["signatures"][0]["sig"].get<std::string>();
    ASSERT_TRUE(sig.ends_with("=="));
    bad = env;
    bad["signatures"][0]["sig"] = sig.substr(0, sig.size() - 2);
    EXPECT_EQ(ReasonFor(bad.dump()), RefusalReason::kBadBase64);
    bad = env;
    bad["payload"] = "+-==";
    EXPECT_EQ(ReasonFor(bad.dump()), RefusalReason::kBadBase64);
    bad["payload"] = "/_==";
    EXPECT_EQ(ReasonFor(bad.dump()), RefusalReason::kBadBase64);
    bad["payload"] = " " + env["payload"].get<std::string>();
    EXPECT_EQ(ReasonFor(bad.dump()), RefusalReason::kBadBase64);
  }
  {
    nlohmann::json none = env;
    none["signatures"] = nlohmann::json::array();
    EXPECT_EQ(ReasonFor(ir::CanonicalJson(none)), RefusalReason::kUnsigned);
    nlohmann::json two = env;
    two["signatures"].push_back(env["signatures"][0]);
    EXPECT_EQ(ReasonFor(ir::CanonicalJson(two)), RefusalReason::kMultipleSignatures);
  }
  {
    std::vector<TrustedKey> others = {Trusted(TestKey(1))};
    auto result = VerifyPlan(good, others, clock_);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().reason, RefusalReason::kUnknownKey);
    EXPECT_EQ(VerifyPlan(good, {}, clock_).error().reason, RefusalReason::kUnknownKey);
    // Without a keyid every trusted key is tried; with none trusted there is nothing to try.
    nlohmann::json no_keyid = env;
    no_keyid["signatures"][0].erase("keyid");
    EXPECT_EQ(VerifyPlan(no_keyid.dump(), {}, clock_).error().reason, RefusalReason::kUnknownKey);
    EXPECT_EQ(VerifyPlan(no_keyid.dump(), others, clock_).error().reason,
              RefusalReason::kBadSignature);
  }
  {
    // The keyid names a trusted key, but another key made the signature.
    SecretKey other = TestKey(1);
    std::string forged = SignedPlanFile(other);
    nlohmann::json f = nlohmann::json::parse(forged);
    f["signatures"][0]["keyid"] = key_.KeyId();
    EXPECT_EQ(ReasonFor(ir::CanonicalJson(f)), RefusalReason::kBadSignature);
    nlohmann::json truncated = env;
    truncated["signatures"][0]["sig"] = Base64Encode("short");
    EXPECT_EQ(ReasonFor(ir::CanonicalJson(truncated)), RefusalReason::kBadSignature);
  }
  EXPECT_EQ(ReasonFor(SerializeEnvelope(MakeEnvelope("not a plan", &key_))),
            RefusalReason::kInvalidPayload);
  {
    // Without a keyid, the key that verifies must still be the one the signed payload names.
    auto plan = LowerToPlan(TestWorkload(), TestOptions(key_.KeyId()));
    ASSERT_TRUE(plan.ok());
    SecretKey other = TestKey(1);
    nlohmann::json f =
        nlohmann::json::parse(SignRaw(PlanToCanonicalJson(*plan), other));  // names key_
    f["signatures"][0]["keyid"] = "";
    std::vector<TrustedKey> both = {Trusted(key_), Trusted(other)};
    auto result = VerifyPlan(f.dump(), both, clock_);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().reason, RefusalReason::kInvalidPayload);
    EXPECT_EQ(result.error().message, "the payload names key \"" + key_.KeyId() +
                                          "\" but is signed by key " + other.KeyId());
  }
  clock_.Set(kExpiresAt + 1);
  EXPECT_EQ(ReasonFor(good), RefusalReason::kExpired);
  clock_.Set(kNotBefore - 1);
  EXPECT_EQ(ReasonFor(good), RefusalReason::kNotYetValid);
}

// DSSE (envelope.md, "Parsing rules"): keyid is optional and unset is the same as empty, base64 may
// be standard or URL-safe, producers may add fields and consumers must ignore them; JSON may be
// spelt any way. Each such envelope of a good plan verifies to the same payload under the same key.
TEST_F(PlanVerifyTest, AcceptsEveryEnvelopeTheDsseSpecAllows) {
  std::string good = SignedPlanFile(key_);
  auto reference = Verify(good);
  ASSERT_TRUE(reference.ok()) << reference.error().message;
  nlohmann::json env = nlohmann::json::parse(good);
  auto expect_same = [&](const std::string& file, const std::string& what) {
    auto v = Verify(file);
    ASSERT_TRUE(v.ok()) << what << ": " << v.error().message;
    EXPECT_EQ(v->key_id, key_.KeyId()) << what;
    EXPECT_EQ(v->payload, reference->payload) << what;
  };
  {
    nlohmann::json e = env;
    e["signatures"][0].erase("keyid");
    expect_same(e.dump(), "no keyid");
    e["signatures"][0]["keyid"] = "";
    expect_same(e.dump(), "an empty keyid");
    e["signatures"][0]["keyid"] = nullptr;
    expect_same(e.dump(), "a null keyid");
    e["signatures"][0]["keyid"] = "";
    // Among several trusted keys, the one that made the signature is found.
    trusted_ = {Trusted(TestKey(1)), Trusted(TestKey(2)), Trusted(key_)};
    expect_same(e.dump(), "an empty keyid, three trusted keys");
    trusted_ = {Trusted(key_)};
  }
  {
    auto url_safe = [](std::string text) {
      std::replace(text.begin(), text.end(), '+', '-');
      std::replace(text.begin(), text.end(), '/', '_');
      return text;
    };
    // A plan's payload is ASCII JSON, whose base64 has `+` or `/` only where a `>`, `?` or `~`
    // falls, and the test plan has none; its signature is binary. So: a plan whose signature uses
    // them (the epoch changes it), and, for the payload, bytes that need them, which verify
    // (signature and all) and are then refused only as not being a plan.
    std::string file;
    nlohmann::json e;
    for (uint32_t epoch = 1; epoch < 100 && file.empty(); ++epoch) {
      std::string candidate = SignedPlanFile(key_, epoch);
      e = nlohmann::json::parse(candidate);
      std::string sig = e["signatures"][0]["sig"].get<std::string>();
      if (url_safe(sig) != sig) {
        file = candidate;
      }
    }
    ASSERT_FALSE(file.empty());
    auto standard = Verify(file);
    ASSERT_TRUE(standard.ok()) << standard.error().message;
    e["signatures"][0]["sig"] = url_safe(e["signatures"][0]["sig"].get<std::string>());
    auto v = Verify(e.dump());
    ASSERT_TRUE(v.ok()) << v.error().message;
    EXPECT_EQ(v->payload, standard->payload);
    EXPECT_EQ(v->key_id, key_.KeyId());

    const std::string binary("\xfb\xff\xbf\xfb\xef", 5);
    nlohmann::json raw = nlohmann::json::parse(SignRaw(binary, key_));
    std::string payload = raw["payload"].get<std::string>();
    ASSERT_EQ(payload, "+/+/++8=");
    raw["payload"] = url_safe(payload);
    raw["signatures"][0]["sig"] = url_safe(raw["signatures"][0]["sig"].get<std::string>());
    auto decoded = DecodeEnvelope(raw.dump());
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    EXPECT_EQ(decoded->payload, binary);
    auto refused = Verify(raw.dump());
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().reason, RefusalReason::kInvalidPayload) << refused.error().message;
  }
  {
    nlohmann::json e = env;
    e["extra"] = "x";
    e["signatures"][0]["note"] = {{"any", {1, 2, nullptr}}};
    e["payloadType2"] = 5;
    expect_same(e.dump(), "unknown members");
    expect_same(ir::CanonicalJson(e), "unknown members, canonical");
  }
  expect_same(good + "\n", "a trailing newline");
  expect_same(" " + good, "a leading space");
  expect_same(env.dump(2), "indented");
  {
    // Another member order, and a name spelt with an escape.
    std::string payload = env["payload"].get<std::string>();
    std::string reordered = R"({"signatures":)" + env["signatures"].dump() + R"(,"payloadType":")" +
                            env["payloadType"].get<std::string>() + R"(","p\u0061yload":")" +
                            payload + R"("})";
    expect_same(reordered, "reordered, escaped");
  }
}

TEST_F(PlanVerifyTest, SignedButInvalidPayloads) {
  auto plan = LowerToPlan(TestWorkload(), TestOptions(key_.KeyId()));
  ASSERT_TRUE(plan.ok());
  std::string payload = PlanToCanonicalJson(*plan);
  EXPECT_TRUE(Verify(SignRaw(payload, key_)).ok());

  auto reason_and_message = [&](const std::string& p) {
    // "accepted" contains none of the messages looked for below, so an acceptance fails them.
    auto result = Verify(SignRaw(p, key_));
    return result.ok()
               ? std::string("accepted")
               : std::string(RefusalName(result.error().reason)) + ": " + result.error().message;
  };
  // Not canonical: the same plan with whitespace, or camelCase names the proto parser accepts.
  nlohmann::json json = nlohmann::json::parse(payload);
  EXPECT_EQ(reason_and_message(json.dump(1))
                .rfind("invalid-payload: the payload is not in canonical form", 0),
            0u);
  {
    nlohmann::json camel = json;
    camel["irDigest"] = camel["ir_digest"];
    camel.erase("ir_digest");
    EXPECT_EQ(reason_and_message(ir::CanonicalJson(camel)).rfind("invalid-payload", 0), 0u);
  }
  {
    nlohmann::json unknown = json;
    unknown["run_as_root"] = true;
    EXPECT_NE(reason_and_message(ir::CanonicalJson(unknown)).find("is not an ExecutionPlan"),
              std::string::npos);
  }
  auto mutate = [&](auto&& change) {
    v1::ExecutionPlan p = *plan;
    change(p);
    return reason_and_message(PlanToCanonicalJson(p));
  };
  EXPECT_NE(mutate([](v1::ExecutionPlan& p) { p.set_schema("mvm.plan/v2"); }).find("schema"),
            std::string::npos);
  EXPECT_NE(mutate([](v1::ExecutionPlan& p) {
              p.mutable_lifecycle()->set_cpu(64);
            }).find("do not follow from its workload"),
            std::string::npos);
  EXPECT_NE(mutate([](v1::ExecutionPlan& p) {
              p.mutable_network()->set_dns(false);
            }).find("do not follow from its workload"),
            std::string::npos);
  EXPECT_NE(mutate([](v1::ExecutionPlan& p) {
              p.mutable_secrets(0)->add_hosts("evil.example");
            }).find("do not follow from its workload"),
            std::string::npos);
  EXPECT_NE(mutate([](v1::ExecutionPlan& p) {
              p.mutable_mounts(0)->set_mode("rw");
            }).find("do not follow from its workload"),
            std::string::npos);
  // A built artifact's digest is not derived from the workload: `mvmctl build` records it.
  EXPECT_EQ(mutate([](v1::ExecutionPlan& p) {
              p.mutable_artifacts(0)->set_digest("sha256:" + std::string(64, 'a'));
            }),
            "accepted");
  EXPECT_NE(mutate([](v1::ExecutionPlan& p) {
              p.mutable_workload()->mutable_resources()->set_cpu(64);
            }).find("does not match its workload"),
            std::string::npos);
  EXPECT_NE(mutate([](v1::ExecutionPlan& p) {
              p.mutable_workload()->set_id("../../etc");
            }).find("is not a valid id"),
            std::string::npos);
  EXPECT_NE(mutate([](v1::ExecutionPlan& p) {
              p.mutable_workload()->mutable_source()->set_file("app.py");
            }).find("source locations"),
            std::string::npos);
  EXPECT_NE(mutate([](v1::ExecutionPlan& p) {
              p.set_expires_at("2025-01-02T00:00:00+00:00");
            }).find("RFC 3339"),
            std::string::npos);
  EXPECT_NE(mutate([](v1::ExecutionPlan& p) {
              p.set_expires_at(p.not_before());
            }).find("before it becomes valid"),
            std::string::npos);
  EXPECT_NE(mutate([](v1::ExecutionPlan& p) { p.set_profile("test"); }).find("profile"),
            std::string::npos);
  EXPECT_NE(mutate([](v1::ExecutionPlan& p) {
              p.mutable_network()->set_default_("allow");
            }).find("deny-by-default"),
            std::string::npos);
  EXPECT_NE(mutate([](v1::ExecutionPlan& p) {
              p.mutable_lifecycle()->set_isolation("none");
            }).find("isolation"),
            std::string::npos);
  // The payload must name the key that signed it.
  EXPECT_NE(mutate([](v1::ExecutionPlan& p) {
              p.set_key_id("0000000000000000");
            }).find("but is signed by key"),
            std::string::npos);
}

// The property at the heart of the design: a change to any byte of a signed plan file is refused,
// unless it only respells the envelope's unsigned part, and then the same plan verifies under the
// same key.
TEST_F(PlanVerifyTest, EveryChangedByteIsRefusedOrChangesNothing) {
  std::string good = SignedPlanFile(key_);
  auto reference = Verify(good);
  ASSERT_TRUE(reference.ok());
  auto refused_or_same = [&](const std::string& file) {
    auto v = Verify(file);
    return !v.ok() || (v->payload == reference->payload && v->key_id == reference->key_id);
  };
  // Inside the payload's base64 every byte is a signed byte: one change within the alphabet and
  // one that breaks the string stand for the rest (each change there costs a signature check).
  const size_t payload_start = good.find("\"payload\":\"") + 11;
  const size_t payload_end = good.find('"', payload_start);
  ASSERT_NE(payload_end, std::string::npos);
  for (size_t i = 0; i < good.size(); ++i) {
    const unsigned char original = static_cast<unsigned char>(good[i]);
    if (i >= payload_start && i < payload_end) {
      for (unsigned char replacement : {static_cast<unsigned char>(original == 'A' ? 'B' : 'A'),
                                        static_cast<unsigned char>('"')}) {
        std::string bad = good;
        bad[i] = static_cast<char>(replacement);
        ASSERT_TRUE(refused_or_same(bad)) << "byte " << i << " set to " << int(replacement);
      }
      continue;
    }
    const std::vector<unsigned char> replacements = {static_cast<unsigned char>(original ^ 0x01),
                                                     static_cast<unsigned char>(original ^ 0x20),
                                                     static_cast<unsigned char>(original + 1),
                                                     '"',
                                                     '\\',
                                                     ' ',
                                                     '=',
                                                     'A',
                                                     '0',
                                                     '\0',
                                                     0xff};
    for (unsigned char replacement : replacements) {
      if (replacement == static_cast<unsigned char>(good[i])) {
        continue;
      }
      std::string bad = good;
      bad[i] = static_cast<char>(replacement);
      ASSERT_TRUE(refused_or_same(bad)) << "byte " << i << " set to " << int(replacement);
    }
  }
  // Deleting or inserting a byte anywhere is refused as well.
  for (size_t i = 0; i <= good.size(); i += 7) {
    std::string shorter = good;
    if (i < good.size()) {
      shorter.erase(i, 1);
      ASSERT_TRUE(refused_or_same(shorter)) << "deleted byte " << i;
    }
    std::string longer = good;
    longer.insert(i, "A");
    ASSERT_TRUE(refused_or_same(longer)) << "inserted at " << i;
  }
}

TEST_F(PlanVerifyTest, EveryFlippedBitOfASampleIsRefused) {
  std::string good = SignedPlanFile(key_);
  // Bytes from each part of the file: the start, the payload, the keyid, the signature, the end.
  std::vector<size_t> sample = {0,
                                1,
                                5,
                                12,
                                40,
                                good.size() / 3,
                                good.size() / 2,
                                good.find("keyid") + 8,
                                good.find("\"sig\"") + 7,
                                good.size() - 10,
                                good.size() - 4,
                                good.size() - 1};
  for (size_t i : sample) {
    ASSERT_LT(i, good.size());
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      auto result = Verify(bad);
      ASSERT_FALSE(result.ok()) << "byte " << i << " bit " << bit;
    }
  }
}

TEST_F(PlanVerifyTest, DecodePlanFileDoesNotCheckSignaturesOrTime) {
  auto plan = LowerToPlan(TestWorkload(), TestOptions(""));
  ASSERT_TRUE(plan.ok());
  std::string unsigned_file = SerializeEnvelope(MakeEnvelope(PlanToCanonicalJson(*plan), nullptr));
  auto decoded = DecodePlanFile(unsigned_file);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_TRUE(decoded->envelope.signatures.empty());
  EXPECT_EQ(decoded->plan.workload().id(), "agent-tool");
  EXPECT_EQ(ReasonFor(unsigned_file), RefusalReason::kUnsigned);
  EXPECT_EQ(DecodePlanFile(unsigned_file + "}").error().reason, RefusalReason::kNotJson);
}

TEST(RefusalTest, NamesAreStable) {
  EXPECT_EQ(RefusalName(RefusalReason::kNotJson), "not-json");
  EXPECT_EQ(RefusalName(RefusalReason::kMalformedEnvelope), "malformed-envelope");
  EXPECT_EQ(RefusalName(RefusalReason::kWrongPayloadType), "wrong-payload-type");
  EXPECT_EQ(RefusalName(RefusalReason::kBadBase64), "bad-base64");
  EXPECT_EQ(RefusalName(RefusalReason::kUnsigned), "unsigned");
  EXPECT_EQ(RefusalName(RefusalReason::kMultipleSignatures), "multiple-signatures");
  EXPECT_EQ(RefusalName(RefusalReason::kUnknownKey), "unknown-key");
  EXPECT_EQ(RefusalName(RefusalReason::kBadSignature), "bad-signature");
  EXPECT_EQ(RefusalName(RefusalReason::kInvalidPayload), "invalid-payload");
  EXPECT_EQ(RefusalName(RefusalReason::kExpired), "expired");
  EXPECT_EQ(RefusalName(RefusalReason::kNotYetValid), "not-yet-valid");
  EXPECT_EQ(RefusalName(RefusalReason::kReplayed), "replayed");
}

}  // namespace
}  // namespace mvm::plan
