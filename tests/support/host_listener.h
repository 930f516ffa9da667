// A listener on the host's 127.0.0.1, for tests that prove a sandbox cannot reach it.
#ifndef MVM_TESTS_SUPPORT_HOST_LISTENER_H_
#define MVM_TESTS_SUPPORT_HOST_LISTENER_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace mvm::testing {

class HostLoopbackListener {
 public:
  /// Listens on 127.0.0.1 at a port the kernel picks; port() is 0 if that failed.
  HostLoopbackListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::listen(fd_, 8) == 0 &&
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
    }
  }
  HostLoopbackListener(const HostLoopbackListener&) = delete;
  HostLoopbackListener& operator=(const HostLoopbackListener&) = delete;
  ~HostLoopbackListener() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }

  uint16_t port() const { return port_; }
  /// Whether a connection has arrived (waiting for none).
  bool Reached() const {
    pollfd p = {fd_, POLLIN, 0};
    return ::poll(&p, 1, 0) != 0;
  }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

}  // namespace mvm::testing

#endif  // MVM_TESTS_SUPPORT_HOST_LISTENER_H_
