#ifndef MVM_IR_SUPPORT_OS_LAZY_LIBRARY_H_
#define MVM_IR_SUPPORT_OS_LAZY_LIBRARY_H_

#include <cstring>
#include <span>
#include <type_traits>

#include "ir/support/error_or.h"

namespace mvm::os {

/// A shared library mvm opens on first use instead of at process start. Linking a library makes
/// every run of `mvmctl` pay to load it and resolve its symbols, with its own dependencies: libcurl
/// alone brought 25 more libraries (GnuTLS, Kerberos, LDAP, SSH…) and ~5 ms into every command,
/// while only OCI pulls and object volumes use it (docs/perf/launch.md).
struct LazyLibrary {
  /// The file name to dlopen, with the ABI version the headers were written for ("libcurl.so.4").
  const char* soname;
  /// The Debian package that ships `soname`, for the error's fix.
  const char* package;
  /// What needs it, completing "needed for …" in the error.
  const char* needed_for;
};

/// One function to take from a lazy library: its symbol name and the function pointer it fills.
class LazySymbol {
 public:
  template <typename F>
    requires std::is_function_v<F>
  LazySymbol(const char* name, F** slot) : name_(name), slot_(slot) {
    static_assert(sizeof(F*) == sizeof(void*), "dlsym hands back function pointers as void*");
  }

  const char* name() const { return name_; }
  /// Stores `address` (what dlsym returned) into the slot. POSIX guarantees the round trip from
  /// void* to a function pointer; memcpy avoids an aliasing cast.
  void Fill(void* address) const { std::memcpy(slot_, &address, sizeof address); }

 private:
  const char* name_;
  void* slot_;
};

/// Opens `library` (RTLD_NOW | RTLD_LOCAL) and fills every one of `symbols`, or says which library
/// or which symbol is missing, what needs it and which package to install. The library stays
/// loaded for the rest of the process: callers keep the function pointers in a static table, and
/// load it once (a function-local static), so a failure is reported, not retried.
ErrorOr<Ok> LoadLazyLibrary(const LazyLibrary& library, std::span<const LazySymbol> symbols);

}  // namespace mvm::os

#endif  // MVM_IR_SUPPORT_OS_LAZY_LIBRARY_H_
