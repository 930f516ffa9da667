#ifndef MVM_IR_DIGEST_H_
#define MVM_IR_DIGEST_H_

#include <string>
#include <string_view>

#include "ir/module.h"

namespace mvm::ir {

/// Lowercase hex SHA-256 of `bytes` (libsodium).
std::string Sha256Hex(std::string_view bytes);

/// The IR digest: "sha256:" + Sha256Hex of the canonical JSON without any SourceLoc field, so
/// moving a declaration in its file does not change the digest.
std::string ModuleDigest(const Module& module);

}  // namespace mvm::ir

#endif  // MVM_IR_DIGEST_H_
