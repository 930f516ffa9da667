#include "backend-emit/plan/verify.h"

#include <gtest/gtest.h>

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
    nlohmann::json extra = env;
    extra["extra"] = "x";
    EXPECT_EQ(ReasonFor(ir::CanonicalJson(extra)), RefusalReason::kMalformedEnvelope);
    nlohmann::json sig_extra = env;
    sig_extra["signatures"][0]["note"] = "x";
    EXPECT_EQ(ReasonFor(ir::CanonicalJson(sig_extra)), RefusalReason::kMalformedEnvelope);
    nlohmann::json no_sig = env;
    no_sig["signatures"][0].erase("sig");
    EXPECT_EQ(ReasonFor(ir::CanonicalJson(no_sig)), RefusalReason::kMalformedEnvelope);
    nlohmann::json number = env;
    number["payload"] = 1;
    EXPECT_EQ(ReasonFor(ir::CanonicalJson(number)), RefusalReason::kMalformedEnvelope);
  }
  EXPECT_EQ(ReasonFor(good + "\n"), RefusalReason::kNotCanonical);
  EXPECT_EQ(ReasonFor(" " + good), RefusalReason::kNotCanonical);
  EXPECT_EQ(ReasonFor(env.dump(2)), RefusalReason::kNotCanonical);
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
  clock_.Set(kExpiresAt + 1);
  EXPECT_EQ(ReasonFor(good), RefusalReason::kExpired);
  clock_.Set(kNotBefore - 1);
  EXPECT_EQ(ReasonFor(good), RefusalReason::kNotYetValid);
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

// The property at the heart of the design: any change to any byte of a signed plan file is
// refused.
TEST_F(PlanVerifyTest, EveryChangedByteIsRefused) {
  std::string good = SignedPlanFile(key_);
  ASSERT_TRUE(Verify(good).ok());
  for (size_t i = 0; i < good.size(); ++i) {
    const unsigned char original = static_cast<unsigned char>(good[i]);
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
      ASSERT_FALSE(Verify(bad).ok()) << "byte " << i << " set to " << int(replacement);
    }
  }
  // Deleting or inserting a byte anywhere is refused as well.
  for (size_t i = 0; i <= good.size(); i += 7) {
    std::string shorter = good;
    if (i < good.size()) {
      shorter.erase(i, 1);
      ASSERT_FALSE(Verify(shorter).ok()) << "deleted byte " << i;
    }
    std::string longer = good;
    longer.insert(i, "A");
    ASSERT_FALSE(Verify(longer).ok()) << "inserted at " << i;
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
  EXPECT_EQ(DecodePlanFile(unsigned_file + " ").error().reason, RefusalReason::kNotCanonical);
}

TEST(RefusalTest, NamesAreStable) {
  EXPECT_EQ(RefusalName(RefusalReason::kNotJson), "not-json");
  EXPECT_EQ(RefusalName(RefusalReason::kMalformedEnvelope), "malformed-envelope");
  EXPECT_EQ(RefusalName(RefusalReason::kNotCanonical), "not-canonical");
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
