#include "runtime/agent/framing.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "ir/support/check.h"

namespace mvm::runtime::agent {
namespace {

uint32_t DecodeLength(const char* p) {
  auto b = [&](int i) { return static_cast<uint32_t>(static_cast<unsigned char>(p[i])); };
  return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}

std::string TooLargeMessage(uint64_t length, uint32_t max_bytes) {
  return "frame of " + std::to_string(length) + " bytes is larger than the limit of " +
         std::to_string(max_bytes) + " bytes; send large data in chunks";
}

using Deadline = std::optional<std::chrono::steady_clock::time_point>;

// Waits until `fd` is readable or `deadline` passes: 0, or -EAGAIN past the deadline.
int WaitReadable(int fd, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return -EAGAIN;
    }
    pollfd p{fd, POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1 << 30)));
    if (ready > 0) {
      return 0;
    }
    if (ready < 0 && errno != EINTR) {
      return -errno;
    }
  }
}

// Reads exactly `size` bytes unless EOF comes first; returns how many arrived, or -errno (-EAGAIN
// also once `deadline` has passed).
ssize_t ReadFull(int fd, char* data, size_t size, Deadline deadline) {
  size_t done = 0;
  while (done < size) {
    if (deadline) {
      if (int waited = WaitReadable(fd, *deadline); waited < 0) {
        return waited;
      }
    }
    ssize_t n = read(fd, data + done, size - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return -errno;
    }
    if (n == 0) {
      break;
    }
    done += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(done);
}

ErrorOr<std::optional<std::string>> ReadFrameWithin(int fd, uint32_t max_bytes, Deadline deadline) {
  char header[kFrameHeaderBytes];
  ssize_t got = ReadFull(fd, header, sizeof header, deadline);
  if (got == -EAGAIN) {
    return MakeError(ErrorKind::kTimedOut,
                     std::string("reading a frame header: ") + std::string(kFrameTimedOut));
  }
  if (got < 0) {
    return Error{std::string("reading a frame header: ") + std::strerror(static_cast<int>(-got))};
  }
  if (got == 0) {
    return std::optional<std::string>();
  }
  if (static_cast<size_t>(got) < sizeof header) {
    return Error{"connection closed inside a frame header (" + std::to_string(got) +
                 " of 4 bytes)"};
  }
  const uint32_t length = DecodeLength(header);
  if (length > max_bytes) {
    return Error{TooLargeMessage(length, max_bytes)};
  }
  std::string payload(length, '\0');
  got = ReadFull(fd, payload.data(), length, deadline);
  if (got == -EAGAIN) {
    return MakeError(ErrorKind::kTimedOut,
                     std::string("reading a frame: ") + std::string(kFrameTimedOut));
  }
  if (got < 0) {
    return Error{std::string("reading a frame: ") + std::strerror(static_cast<int>(-got))};
  }
  if (static_cast<size_t>(got) < length) {
    return Error{"connection closed inside a frame (" + std::to_string(got) + " of " +
                 std::to_string(length) + " bytes)"};
  }
  return std::optional<std::string>(std::move(payload));
}

}  // namespace

std::string EncodeFrame(std::string_view payload) {
  MVM_CHECK(payload.size() <= kMaxFrameBytes);
  const auto size = static_cast<uint32_t>(payload.size());
  std::string frame;
  frame.reserve(kFrameHeaderBytes + payload.size());
  frame.push_back(static_cast<char>(size >> 24));
  frame.push_back(static_cast<char>(size >> 16));
  frame.push_back(static_cast<char>(size >> 8));
  frame.push_back(static_cast<char>(size));
  frame.append(payload);
  return frame;
}

ErrorOr<std::optional<std::string>> ReadFrame(int fd, uint32_t max_bytes) {
  return ReadFrameWithin(fd, max_bytes, std::nullopt);
}

ErrorOr<std::optional<std::string>> ReadFrameBy(int fd,
                                                std::chrono::steady_clock::time_point deadline,
                                                uint32_t max_bytes) {
  return ReadFrameWithin(fd, max_bytes, deadline);
}

