#ifndef MVM_IR_CANONICAL_JSON_H_
#define MVM_IR_CANONICAL_JSON_H_

#include <nlohmann/json.hpp>
#include <string>

namespace mvm::ir {

/// Serialises `value` in the JSON Canonicalization Scheme (RFC 8785): object members sorted by
/// their UTF-16 code units, no insignificant whitespace, strings escaped minimally as ECMAScript
/// does, numbers in ECMAScript's shortest round-trip form (integers without exponent up to 1e21).
/// Callers must not pass NaN or infinities (JSON cannot hold them); doing so is a CHECK failure.
std::string CanonicalJson(const nlohmann::json& value);

}  // namespace mvm::ir

#endif  // MVM_IR_CANONICAL_JSON_H_
