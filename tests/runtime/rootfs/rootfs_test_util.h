#ifndef MVM_TESTS_RUNTIME_ROOTFS_ROOTFS_TEST_UTIL_H_
#define MVM_TESTS_RUNTIME_ROOTFS_ROOTFS_TEST_UTIL_H_

#include <unistd.h>

namespace mvm::runtime::rootfs::testing {

inline bool IsRoot() { return geteuid() == 0; }

}  // namespace mvm::runtime::rootfs::testing

#endif  // MVM_TESTS_RUNTIME_ROOTFS_ROOTFS_TEST_UTIL_H_
