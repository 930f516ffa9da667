#include "runtime/agent/json_line.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "ir/support/os/errno_text.h"
#include "runtime/agent/framing.h"

namespace mvm::runtime::agent {

ErrorOr<Ok> WriteAllWithFd(int sock, std::string_view data, int pass_fd) {
  while (!data.empty()) {
    ssize_t n = SendWithFd(sock, data, pass_fd);
    if (n > 0) {
      pass_fd = -1;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return Error{"cannot write to the socket: " + os::ErrnoText(errno)};
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Ok{};
}

ErrorOr<nlohmann::json> ReadJsonLine(int sock, int* received_fd, std::chrono::milliseconds timeout,
                                     size_t max_bytes) {
  using Clock = std::chrono::steady_clock;
  std::string line;
  const auto deadline = Clock::now() + timeout;
  char buf[4096];
  while (line.find('\n') == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      return Error{"no answer within " + std::to_string(timeout.count()) + " ms"};
    }
    pollfd p{sock, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready <= 0) {
      continue;  // EINTR, or the deadline, which the check above ends
    }
    int ignored = -1;
    ssize_t n =
        ReceiveWithFd(sock, buf, sizeof buf, received_fd != nullptr ? received_fd : &ignored);
    if (ignored >= 0) {
      ::close(ignored);
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return Error{"the other side closed the connection"};
    }
    line.append(buf, static_cast<size_t>(n));
    if (line.size() > max_bytes) {
      return Error{"a line longer than " + std::to_string(max_bytes) + " bytes"};
    }
  }
  line.resize(line.find('\n'));
  try {
    nlohmann::json j = nlohmann::json::parse(line);
    if (!j.is_object()) {
      return Error{"not a JSON object"};
    }
    return j;
  } catch (const nlohmann::json::exception& e) {
    return Error{std::string("not JSON: ") + e.what()};
  }
}

}  // namespace mvm::runtime::agent
