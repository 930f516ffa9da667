// Plan verification. Every check refuses with its own reason; the order is chosen so that nothing
// parses attacker-controlled payload bytes before the signature over them has verified.

#include "backend-emit/plan/verify.h"

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "backend-emit/plan/base64.h"
#include "backend-emit/plan/payload.h"
#include "ir/canonical_json.h"

namespace mvm::plan {
namespace {

using Json = nlohmann::json;

Refusal Refuse(RefusalReason reason, std::string message) { return {reason, std::move(message)}; }

// True when `object` is an object whose members `names` are all strings. Other members are not
// looked at: DSSE lets producers add fields, and consumers must ignore them.
bool HasStrings(const Json& object, std::initializer_list<std::string_view> names) {
  if (!object.is_object()) {
    return false;
  }
  for (std::string_view name : names) {
    auto it = object.find(name);
    if (it == object.end() || !it->is_string()) {
      return false;
    }
  }
  return true;
}

// Parses `bytes` as JSON in which no object names a member twice: parsers disagree on which of two
// `payload`s counts, so such a file could verify one plan and show another. Discarded
// (is_discarded) when it is not such JSON.
Json ParseStrictJson(std::string_view bytes) {
  std::vector<std::set<std::string>> open_objects;
  bool duplicate = false;
  Json json = Json::parse(
      bytes,
      [&](int /*depth*/, Json::parse_event_t event, Json& parsed) {
        if (event == Json::parse_event_t::object_start) {
          open_objects.emplace_back();
        } else if (event == Json::parse_event_t::object_end) {
          open_objects.pop_back();
        } else if (event == Json::parse_event_t::key && !open_objects.empty() &&
                   !open_objects.back().insert(parsed.get<std::string>()).second) {
          duplicate = true;
        }
        return true;
      },
      /*allow_exceptions=*/false);
  return duplicate ? Json(Json::value_t::discarded) : json;
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
  Json json = ParseStrictJson(file_bytes);
  if (json.is_discarded()) {
    return Refuse(RefusalReason::kNotJson,
                  "the plan file is not JSON (or an object in it names a member twice)");
  }
  // What DSSE requires: `payload`, `payloadType`, `signatures` and each signature's `sig`. A
  // `keyid` is optional, and unset is the same as empty; any other member is ignored. Nothing but
  // the payload and its type is signed, so the spelling of the rest (whitespace, member order,
  // extra members) cannot change what verifies, and any spelling is accepted.
  bool shaped = HasStrings(json, {"payload", "payloadType"}) && json.contains("signatures") &&
                json["signatures"].is_array();
  for (size_t i = 0; shaped && i < json["signatures"].size(); ++i) {
    const Json& s = json["signatures"][i];
    // The envelope is defined in protobuf, whose JSON reads `null` as an unset field.
    shaped = HasStrings(s, {"sig"}) &&
             (!s.contains("keyid") || s["keyid"].is_string() || s["keyid"].is_null());
  }
  if (!shaped) {
    return Refuse(RefusalReason::kMalformedEnvelope,
                  "the plan file is not a DSSE envelope: expected {\"payload\": string, "
                  "\"payloadType\": string, \"signatures\": [{\"keyid\": string (optional), "
                  "\"sig\": string}]}");
  }
  Envelope envelope;
  envelope.payload_type = json["payloadType"].get<std::string>();
  if (envelope.payload_type != kPayloadType) {
    return Refuse(RefusalReason::kWrongPayloadType, "the payloadType is \"" +
                                                        envelope.payload_type + "\", expected \"" +
                                                        std::string(kPayloadType) + "\"");
  }
  std::optional<std::string> payload =
      Base64DecodeStandardOrUrlSafe(json["payload"].get<std::string>());
  if (!payload) {
    return Refuse(RefusalReason::kBadBase64,
                  "the payload is not canonical base64 (RFC 4648, the "
                  "standard or URL-safe alphabet, padded, zero slack "
                  "bits)");
  }
  envelope.payload = std::move(*payload);
  for (const Json& s : json["signatures"]) {
    std::string keyid = s.contains("keyid") && s["keyid"].is_string()
                            ? s["keyid"].get<std::string>()
                            : std::string();
    std::optional<std::string> sig = Base64DecodeStandardOrUrlSafe(s["sig"].get<std::string>());
    if (!sig) {
      return Refuse(RefusalReason::kBadBase64,
                    "the signature" + (keyid.empty() ? std::string() : " of key " + keyid) +
                        " is not canonical base64 (RFC 4648, the standard or URL-safe alphabet, "
                        "padded, zero slack bits)");
    }
    envelope.signatures.push_back({std::move(keyid), std::move(*sig)});
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
  // DSSE's keyid is an unauthenticated hint that may only narrow the keys tried: a keyid narrows
  // them to the trusted key it names (none: unknown-key), an empty or missing one leaves every
  // trusted key. Which key signed is then decided by the signature alone, and the signed payload
  // must name that key.
  std::vector<const TrustedKey*> candidates;
  for (const TrustedKey& k : trusted) {
    if (signature.keyid.empty() || k.key_id == signature.keyid) {
      candidates.push_back(&k);
    }
  }
  if (candidates.empty()) {
    std::string trusted_text = trusted.empty() ? std::string("(no key is trusted)")
                                               : "(trusted: " + TrustedIds(trusted) + ")";
    return Refuse(RefusalReason::kUnknownKey,
                  signature.keyid.empty()
                      ? "the plan's signature names no key, and no key is trusted"
                      : "the plan is signed by key \"" + signature.keyid +
                            "\", which is not trusted " + trusted_text);
  }
  const TrustedKey* key = nullptr;
  std::string pae = Pae(envelope->payload_type, envelope->payload);
  for (const TrustedKey* candidate : candidates) {
    if (VerifySignature(candidate->key, pae, signature.sig)) {
      key = candidate;
      break;
    }
  }
  if (key == nullptr) {
    return Refuse(RefusalReason::kBadSignature,
                  signature.keyid.empty()
                      ? "the signature does not verify under any trusted key (trusted: " +
                            TrustedIds(trusted) +
                            "; the plan was changed after signing, or signed by another key)"
                      : "the signature does not verify under key " + candidates.front()->key_id +
                            " (the plan was changed after signing, or signed by another key)");
  }
  auto plan = ParsePlanPayload(envelope->payload);
  if (!plan) {
    return Refuse(RefusalReason::kInvalidPayload, plan.error().message);
  }
  if (plan->key_id() != key->key_id) {
    return Refuse(RefusalReason::kInvalidPayload, "the payload names key \"" + plan->key_id() +
                                                      "\" but is signed by key " + key->key_id);
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
