#ifndef MVM_IR_SUPPORT_OS_WRITE_ALL_H_
#define MVM_IR_SUPPORT_OS_WRITE_ALL_H_

// Writing a whole buffer to a descriptor. Header-only, like unique_fd.h, so that the static guest
// agent and every library use it without linking mvm_os.

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>

namespace mvm::os {

/// Writes all of `bytes` to `fd`, retrying after EINTR and short writes: 0, or the errno of the
/// write that failed (a write of 0 bytes counts as EPIPE). A socket is written with MSG_NOSIGNAL,
/// so a peer that has gone is an EPIPE here, not a SIGPIPE that ends the process.
inline int WriteAll(int fd, std::string_view bytes) {
  bool socket = true;
  while (!bytes.empty()) {
    ssize_t n = socket ? ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) : -1;
    if (n < 0 && socket && errno == ENOTSOCK) {
      socket = false;
      continue;
    }
    if (!socket) {
      n = ::write(fd, bytes.data(), bytes.size());
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return errno;
    }
    if (n == 0) {
      return EPIPE;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

}  // namespace mvm::os

#endif  // MVM_IR_SUPPORT_OS_WRITE_ALL_H_
