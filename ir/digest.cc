#include "ir/digest.h"

#include <sodium.h>

#include "ir/json.h"
#include "ir/support/check.h"
#include "ir/support/os/hex.h"

namespace mvm::ir {

std::string Sha256Hex(std::string_view bytes) {
  // sodium_init picks CPU-specific implementations; a function-local static makes it run once even
  // when several threads hash at the same time.
  static const bool initialized = sodium_init() >= 0;
  MVM_CHECK(initialized);
  unsigned char hash[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(hash, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  return os::Hex(hash, sizeof hash);
}

std::string ModuleDigest(const Module& module) {
  return "sha256:" + Sha256Hex(ToCanonicalJson(module, {.with_locations = false}));
}

}  // namespace mvm::ir
