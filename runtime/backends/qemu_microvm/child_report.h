// How a child started by a raw clone (a confined qemu, a confined virtiofsd) tells its parent which
// step before its exec failed: one fixed-size record on a close-on-exec pipe, so that the pipe's
// end of file without a record means the exec happened. The child makes only system calls here.
#ifndef MVM_RUNTIME_BACKENDS_QEMU_MICROVM_CHILD_REPORT_H_
#define MVM_RUNTIME_BACKENDS_QEMU_MICROVM_CHILD_REPORT_H_

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <optional>

namespace mvm::runtime::qemu_microvm {

/// `Step` is the child's own enum of what it does before its exec, in order.
template <typename Step>
struct ChildFailure {
  Step step;
  int32_t error;  ///< errno at the failure
};

/// In the child: reports `step` with the current errno on `fd` and exits 127.
template <typename Step>
[[noreturn]] void ReportChildFailure(int fd, Step step) {
  ChildFailure<Step> f{step, errno};
  (void)!::write(fd, &f, sizeof f);
  ::_exit(127);
}

/// In the parent, with its copy of the pipe's write end closed: the child's failure, or nullopt
/// once the pipe ends without one (the child has exec'd).
template <typename Step>
std::optional<ChildFailure<Step>> AwaitChildExec(int fd) {
  ChildFailure<Step> failure{};
  ssize_t n;
  while ((n = ::read(fd, &failure, sizeof failure)) < 0 && errno == EINTR) {
  }
  if (n == static_cast<ssize_t>(sizeof failure)) {
    return failure;
  }
  return std::nullopt;
}

}  // namespace mvm::runtime::qemu_microvm

#endif  // MVM_RUNTIME_BACKENDS_QEMU_MICROVM_CHILD_REPORT_H_
