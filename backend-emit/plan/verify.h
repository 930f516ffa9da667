#ifndef MVM_BACKEND_EMIT_PLAN_VERIFY_H_
#define MVM_BACKEND_EMIT_PLAN_VERIFY_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "backend-emit/plan/envelope.h"
#include "backend-emit/plan/time.h"
#include "backend-emit/plan/trust_store.h"
#include "ir/plan.pb.h"
#include "ir/support/error_or.h"

namespace mvm::plan {

/// Why a plan was refused. Each has a stable name (RefusalName) for output and tests.
enum class RefusalReason : uint8_t {
  kNotJson,             ///< "not-json": the file does not parse as JSON
  kMalformedEnvelope,   ///< "malformed-envelope": not {payload, payloadType, signatures[{keyid,
                        ///< sig}]}
  kNotCanonical,        ///< "not-canonical": not byte-identical to the canonical serialisation
  kWrongPayloadType,    ///< "wrong-payload-type"
  kBadBase64,           ///< "bad-base64": payload or sig not canonical standard base64
  kUnsigned,            ///< "unsigned": no signatures
  kMultipleSignatures,  ///< "multiple-signatures": mvm plans carry exactly one
  kUnknownKey,          ///< "unknown-key": the keyid is not in the trusted set
  kBadSignature,        ///< "bad-signature": the signature does not verify under that key
  kInvalidPayload,      ///< "invalid-payload": not a canonical, consistent ExecutionPlan
  kExpired,             ///< "expired": now >= expires_at
  kNotYetValid,         ///< "not-yet-valid": now < not_before
  kReplayed,            ///< "replayed": refused by replay state (ReplayState::Admit)
};

/// The stable name of `reason`, e.g. "bad-signature".
std::string_view RefusalName(RefusalReason reason);

/// A refusal: the reason and a message for the user naming the specifics.
struct Refusal {
  RefusalReason reason;
  std::string message;
};

/// Either a T or the Refusal that stopped it.
template <typename T>
using OrRefusal = ErrorOr<T, Refusal>;

/// Reads a plan file's envelope: JSON, the exact DSSE shape, byte-identical to its canonical
/// serialisation, the mvm payloadType, canonical base64. Checks no signature and does not parse the
/// payload (that waits until the signature has been checked).
OrRefusal<Envelope> DecodeEnvelope(std::string_view file_bytes);

/// A plan read for display (`plan inspect`, `plan diff`): DecodeEnvelope plus ParsePlanPayload. The
/// signature and the validity window are NOT checked.
struct DecodedPlan {
  Envelope envelope;
  v1::ExecutionPlan plan;
};
OrRefusal<DecodedPlan> DecodePlanFile(std::string_view file_bytes);

/// A plan that passed VerifyPlan.
struct VerifiedPlan {
  v1::ExecutionPlan plan;
  std::string payload;         ///< the signed payload bytes
  std::string payload_digest;  ///< PayloadDigest(payload), for replay state
  std::string key_id;          ///< the trusted key whose signature verified
};

/// Verifies a plan file completely, in this order: DecodeEnvelope; exactly one signature; its keyid
/// names a key in `trusted`; the Ed25519 signature over PAE(payloadType, payload) verifies under
/// that key; the payload is a canonical, consistent plan (ParsePlanPayload) whose key_id is that
/// keyid; and not_before <= now < expires_at by `clock`. Any change to any byte of a valid file
/// makes one of these fail. Records nothing (replay is ReplayState's job, at admission).
OrRefusal<VerifiedPlan> VerifyPlan(std::string_view file_bytes, std::span<const TrustedKey> trusted,
                                   const Clock& clock);

}  // namespace mvm::plan

#endif  // MVM_BACKEND_EMIT_PLAN_VERIFY_H_
