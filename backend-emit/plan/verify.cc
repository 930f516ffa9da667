// Plan verification. Every check refuses with its own reason; the order is chosen so that nothing
// parses attacker-controlled payload bytes before the signature over them has verified.

#include "backend-emit/plan/verify.h"

#include <nlohmann/json.hpp>

#include "backend-emit/plan/base64.h"
#include "backend-emit/plan/payload.h"
#include "ir/canonical_json.h"

namespace mvm::plan {
namespace {

using Json = nlohmann::json;

Refusal Refuse(RefusalReason reason, std::string message) { return {reason, std::move(message)}; }

// True when `object` has exactly the members `names`, each a string or, for `array_member`, an
// array.
bool HasExactly(const Json& object, std::initializer_list<std::string_view> names,
                std::string_view array_member = {}) {
  if (!object.is_object() || object.size() != names.size()) {
    return false;
  }
  for (std::string_view name : names) {
    auto it = object.find(name);
    if (it == object.end()) {
      return false;
    }
    if (name == array_member ? !it->is_array() : !it->is_string()) {
      return false;
    }
  }
  return true;
}

std::string TrustedIds(std::span<const TrustedKey> trusted) {
  std::string out;
  for (const TrustedKey& k : trusted) {
    out += out.empty() ? k.key_id : ", " + k.key_id;
  }
  return out;
}

}  // namespace

std::string_view RefusalName(RefusalReason reason) {
  switch (reason) {
    case RefusalReason::kNotJson:
      return "not-json";
    case RefusalReason::kMalformedEnvelope:
      return "malformed-envelope";
    case RefusalReason::kNotCanonical:
      return "not-canonical";
    case RefusalReason::kWrongPayloadType:
      return "wrong-payload-type";
    case RefusalReason::kBadBase64:
      return "bad-base64";
    case RefusalReason::kUnsigned:
      return "unsigned";
    case RefusalReason::kMultipleSignatures:
      return "multiple-signatures";
    case RefusalReason::kUnknownKey:
      return "unknown-key";
    case RefusalReason::kBadSignature:
      return "bad-signature";
    case RefusalReason::kInvalidPayload:
      return "invalid-payload";
    case RefusalReason::kExpired:
      return "expired";
    case RefusalReason::kNotYetValid:
      return "not-yet-valid";
    case RefusalReason::kReplayed:
      return "replayed";
  }
  return "unknown";
}

OrRefusal<Envelope> DecodeEnvelope(std::string_view file_bytes) {
  Json json = Json::parse(file_bytes, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return Refuse(RefusalReason::kNotJson, "the plan file is not JSON");
  }
  // The shape comes before the canonical comparison: it bounds what the serialiser has to walk.
  bool shaped = HasExactly(json, {"payload", "payloadType", "signatures"}, "signatures");
  for (size_t i = 0; shaped && i < json["signatures"].size(); ++i) {
    shaped = HasExactly(json["signatures"][i], {"keyid", "sig"});
  }
  if (!shaped) {
    return Refuse(RefusalReason::kMalformedEnvelope,
                  "the plan file is not a DSSE envelope: expected exactly {\"payload\": string, "
                  "\"payloadType\": string, \"signatures\": [{\"keyid\": string, \"sig\": "
                  "string}]}");
  }
  // Demanding the canonical bytes makes every other spelling of the same envelope (whitespace,
  // member order, escapes, a trailing newline) a refusal, so any changed byte is caught here or by
  // the signature.
  if (ir::CanonicalJson(json) != file_bytes) {
    return Refuse(RefusalReason::kNotCanonical,
                  "the plan file is not byte-identical to the canonical (RFC 8785) serialisation "
                  "of its envelope");
  }
  Envelope envelope;
  envelope.payload_type = json["payloadType"].get<std::string>();
  if (envelope.payload_type != kPayloadType) {
    return Refuse(RefusalReason::kWrongPayloadType, "the payloadType is \"" +
                                                        envelope.payload_type + "\", expected \"" +
                                                        std::string(kPayloadType) + "\"");
  }
  std::optional<std::string> payload = Base64Decode(json["payload"].get<std::string>());
  if (!payload) {
    return Refuse(RefusalReason::kBadBase64,
                  "the payload is not canonical standard base64 (RFC 4648 with padding and zero "
                  "slack bits)");
  }
  envelope.payload = std::move(*payload);
  for (const Json& s : json["signatures"]) {
    std::optional<std::string> sig = Base64Decode(s["sig"].get<std::string>());
    if (!sig) {
      return Refuse(RefusalReason::kBadBase64,
                    "the signature of key " + s["keyid"].get<std::string>() +
                        " is not canonical standard base64 (RFC 4648 with padding and zero slack "
                        "bits)");
    }
    envelope.signatures.push_back({s["keyid"].get<std::string>(), std::move(*sig)});
  }
  return envelope;
}

OrRefusal<DecodedPlan> DecodePlanFile(std::string_view file_bytes) {
  auto envelope = DecodeEnvelope(file_bytes);
  if (!envelope) {
    return envelope.error();
  }
  auto plan = ParsePlanPayload(envelope->payload);
  if (!plan) {
    return Refuse(RefusalReason::kInvalidPayload, plan.error().message);
  }
  return DecodedPlan{std::move(*envelope), std::move(*plan)};
}

OrRefusal<VerifiedPlan> VerifyPlan(std::string_view file_bytes, std::span<const TrustedKey> trusted,
                                   const Clock& clock) {
  auto envelope = DecodeEnvelope(file_bytes);
  if (!envelope) {
    return envelope.error();
  }
  if (envelope->signatures.empty()) {
    return Refuse(RefusalReason::kUnsigned,
                  "the plan is unsigned (its `signatures` list is empty); sign it with `mvmctl "
                  "compile --sign KEY`");
  }
  // DSSE allows several signatures, but then a verifier must decide which ones count, and bytes in
  // the others would go unchecked; mvm signs with one key, so one is all it accepts.
  if (envelope->signatures.size() != 1) {
    return Refuse(RefusalReason::kMultipleSignatures,
                  "the plan carries " + std::to_string(envelope->signatures.size()) +
                      " signatures; mvm plans carry exactly one");
  }
  const EnvelopeSignature& signature = envelope->signatures.front();
  const TrustedKey* key = nullptr;
  for (const TrustedKey& k : trusted) {
    if (k.key_id == signature.keyid) {
      key = &k;
      break;
    }
  }
  if (key == nullptr) {
    return Refuse(RefusalReason::kUnknownKey,
                  "the plan is signed by key \"" + signature.keyid + "\", which is not trusted " +
                      (trusted.empty() ? std::string("(no key is trusted)")
                                       : "(trusted: " + TrustedIds(trusted) + ")"));
  }
  if (!VerifySignature(key->key, Pae(envelope->payload_type, envelope->payload), signature.sig)) {
    return Refuse(RefusalReason::kBadSignature,
                  "the signature does not verify under key " + key->key_id +
                      " (the plan was changed after signing, or signed by another key)");
  }
  auto plan = ParsePlanPayload(envelope->payload);
  if (!plan) {
    return Refuse(RefusalReason::kInvalidPayload, plan.error().message);
  }
  if (plan->key_id() != signature.keyid) {
    return Refuse(RefusalReason::kInvalidPayload, "the payload names key \"" + plan->key_id() +
                                                      "\" but is signed by key " + signature.keyid);
  }
  // ParsePlanPayload has checked both timestamps.
  int64_t not_before = *ParseCanonicalTimestamp(plan->not_before());
  int64_t expires_at = *ParseCanonicalTimestamp(plan->expires_at());
  int64_t now = clock.NowUnixSeconds();
  auto now_text = FormatTimestamp(now);
  std::string now_shown = now_text ? *now_text : std::to_string(now);
  if (now < not_before) {
    return Refuse(RefusalReason::kNotYetValid, "the plan is not valid before " +
                                                   plan->not_before() + " (now " + now_shown + ")");
  }
  if (now >= expires_at) {
    return Refuse(RefusalReason::kExpired,
                  "the plan expired at " + plan->expires_at() + " (now " + now_shown + ")");
  }
  VerifiedPlan verified;
  verified.payload_digest = PayloadDigest(envelope->payload);
  verified.payload = std::move(envelope->payload);
  verified.plan = std::move(*plan);
  verified.key_id = key->key_id;
  return verified;
}

}  // namespace mvm::plan
