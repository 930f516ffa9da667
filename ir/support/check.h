#ifndef MVM_IR_SUPPORT_CHECK_H_
#define MVM_IR_SUPPORT_CHECK_H_

#include <cstdio>
#include <cstdlib>

/// Aborts with the failed condition when a broken invariant is found. User mistakes are diagnostics
/// and environment failures are ErrorOr values; CHECK is only for bugs in mvm itself.
#define MVM_CHECK(cond)                                                                     \
  do {                                                                                      \
    if (!(cond)) [[unlikely]] {                                                             \
      std::fprintf(stderr, "%s:%d: internal error: CHECK failed: %s\n", __FILE__, __LINE__, \
                   #cond);                                                                  \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)

#endif  // MVM_IR_SUPPORT_CHECK_H_
