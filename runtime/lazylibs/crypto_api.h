#ifndef MVM_RUNTIME_LAZYLIBS_CRYPTO_API_H_
#define MVM_RUNTIME_LAZYLIBS_CRYPTO_API_H_

#include <openssl/evp.h>

#include "ir/support/error_or.h"

namespace mvm::lazylibs {

// The libcrypto functions mvm's launcher calls, without their `EVP_` prefix: only full snapshots'
// SHA-256, which OpenSSL computes with the CPU's SHA instructions (5x libsodium's portable code on
// the 2-core EPYC of docs/perf/launch.md: 1.0 s against 5.5 s for 256 MiB).
#define MVM_CRYPTO_FUNCTIONS(X) \
  X(MD_CTX_new)                 \
  X(MD_CTX_free)                \
  X(sha256)                     \
  X(DigestInit_ex)              \
  X(DigestUpdate)               \
  X(DigestFinal_ex)

/// libcrypto's functions, as pointers into the library once it is loaded; `sha256` is
/// `EVP_sha256` and so on, with the same types and contracts.
struct Crypto {
#define MVM_CRYPTO_MEMBER(name) decltype(&::EVP_##name) name = nullptr;
  MVM_CRYPTO_FUNCTIONS(MVM_CRYPTO_MEMBER)
#undef MVM_CRYPTO_MEMBER
};

/// libcrypto (libcrypto.so.3), loaded on the first call, which only a full snapshot's save or
/// restore makes; the table lives as long as the process. Thread-safe.
ErrorOr<const Crypto*> LoadCrypto();

}  // namespace mvm::lazylibs

#endif  // MVM_RUNTIME_LAZYLIBS_CRYPTO_API_H_
