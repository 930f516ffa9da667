#ifndef MVM_RUNTIME_AGENT_UNIQUE_FD_H_
#define MVM_RUNTIME_AGENT_UNIQUE_FD_H_

#include <unistd.h>

#include <utility>

namespace mvm::runtime::agent {

/// Owns one file descriptor and closes it when it goes away. Move-only; -1 is "none".
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
  /// Gives up ownership without closing.
  int Release() { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
};

}  // namespace mvm::runtime::agent

#endif  // MVM_RUNTIME_AGENT_UNIQUE_FD_H_
