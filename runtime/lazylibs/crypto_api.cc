#include "runtime/lazylibs/crypto_api.h"

#include "ir/support/os/lazy_library.h"

namespace mvm::lazylibs {

ErrorOr<const Crypto*> LoadCrypto() {
  static const ErrorOr<const Crypto*> loaded = []() -> ErrorOr<const Crypto*> {
    static Crypto crypto;
    const os::LazySymbol symbols[] = {
#define MVM_CRYPTO_SYMBOL(name) {"EVP_" #name, &crypto.name},
        MVM_CRYPTO_FUNCTIONS(MVM_CRYPTO_SYMBOL)
#undef MVM_CRYPTO_SYMBOL
    };
    auto opened =
        os::LoadLazyLibrary({"libcrypto.so.3", "libssl3", "full snapshots' SHA-256"}, symbols);
    if (!opened) {
      return opened.error();
    }
    return &crypto;
  }();
  return loaded;
}

}  // namespace mvm::lazylibs
