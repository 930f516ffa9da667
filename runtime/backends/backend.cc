#include "runtime/backends/backend.h"

#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace mvm::runtime::backends {

using Clock = std::chrono::steady_clock;

OwnedProcess::OwnedProcess(OwnedProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::exchange(other.pidfd_, -1)),
      adopted_(other.adopted_),
      ended_(other.ended_) {}

OwnedProcess& OwnedProcess::operator=(OwnedProcess&& other) noexcept {
  if (this != &other) {
    if (pidfd_ >= 0) {
      ::close(pidfd_);
    }
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::exchange(other.pidfd_, -1);
    adopted_ = other.adopted_;
    ended_ = other.ended_;
  }
  return *this;
}

OwnedProcess::~OwnedProcess() {
  if (pidfd_ >= 0) {
    ::close(pidfd_);
  }
}

int OwnedProcess::Release() { return std::exchange(pidfd_, -1); }

ErrorOr<Ok> OwnedProcess::Kill(int signal) const {
  if (pidfd_ < 0) {
    return Error{"process " + std::to_string(pid_) + " has no pidfd to signal"};
  }
  if (::syscall(SYS_pidfd_send_signal, pidfd_, signal, nullptr, 0) != 0 && errno != ESRCH) {
    return Error{"cannot signal process " + std::to_string(pid_) + ": " + std::strerror(errno)};
  }
  return Ok{};
}

ErrorOr<Ok> OwnedProcess::Wait(std::chrono::milliseconds timeout) {
  if (ended_) {
    return Ok{};
  }
  if (pidfd_ < 0) {
    return Error{"process " + std::to_string(pid_) + " has no pidfd to wait on"};
  }
  // A pidfd polls readable once the process has ended, whether or not it is our child.
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd p{pidfd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
    if (ready > 0) {
      break;
    }
    if (ready == 0) {
      return Error{"process " + std::to_string(pid_) + " is still running after " +
                   std::to_string(timeout.count()) + " ms"};
    }
    if (errno != EINTR) {
      return Error{"cannot wait for process " + std::to_string(pid_) + ": " + std::strerror(errno)};
    }
  }
  if (!adopted_) {
    siginfo_t info{};
    while (::waitid(P_PIDFD, static_cast<id_t>(pidfd_), &info, WEXITED) != 0) {
      if (errno != EINTR) {
        return Error{"cannot reap process " + std::to_string(pid_) + ": " + std::strerror(errno)};
      }
    }
  }
  ended_ = true;
  return Ok{};
}

}  // namespace mvm::runtime::backends
