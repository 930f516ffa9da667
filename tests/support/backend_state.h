// The state directory the end-to-end tests of one backend share.
#ifndef MVM_TESTS_SUPPORT_BACKEND_STATE_H_
#define MVM_TESTS_SUPPORT_BACKEND_STATE_H_

#include <filesystem>
#include <string_view>

#include "ir/support/error_or.h"
#include "runtime/guest/guest.h"
#include "tests/support/mvmctl.h"

namespace mvm::testing {

/// The container's SharedState(), or the qemu-microvm backend's own directory, as the conformance
/// suite's (its guest kernel and images, made here on first use; the template trees are shared).
/// Tests that run mvmctl in a network namespace without the Debian mirror (the test internet) call
/// this before, so that a first build of the boot files can fetch the kernel package.
inline ErrorOr<std::filesystem::path> BackendTestState(std::string_view backend) {
  if (backend != "qemu-microvm") {
    return SharedState();
  }
  const std::filesystem::path state =
      std::filesystem::path(MVM_BINARY_DIR) / "qemu-microvm-test-state";
  UseSharedRootfsCache(state);
  auto files = runtime::guest::EnsureBootFiles(
      state / "guest", std::filesystem::path(MVM_MVMCTL_PATH).parent_path() / "mvm-agent", nullptr);
  if (!files) {
    return files.error();
  }
  return state;
}

}  // namespace mvm::testing

#endif  // MVM_TESTS_SUPPORT_BACKEND_STATE_H_
