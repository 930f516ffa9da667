#ifndef MVM_RUNTIME_AGENT_MUX_H_
#define MVM_RUNTIME_AGENT_MUX_H_

// Many byte streams over one: how several host clients (`run`'s exec, `mvmctl exec`, `logs`,
// `fs`) share the single virtio-serial port of a microVM. The host side (the sandbox's supervisor
// process) accepts clients on the agent socket path the container backend uses, so
// agent::Client is the same for both backends; the guest side (a process the agent forks when it
// is init) connects each stream to the agent's own unix socket inside the guest. The mux knows
// nothing of the agent protocol: it forwards bytes.
//
// Trunk frames, both directions: u32 stream id, u8 type, u32 payload length (little-endian), then
// the payload. OPEN (host to guest) starts a stream, DATA carries bytes, CLOSE ends a stream
// (either side), CREDIT (a u32 byte count) lets the peer send that many more bytes of the stream.
// Each stream may have at most kMuxWindow bytes in flight, so a client that stops reading (a paused
// `logs -f`) holds back only its own stream, never the port the others share, and neither side
// buffers more than kMuxWindow per stream.
//
// QUIESCE (host to guest) and QUIESCED (guest to host) drain the trunk for a snapshot of the VM:
// the host closes every stream and stops accepting clients, the guest closes every stream and
// answers, and then neither side has a byte of a frame in flight. A VM restored from that moment
// meets a new host half with no stream open on either side, so the two halves agree from the
// first byte (docs/snapshots.md).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "ir/support/error_or.h"

namespace mvm::runtime::agent {

inline constexpr uint32_t kMuxWindow = 256u << 10;

enum class MuxFrameType : uint8_t {
  kOpen = 1,
  kData = 2,
  kClose = 3,
  kCredit = 4,
  kQuiesce = 5,
  kQuiesced = 6,
};

/// The bytes a host half's control socket (MuxOptions::control_fd) takes and answers.
inline constexpr char kMuxQuiesce = 'q';   ///< drain the trunk (QUIESCE) and stop accepting
inline constexpr char kMuxQuiesced = 'Q';  ///< answer: the guest acknowledged; the trunk is empty
inline constexpr char kMuxAccept = 'r';    ///< accept clients again
inline constexpr size_t kMuxHeaderBytes = 9;

/// A trunk frame's header as read: the type is left raw, since a peer may send any byte there.
struct MuxFrameHeader {
  uint32_t stream = 0;
  uint8_t type = 0;
  uint32_t length = 0;
};

/// Appends one trunk frame to `out`.
void AppendMuxFrame(std::string& out, uint32_t stream, uint8_t type, std::string_view payload);
/// Reads the kMuxHeaderBytes bytes at `header`.
MuxFrameHeader ReadMuxFrameHeader(const char* header);

struct MuxOptions {
  /// The shared stream: the host's end of the qemu chardev, or the guest's virtio-serial port.
  /// Taken over (made non-blocking, closed at the end).
  int trunk_fd = -1;
  /// Host: a listening unix socket whose clients each become a stream. Taken over.
  int listener_fd = -1;
  /// Guest: the unix socket each OPEN connects a new stream to.
  std::string connect_path;
  /// Host: a socket through which the supervisor drains the trunk (kMuxQuiesce, answered with
  /// kMuxQuiesced) and lets clients in again (kMuxAccept); -1 for none. Not taken over.
  int control_fd = -1;
  /// Diagnostics (a stream that could not be connected, a malformed trunk frame); may be empty.
  std::function<void(const std::string&)> log;
};

/// Forwards until the trunk ends (host: qemu went away; guest: the port was unplugged) or carries
/// a malformed frame. Single-threaded; all descriptors are non-blocking. Returns Ok at the trunk's
/// end and an Error for a broken trunk protocol.
ErrorOr<Ok> RunMux(const MuxOptions& options);

}  // namespace mvm::runtime::agent

#endif  // MVM_RUNTIME_AGENT_MUX_H_
