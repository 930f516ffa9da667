#include "runtime/lazylibs/nftables_api.h"

#include "ir/support/os/lazy_library.h"

namespace mvm::lazylibs {

ErrorOr<const Nftables*> LoadNftables() {
  static const ErrorOr<const Nftables*> loaded = []() -> ErrorOr<const Nftables*> {
    static Nftables nft;
    const os::LazySymbol symbols[] = {
#define MVM_NFTABLES_SYMBOL(name) {"nft_" #name, &nft.name},
        MVM_NFTABLES_FUNCTIONS(MVM_NFTABLES_SYMBOL)
#undef MVM_NFTABLES_SYMBOL
    };
    auto opened = os::LoadLazyLibrary(
        {"libnftables.so.1", "libnftables1", "a sandbox's network policy (egress rules)"}, symbols);
    if (!opened) {
      return opened.error();
    }
    return &nft;
  }();
  return loaded;
}

}  // namespace mvm::lazylibs
