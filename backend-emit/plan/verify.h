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
  kNotJson,             ///< "not-json": the file does not parse as JSON, or names a member twice
  kMalformedEnvelope,   ///< "malformed-envelope": not {payload, payloadType, signatures[{sig}]}
  kWrongPayloadType,    ///< "wrong-payload-type"
  kBadBase64,           ///< "bad-base64": payload or sig not canonical base64 (either alphabet)
  kUnsigned,            ///< "unsigned": no signatures
  kMultipleSignatures,  ///< "multiple-signatures": mvm plans carry exactly one
  kUnknownKey,          ///< "unknown-key": the keyid is not in the trusted set (or none is)
  kBadSignature,        ///< "bad-signature": the signature verifies under no key it may be
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

/// Reads a plan file's envelope as the DSSE spec allows it: JSON in any spelling (but no member
/// named twice in one object), the required members, an optional keyid, other members ignored, the
/// mvm payloadType, canonical base64 in the standard or URL-safe alphabet. Checks no signature and
/// does not parse the payload (that waits until the signature has been checked).
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

/// Verifies a plan file completely, in this order: DecodeEnvelope; exactly one signature; the
/// Ed25519 signature over PAE(payloadType, payload) verifies under a key in `trusted` (the one its
/// keyid names, or any when the keyid is empty or missing); the payload is a canonical, consistent
/// plan (ParsePlanPayload) whose key_id is that key's; and not_before <= now < expires_at by
/// `clock`. A changed file either fails one of these or verifies to the same payload under the
/// same key: only the envelope's unsigned spelling can change. Records nothing (replay is
/// ReplayState's job, at admission).
OrRefusal<VerifiedPlan> VerifyPlan(std::string_view file_bytes, std::span<const TrustedKey> trusted,
                                   const Clock& clock);

}  // namespace mvm::plan

#endif  // MVM_BACKEND_EMIT_PLAN_VERIFY_H_
