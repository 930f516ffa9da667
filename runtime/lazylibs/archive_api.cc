#include "runtime/lazylibs/archive_api.h"

#include "ir/support/os/lazy_library.h"

namespace mvm::lazylibs {

// The ABI the headers describe: libarchive 3.x is libarchive.so.13.
static_assert(ARCHIVE_VERSION_NUMBER >= 3000000 && ARCHIVE_VERSION_NUMBER < 4000000);

ErrorOr<const Archive*> LoadArchive() {
  static const ErrorOr<const Archive*> loaded = []() -> ErrorOr<const Archive*> {
    static Archive archive;
    const os::LazySymbol symbols[] = {
#define MVM_ARCHIVE_SYMBOL(name) {"archive_" #name, &archive.name},
        MVM_ARCHIVE_FUNCTIONS(MVM_ARCHIVE_SYMBOL)
#undef MVM_ARCHIVE_SYMBOL
    };
    auto opened = os::LoadLazyLibrary(
        {"libarchive.so.13", "libarchive13", "OCI layers, snapshots and the microVM's initramfs"},
        symbols);
    if (!opened) {
      return opened.error();
    }
    return &archive;
  }();
  return loaded;
}

}  // namespace mvm::lazylibs
