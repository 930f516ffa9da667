#ifndef MVM_RUNTIME_LAZYLIBS_NFTABLES_API_H_
#define MVM_RUNTIME_LAZYLIBS_NFTABLES_API_H_

#include <nftables/libnftables.h>

#include "ir/support/error_or.h"

namespace mvm::lazylibs {

// The libnftables functions mvm calls, without their `nft_` prefix (as curl_api.h does).
#define MVM_NFTABLES_FUNCTIONS(X) \
  X(ctx_new)                      \
  X(ctx_free)                     \
  X(ctx_buffer_error)             \
  X(ctx_get_error_buffer)         \
  X(run_cmd_from_buffer)

/// libnftables' functions, as pointers into the library once it is loaded; `ctx_new` is
/// `nft_ctx_new` and so on.
struct Nftables {
#define MVM_NFTABLES_MEMBER(name) decltype(&::nft_##name) name = nullptr;
  MVM_NFTABLES_FUNCTIONS(MVM_NFTABLES_MEMBER)
#undef MVM_NFTABLES_MEMBER
};

/// libnftables (libnftables.so.1), loaded on the first call, which only a sandbox with a network
/// policy makes; the table lives as long as the process. Thread-safe.
ErrorOr<const Nftables*> LoadNftables();

}  // namespace mvm::lazylibs

#endif  // MVM_RUNTIME_LAZYLIBS_NFTABLES_API_H_
