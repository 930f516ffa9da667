#ifndef MVM_BACKEND_EMIT_PLAN_BASE64_H_
#define MVM_BACKEND_EMIT_PLAN_BASE64_H_

#include <optional>
#include <string>
#include <string_view>

namespace mvm::plan {

/// Standard padded base64 (RFC 4648 §4, libsodium's ORIGINAL variant) of `bytes`.
std::string Base64Encode(std::string_view bytes);

/// Decodes standard padded base64 strictly: no whitespace, no missing or extra padding, and no
/// non-zero slack bits in the last character, so every byte string has exactly one accepted
/// spelling. nullopt for anything else.
std::optional<std::string> Base64Decode(std::string_view text);

/// Base64Decode, or else the same strict rules in the URL-safe alphabet (RFC 4648 §5, `-` and `_`
/// for `+` and `/`, padded): the two encodings DSSE allows in an envelope. One string never mixes
/// the alphabets.
std::optional<std::string> Base64DecodeStandardOrUrlSafe(std::string_view text);

}  // namespace mvm::plan

#endif  // MVM_BACKEND_EMIT_PLAN_BASE64_H_
