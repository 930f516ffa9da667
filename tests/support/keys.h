// Signing keys for tests. Shared by every test binary that links mvm_backend_emit (tests/support/).
#ifndef MVM_TESTS_SUPPORT_KEYS_H_
#define MVM_TESTS_SUPPORT_KEYS_H_

#include <array>

#include "backend-emit/plan/keys.h"

namespace mvm::testing {

/// A deterministic Ed25519 key, so runs repeat byte for byte: seed bytes 0, 1, 2, ... each plus
/// `salt`; different salts give different keys.
inline plan::SecretKey TestKey(unsigned char salt = 0) {
  std::array<unsigned char, plan::kSeedBytes> seed{};
  for (size_t i = 0; i < seed.size(); ++i) {
    seed[i] = static_cast<unsigned char>(i + salt);
  }
  return plan::SecretKey::FromSeed(seed);
}

}  // namespace mvm::testing

#endif  // MVM_TESTS_SUPPORT_KEYS_H_