ErrorOr<os::UniqueFd> ListenUnix(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty()) {
    return Error{"socket: an empty path"};
  }
  // A path longer than sun_path (a state directory deep in a build tree) is bound through its
  // directory's descriptor: the name is the same file, and only the directory's depth is spared.
  os::UniqueFd parent;
  std::string name = path;
  if (path.size() >= sizeof address.sun_path) {
    const size_t slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
    parent = os::UniqueFd(open(dir.empty() ? "/" : dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!parent.valid()) {
      return Error{"socket `" + path + "`: cannot open its directory: " + std::strerror(errno)};
    }
    name = "/proc/self/fd/" + std::to_string(parent.get()) + "/" + path.substr(slash + 1);
    if (name.size() >= sizeof address.sun_path) {
      return Error{"socket `" + path + "`: its file name is too long for a unix socket (at most " +
                   std::to_string(sizeof address.sun_path - 25) + " bytes)"};
    }
  }
  std::memcpy(address.sun_path, name.data(), name.size());
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Error{"socket `" + path +
                   "`: exists and is not a socket; remove it or choose another path"};
    }
    unlink(path.c_str());  // a stale socket of an earlier agent
  }
  os::UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return Error{std::string("socket: ") + std::strerror(errno)};
  }
  const mode_t old_mask = umask(0077);
  const int bound = bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address);
  const int bind_errno = errno;
  umask(old_mask);
  if (bound != 0) {
    return Error{"socket `" + path + "`: bind: " + std::strerror(bind_errno)};
  }
  if (listen(fd.get(), 64) != 0) {
    return Error{"socket `" + path + "`: listen: " + std::strerror(errno)};
  }
  return fd;
}

ErrorOr<Ok> WriteFrame(int fd, std::string_view payload) {
  if (payload.size() > kMaxFrameBytes) {
    return Error{TooLargeMessage(payload.size(), kMaxFrameBytes)};
  }
  const std::string frame = EncodeFrame(payload);
  bool is_socket = true;
  size_t done = 0;
  while (done < frame.size()) {
    const char* data = frame.data() + done;
    const size_t size = frame.size() - done;
    ssize_t n = is_socket ? send(fd, data, size, MSG_NOSIGNAL) : write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno == ENOTSOCK && is_socket) {
        is_socket = false;
        continue;
      }
      return Error{std::string("writing a frame: ") + std::strerror(errno)};
    }
    done += static_cast<size_t>(n);
  }
  return Ok{};
}

void FrameDecoder::Append(std::string_view bytes) {
  // Compact before growing, so the buffer never holds more than one partial frame plus the new
  // bytes, however long the stream runs.
  if (start_ > 0 && start_ >= buffer_.size() / 2) {
    buffer_.erase(0, start_);
    start_ = 0;
  }
  buffer_.append(bytes);
}

std::string FrameDecoder::TakeBuffered() {
  std::string rest = buffer_.substr(start_);
  buffer_.clear();
  start_ = 0;
  return rest;
}

std::optional<uint32_t> FrameDecoder::next_length() const {
  if (buffered() < kFrameHeaderBytes) {
    return std::nullopt;
  }
  return DecodeLength(buffer_.data() + start_);
}

FrameDecoder::Status FrameDecoder::Next(std::string& frame) {
  const std::optional<uint32_t> length = next_length();
  if (!length) {
    return Status::kNeedMore;
  }
  if (*length > max_bytes_) {
    return Status::kTooLarge;
  }
  if (buffered() - kFrameHeaderBytes < *length) {
    return Status::kNeedMore;
  }
  frame.assign(buffer_, start_ + kFrameHeaderBytes, *length);
  start_ += kFrameHeaderBytes + *length;
  if (start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
  }
  return Status::kFrame;
}

ssize_t SendWithFd(int sock, std::string_view data, int pass_fd) {
  iovec iov{const_cast<char*>(data.data()), data.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (pass_fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
  }
  return ::sendmsg(sock, &msg, MSG_NOSIGNAL);
}

ssize_t ReceiveWithFd(int sock, char* buffer, size_t size, int* received_fd) {
  iovec iov{buffer, size};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))];
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); n >= 0 && c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
      continue;
    }
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int passed;
      std::memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      if (*received_fd < 0) {
        *received_fd = passed;
      } else {
        ::close(passed);
      }
    }
  }
  return n;
}

}  // namespace mvm::runtime::agent
