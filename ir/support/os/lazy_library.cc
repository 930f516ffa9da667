#include "ir/support/os/lazy_library.h"

#include <dlfcn.h>

#include <string>

namespace mvm::os {

ErrorOr<Ok> LoadLazyLibrary(const LazyLibrary& library, std::span<const LazySymbol> symbols) {
  const std::string fix = std::string("; install Debian's `") + library.package +
                          "` package (or the library of that name for your system)";
  // Never closed: the caller keeps pointers into it for the rest of the process.
  void* handle = dlopen(library.soname, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return Error{std::string("cannot load ") + library.soname + ", needed for " +
                 library.needed_for + ": " + (why != nullptr ? why : "unknown dlopen error") + fix};
  }
  for (const LazySymbol& symbol : symbols) {
    dlerror();
    void* address = dlsym(handle, symbol.name());
    if (address == nullptr) {
      const char* why = dlerror();
      return Error{std::string(library.soname) + " (needed for " + library.needed_for +
                   ") has no `" + symbol.name() + "`" +
                   (why != nullptr ? std::string(": ") + why : "") +
                   "; it is older than the version mvm was built against" + fix};
    }
    symbol.Fill(address);
  }
  return Ok{};
}

}  // namespace mvm::os
