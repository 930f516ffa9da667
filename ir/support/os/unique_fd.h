#ifndef MVM_IR_SUPPORT_OS_UNIQUE_FD_H_
#define MVM_IR_SUPPORT_OS_UNIQUE_FD_H_

// Header-only and free of any library, so the static guest agent (runtime/agent/CMakeLists.txt)
// uses it too without linking mvm_os.

#include <unistd.h>

#include <utility>

namespace mvm::os {

/// Owns one file descriptor and closes it when it goes away (releasing any flock held through it).
/// Move-only; -1 is "none".
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Reset(std::exchange(other.fd_, -1));
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  /// The descriptor, still owned; -1 when none.
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  /// Closes the current descriptor (if any) and owns `fd` instead.
  void Reset(int fd = -1) {
    if (fd_ >= 0) {
      // A close error still releases the descriptor on Linux, and there is nothing to retry.
      (void)close(fd_);
    }
    fd_ = fd;
  }
  /// Gives up ownership without closing; the caller closes what it gets.
  int Release() { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
};

}  // namespace mvm::os

#endif  // MVM_IR_SUPPORT_OS_UNIQUE_FD_H_
