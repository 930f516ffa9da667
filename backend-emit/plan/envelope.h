#ifndef MVM_BACKEND_EMIT_PLAN_ENVELOPE_H_
#define MVM_BACKEND_EMIT_PLAN_ENVELOPE_H_

#include <string>
#include <string_view>
#include <vector>

#include "backend-emit/plan/keys.h"

namespace mvm::plan {

/// The DSSE payloadType of an mvm ExecutionPlan.
inline constexpr std::string_view kPayloadType = "application/vnd.mvm.execution-plan+json";

/// DSSE's pre-authentication encoding, what is actually signed:
/// "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, lengths in ASCII decimal without leading
/// zeros. Binding the type stops a signature over one kind of payload from passing as another.
std::string Pae(std::string_view payload_type, std::string_view payload);

/// One DSSE signature.
struct EnvelopeSignature {
  std::string keyid;
  std::string sig;  ///< raw signature bytes (base64 only in the file)
};

/// A DSSE envelope with its byte fields decoded.
struct Envelope {
  std::string payload_type;
  std::string payload;  ///< raw payload bytes: the plan's canonical JSON
  std::vector<EnvelopeSignature> signatures;
};

/// The envelope over `payload` (type kPayloadType): signed by `key`, or with no signatures when
/// `key` is null (an unsigned plan, which every verifier refuses as such).
Envelope MakeEnvelope(std::string payload, const SecretKey* key);

/// The plan file: the envelope as RFC 8785 canonical JSON with standard padded base64 for `payload`
/// and `sig`, no trailing newline. A verifier demands these exact bytes back.
std::string SerializeEnvelope(const Envelope& envelope);

}  // namespace mvm::plan

#endif  // MVM_BACKEND_EMIT_PLAN_ENVELOPE_H_
