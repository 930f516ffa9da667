#include "runtime/agent/identity.h"

#include <fcntl.h>
#include <linux/random.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace mvm::runtime::agent {

ErrorOr<Ok> ApplyRefresh(const ::mvm::agent::v1::Refresh& refresh) {
  const std::string& entropy = refresh.entropy();
  if (!entropy.empty() &&
      (entropy.size() < kMinRefreshEntropy || entropy.size() > kMaxRefreshEntropy)) {
    return Error{"refresh: entropy must be " + std::to_string(kMinRefreshEntropy) + " to " +
                 std::to_string(kMaxRefreshEntropy) + " bytes, not " +
                 std::to_string(entropy.size())};
  }
  const std::string& hostname = refresh.hostname();
  if (!hostname.empty()) {
    if (::sethostname(hostname.data(), hostname.size()) != 0) {
      return Error{std::string("refresh: sethostname: ") + std::strerror(errno)};
    }
  }
  if (!entropy.empty()) {
    const int fd = ::open("/dev/urandom", O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
      return Error{std::string("refresh: /dev/urandom: ") + std::strerror(errno)};
    }
    // struct rand_pool_info ends in a flexible array: a buffer of its header and the bytes.
    std::vector<int> buffer(2 + (entropy.size() + sizeof(int) - 1) / sizeof(int), 0);
    auto* info = reinterpret_cast<rand_pool_info*>(buffer.data());
    info->entropy_count = static_cast<int>(entropy.size() * 8);
    info->buf_size = static_cast<int>(entropy.size());
    std::memcpy(info->buf, entropy.data(), entropy.size());
    const bool added = ::ioctl(fd, RNDADDENTROPY, info) == 0;
    const int add_errno = errno;
    // Without a reseed the CRNG would keep its restored state until its next scheduled reseed
    // (up to a minute later), and every copy would read the same bytes until then.
    const bool reseeded = added && ::ioctl(fd, RNDRESEEDCRNG) == 0;
    const int reseed_errno = errno;
    ::close(fd);
    if (!added) {
      return Error{std::string("refresh: RNDADDENTROPY: ") + std::strerror(add_errno)};
    }
    if (!reseeded) {
      return Error{std::string("refresh: RNDRESEEDCRNG: ") + std::strerror(reseed_errno)};
    }
  }
  if (refresh.realtime_ns() != 0) {
    const int64_t ns = refresh.realtime_ns();
    timespec now{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    if (::clock_settime(CLOCK_REALTIME, &now) != 0) {
      return Error{std::string("refresh: clock_settime: ") + std::strerror(errno)};
    }
  }
  return Ok{};
}

}  // namespace mvm::runtime::agent
