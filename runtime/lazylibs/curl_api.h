#ifndef MVM_RUNTIME_LAZYLIBS_CURL_API_H_
#define MVM_RUNTIME_LAZYLIBS_CURL_API_H_

#include <curl/curl.h>

#include "ir/support/error_or.h"

namespace mvm::lazylibs {

// The libcurl functions mvm calls, without their `curl_` prefix: curl's headers make
// `curl_easy_setopt` and `curl_easy_getinfo` type-checking macros, which would expand in
// `curl.curl_easy_setopt(...)`.
#define MVM_CURL_FUNCTIONS(X) \
  X(global_init)              \
  X(easy_init)                \
  X(easy_cleanup)             \
  X(easy_reset)               \
  X(easy_setopt)              \
  X(easy_getinfo)             \
  X(easy_perform)             \
  X(easy_strerror)            \
  X(easy_escape)              \
  X(free)                     \
  X(slist_append)             \
  X(slist_free_all)

/// libcurl's functions, as pointers into the library once it is loaded; `easy_init` is
/// `curl_easy_init` and so on, with the same types and contracts.
struct Curl {
#define MVM_CURL_MEMBER(name) decltype(&::curl_##name) name = nullptr;
  MVM_CURL_FUNCTIONS(MVM_CURL_MEMBER)
#undef MVM_CURL_MEMBER
};

/// libcurl (libcurl.so.4), loaded on the first call and initialised (`curl_global_init`) once; the
/// table lives as long as the process. An error names the library, what needs it and the package
/// to install. Thread-safe.
ErrorOr<const Curl*> LoadCurl();

}  // namespace mvm::lazylibs

#endif  // MVM_RUNTIME_LAZYLIBS_CURL_API_H_
