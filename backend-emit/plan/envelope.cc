#include "backend-emit/plan/envelope.h"

#include <nlohmann/json.hpp>

#include "backend-emit/plan/base64.h"
#include "ir/canonical_json.h"

namespace mvm::plan {

std::string Pae(std::string_view payload_type, std::string_view payload) {
  std::string out = "DSSEv1 ";
  out += std::to_string(payload_type.size());
  out += ' ';
  out += payload_type;
  out += ' ';
  out += std::to_string(payload.size());
  out += ' ';
  out += payload;
  return out;
}

Envelope MakeEnvelope(std::string payload, const SecretKey* key) {
  Envelope envelope{std::string(kPayloadType), std::move(payload), {}};
  if (key != nullptr) {
    envelope.signatures.push_back(
        {key->KeyId(), key->Sign(Pae(envelope.payload_type, envelope.payload))});
  }
  return envelope;
}

std::string SerializeEnvelope(const Envelope& envelope) {
  nlohmann::json signatures = nlohmann::json::array();
  for (const EnvelopeSignature& s : envelope.signatures) {
    signatures.push_back({{"keyid", s.keyid}, {"sig", Base64Encode(s.sig)}});
  }
  nlohmann::json json = {{"payloadType", envelope.payload_type},
                         {"payload", Base64Encode(envelope.payload)},
                         {"signatures", std::move(signatures)}};
  return ir::CanonicalJson(json);
}

}  // namespace mvm::plan
