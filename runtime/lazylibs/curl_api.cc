#include "runtime/lazylibs/curl_api.h"

#include "ir/support/os/lazy_library.h"

namespace mvm::lazylibs {

// The ABI the headers describe: libcurl's soname has been .so.4 since curl 7.16.
static_assert(LIBCURL_VERSION_MAJOR == 7 || LIBCURL_VERSION_MAJOR == 8);

ErrorOr<const Curl*> LoadCurl() {
  static const ErrorOr<const Curl*> loaded = []() -> ErrorOr<const Curl*> {
    static Curl curl;
    const os::LazySymbol symbols[] = {
#define MVM_CURL_SYMBOL(name) {"curl_" #name, &curl.name},
        MVM_CURL_FUNCTIONS(MVM_CURL_SYMBOL)
#undef MVM_CURL_SYMBOL
    };
    auto opened = os::LoadLazyLibrary(
        {"libcurl.so.4", "libcurl4", "pulling OCI images and object (S3) volumes"}, symbols);
    if (!opened) {
      return opened.error();
    }
    // Not thread-safe in libcurl, so here, under this static's one-time initialisation.
    if (CURLcode code = curl.global_init(CURL_GLOBAL_DEFAULT); code != CURLE_OK) {
      return Error{std::string("libcurl failed to initialise: ") + curl.easy_strerror(code)};
    }
    return &curl;
  }();
  return loaded;
}

}  // namespace mvm::lazylibs
