#ifndef MVM_RUNTIME_AGENT_FRAMING_H_
#define MVM_RUNTIME_AGENT_FRAMING_H_

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ir/support/error_or.h"
#include "ir/support/os/unique_fd.h"

namespace mvm::runtime::agent {

/// The length prefix of a frame: 4 bytes, big-endian.
inline constexpr size_t kFrameHeaderBytes = 4;
/// The largest payload a frame may carry. Both sides refuse larger frames before reading them, so
/// a peer cannot make the other allocate more than this per frame.
inline constexpr uint32_t kMaxFrameBytes = 16u << 20;

/// The bytes of one frame: header and `payload`. `payload` must be at most kMaxFrameBytes (a
/// CHECK: callers bound what they send).
std::string EncodeFrame(std::string_view payload);

/// The text of ReadFrame's Error, of kind ErrorKind::kTimedOut, when a receive timeout
/// (SO_RCVTIMEO) or the deadline expired.
inline constexpr std::string_view kFrameTimedOut = "nothing arrived within the time allowed";

/// Reads one frame from the blocking descriptor `fd` (a socket or pipe), retrying on EINTR and
/// short reads. std::nullopt at a clean end of stream (EOF before the first header byte). An Error
/// for EOF inside a frame ("truncated"), for a length above `max_bytes` (nothing of the payload is
/// read then) and for I/O errors.
ErrorOr<std::optional<std::string>> ReadFrame(int fd, uint32_t max_bytes = kMaxFrameBytes);

/// As ReadFrame, but the whole frame must have arrived by `deadline`, however the peer spaces its
/// bytes: past it, an Error carrying kFrameTimedOut. What arrived of that frame is lost then, so
/// the stream cannot be read on.
ErrorOr<std::optional<std::string>> ReadFrameBy(int fd,
                                                std::chrono::steady_clock::time_point deadline,
                                                uint32_t max_bytes = kMaxFrameBytes);

/// Writes one frame to the blocking descriptor `fd`, retrying on EINTR and short writes. Sockets
/// are written with MSG_NOSIGNAL, so a vanished peer is an Error, not a SIGPIPE. An Error when
/// `payload` is larger than kMaxFrameBytes.
ErrorOr<Ok> WriteFrame(int fd, std::string_view payload);

/// Creates a unix stream socket listening at `path` (mode 0600: only its owner may connect),
/// replacing a stale socket there but nothing else. Blocking (who needs otherwise sets
/// O_NONBLOCK) and close-on-exec.
ErrorOr<os::UniqueFd> ListenUnix(const std::string& path);

/// One sendmsg of `data` (non-empty) on the unix socket `sock`, with `pass_fd` attached
/// (SCM_RIGHTS) unless it is -1. MSG_NOSIGNAL. Returns the bytes sent or -1 with errno, as
/// sendmsg. System calls only: safe in a child of a multi-threaded process.
ssize_t SendWithFd(int sock, std::string_view data, int pass_fd);

/// One recvmsg into `buffer` on the unix socket `sock` (MSG_CMSG_CLOEXEC). The first descriptor
/// passed along is stored in `*received_fd` when that is -1; every other one is closed. Returns
/// the bytes read or -1 with errno, as recvmsg. System calls only.
ssize_t ReceiveWithFd(int sock, char* buffer, size_t size, int* received_fd);

/// Splits a byte stream into frames, for readers that cannot block (the agent's event loop). Feed
/// it whatever arrived with Append, then call Next until it stops returning kFrame.
class FrameDecoder {
 public:
  enum class Status {
    kNeedMore,  ///< no complete frame buffered yet
    kFrame,     ///< `frame` holds the next payload
    kTooLarge,  ///< the next header announces more than the limit: the stream cannot continue
  };

  explicit FrameDecoder(uint32_t max_bytes = kMaxFrameBytes) : max_bytes_(max_bytes) {}

  void Append(std::string_view bytes);
  /// Takes the next complete frame out of the buffer into `frame`. kTooLarge is sticky.
  Status Next(std::string& frame);
  /// Bytes received and not yet returned as frames.
  size_t buffered() const { return buffer_.size() - start_; }
  /// Removes and returns the bytes not yet returned as frames: what follows the last frame when a
  /// stream stops being framed (an agent Tunnel).
  std::string TakeBuffered();
  /// The length the next frame announces, when its header is complete (for error messages).
  std::optional<uint32_t> next_length() const;

 private:
  uint32_t max_bytes_;
  std::string buffer_;
  size_t start_ = 0;  // consumed prefix of buffer_, compacted lazily
};

}  // namespace mvm::runtime::agent

#endif  // MVM_RUNTIME_AGENT_FRAMING_H_
