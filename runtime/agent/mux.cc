#include "runtime/agent/mux.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <thread>
#include <vector>

#include "ir/support/os/unique_fd.h"

namespace mvm::runtime::agent {
namespace {

using FrameType = MuxFrameType;
constexpr size_t kChunk = 64u << 10;
/// Local reads stop while this much is queued for the trunk, so the queue stays bounded even with
/// many streams sending at once.
constexpr size_t kTrunkHighWater = 1u << 20;
/// Credit is returned in batches rather than per write, to keep control frames few.
constexpr uint32_t kCreditBatch = 32u << 10;

struct Stream {
  os::UniqueFd fd;
  std::string out;  // bytes from the peer, not yet written to fd
  size_t out_start = 0;
  uint32_t send_credit = kMuxWindow;  // bytes we may still send the peer
  uint32_t unreturned = 0;            // bytes written to fd whose credit is not yet returned
  bool peer_closed = false;
};

void PutU32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
}

uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) {
    v = (v << 8) | static_cast<unsigned char>(p[i]);
  }
  return v;
}

class Mux {
 public:
  explicit Mux(const MuxOptions& options)
      : options_(options),
        trunk_(options.trunk_fd),
        listener_(options.listener_fd),
        control_(options.control_fd) {
    struct stat st {};
    trunk_is_socket_ = ::fstat(trunk_.get(), &st) == 0 && S_ISSOCK(st.st_mode);
    for (int fd : {trunk_.get(), listener_.get()}) {
      if (fd >= 0) {
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
      }
    }
  }

  ErrorOr<Ok> Run() {
    std::vector<pollfd> fds;
    std::vector<int64_t> ids;  // -1 trunk, -2 listener, else stream id
    for (;;) {
      fds.clear();
      ids.clear();
      short trunk_events = POLLIN;
      if (out_.size() > out_start_) {
        trunk_events |= POLLOUT;
      }
      fds.push_back({trunk_.get(), trunk_events, 0});
      ids.push_back(-1);
      if (listener_.valid() && accepting_) {
        fds.push_back({listener_.get(), POLLIN, 0});
        ids.push_back(-2);
      }
      if (control_ >= 0) {
        fds.push_back({control_, POLLIN, 0});
        ids.push_back(-3);
      }
      const bool trunk_room = out_.size() - out_start_ < kTrunkHighWater;
      for (auto& [id, s] : streams_) {
        short events = 0;
        if (!s.peer_closed && s.send_credit > 0 && trunk_room) {
          events |= POLLIN;
        }
        if (s.out.size() > s.out_start) {
          events |= POLLOUT;
        }
        fds.push_back({s.fd.get(), events, 0});
        ids.push_back(id);
      }
      int ready = ::poll(fds.data(), fds.size(), -1);
      if (ready < 0 && errno != EINTR) {
        return Error{std::string("mux: poll: ") + std::strerror(errno)};
      }
      for (size_t i = 0; ready > 0 && i < fds.size(); ++i) {
        if (fds[i].revents == 0) {
          continue;
        }
        if (ids[i] == -1) {
          if (fds[i].revents & POLLOUT) {
            if (auto ok = FlushTrunk(); !ok) {
              return ok;
            }
          }
          if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
            auto more = ReadTrunk();
            if (!more) {
              return more.error();
            }
            if (!*more) {
              return Ok{};
            }
          }
        } else if (ids[i] == -2) {
          Accept();
        } else if (ids[i] == -3) {
          Control();
        } else {
          ServeStream(static_cast<uint32_t>(ids[i]), fds[i].revents);
        }
      }
      if (auto ok = FlushTrunk(); !ok) {
        return ok;
      }
    }
  }

 private:
  void Log(const std::string& line) {
    if (options_.log) {
      options_.log(line);
    }
  }

  /// A byte from the supervisor (MuxOptions::control_fd).
  void Control() {
    char c = 0;
    ssize_t n = ::read(control_, &c, 1);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      return;
    }
    if (n <= 0) {
      control_ = -1;  // the supervisor's end is gone: nothing more will come
      return;
    }
    if (c == kMuxQuiesce) {
      // Every client goes (it sees its connection end, as when the VM stops), and no new one
      // comes in until kMuxAccept, so after the guest's QUIESCED the trunk stays empty.
      for (auto& [id, s] : streams_) {
        Queue(id, FrameType::kClose, {});
      }
      streams_.clear();
      accepting_ = false;
      Queue(0, FrameType::kQuiesce, {});
    } else if (c == kMuxAccept) {
      accepting_ = true;
    }
  }

  void Queue(uint32_t id, FrameType type, std::string_view payload) {
    if (out_start_ > (1u << 20) && out_start_ * 2 > out_.size()) {
      out_.erase(0, out_start_);
      out_start_ = 0;
    }
    AppendMuxFrame(out_, id, static_cast<uint8_t>(type), payload);
  }

  void QueueCredit(uint32_t id, uint32_t bytes) {
    std::string payload;
    PutU32(payload, bytes);
    Queue(id, FrameType::kCredit, payload);
  }

  ErrorOr<Ok> FlushTrunk() {
    while (out_.size() > out_start_) {
      // A socket trunk (the host's) must not raise SIGPIPE when qemu is gone; the guest's port is
      // a character device, which send() refuses.
      ssize_t n = trunk_is_socket_
                      ? ::send(trunk_.get(), out_.data() + out_start_, out_.size() - out_start_,
                               MSG_NOSIGNAL)
                      : ::write(trunk_.get(), out_.data() + out_start_, out_.size() - out_start_);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0 && errno == EAGAIN) {
        return Ok{};
      }
      if (n < 0) {
        // The other end is gone; the next read sees the end and stops the loop.
        out_.clear();
        out_start_ = 0;
        return Ok{};
      }
      out_start_ += static_cast<size_t>(n);
    }
    out_.clear();
    out_start_ = 0;
    return Ok{};
  }

  /// False at the trunk's end.
  ErrorOr<bool> ReadTrunk() {
    char buffer[kChunk];
    ssize_t n = ::read(trunk_.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        return true;
      }
      if (errno == ECONNRESET && options_.connect_path.empty()) {
        return false;  // qemu went away with bytes of ours unread: the same end
      }
      return Error{std::string("mux: reading the trunk: ") + std::strerror(errno)};
    }
    if (n == 0) {
      if (options_.connect_path.empty()) {
        return false;
      }
      // A virtio-serial port reads as empty while no host end is connected; the host may still
      // come, so wait for it rather than spin on the port, and forget streams of an earlier host.
      streams_.clear();
      in_.clear();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      return true;
    }
    in_.append(buffer, static_cast<size_t>(n));
    size_t at = 0;
    while (in_.size() - at >= kMuxHeaderBytes) {
      const MuxFrameHeader header = ReadMuxFrameHeader(in_.data() + at);
      const uint32_t id = header.stream;
      const auto type = static_cast<FrameType>(header.type);
      const uint32_t length = header.length;
      if (length > kMuxWindow + kChunk) {
        return Error{"mux: a trunk frame announces " + std::to_string(length) +
                     " bytes, more than any peer sends; the trunk is corrupt"};
      }
      if (in_.size() - at - kMuxHeaderBytes < length) {
        break;
      }
      std::string_view payload(in_.data() + at + kMuxHeaderBytes, length);
      at += kMuxHeaderBytes + length;
      if (auto ok = HandleFrame(id, type, payload); !ok) {
        return ok.error();
      }
    }
    in_.erase(0, at);
    return true;
  }

  ErrorOr<Ok> HandleFrame(uint32_t id, FrameType type, std::string_view payload) {
    const bool host = options_.connect_path.empty();
    auto it = streams_.find(id);
    switch (type) {
      case FrameType::kQuiesce:
        if (host) {
          return Error{"mux: the guest sent QUIESCE, which only the host may send"};
        }
        // What is queued for the trunk still goes first; the host drops it, as its streams are
        // gone.
        streams_.clear();
        Queue(0, FrameType::kQuiesced, {});
        return Ok{};
      case FrameType::kQuiesced:
        if (!host) {
          return Error{"mux: the host sent QUIESCED, which only the guest may send"};
        }
        if (control_ >= 0 && !accepting_) {
          (void)!::write(control_, &kMuxQuiesced, 1);
        }
        return Ok{};
      case FrameType::kOpen:
        if (host) {
          return Error{"mux: the guest sent OPEN, which only the host may send"};
        }
        Open(id);
        return Ok{};
      case FrameType::kData:
        if (it == streams_.end()) {
          return Ok{};  // a stream this side already closed; its bytes have nowhere to go
        }
        if (it->second.out.size() - it->second.out_start + payload.size() > kMuxWindow) {
          return Error{"mux: stream " + std::to_string(id) +
                       " got more data than its window allows; the peer does not honour credit"};
        }
        it->second.out.append(payload);
        return Ok{};
      case FrameType::kClose:
        if (it != streams_.end()) {
          it->second.peer_closed = true;
          if (it->second.out.size() == it->second.out_start) {
            streams_.erase(it);
          }
        }
        return Ok{};
      case FrameType::kCredit:
        if (payload.size() != 4) {
          return Error{"mux: a CREDIT frame must carry 4 bytes"};
        }
        if (it != streams_.end()) {
          it->second.send_credit = std::min<uint64_t>(
              kMuxWindow, uint64_t{it->second.send_credit} + GetU32(payload.data()));
        }
        return Ok{};
    }
    return Error{"mux: unknown trunk frame type " + std::to_string(static_cast<int>(type))};
  }

  void Open(uint32_t id) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, options_.connect_path.data(),
                std::min(options_.connect_path.size(), sizeof address.sun_path - 1));
    // The agent may still be starting when the first host client arrives; give it a moment.
    for (int attempt = 0; attempt < 200; ++attempt) {
      os::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
      if (fd.valid() &&
          ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
        ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) | O_NONBLOCK);
        streams_[id].fd = std::move(fd);
        return;
      }
      if (errno != ENOENT && errno != ECONNREFUSED && errno != EAGAIN) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    Log("mux: cannot connect stream " + std::to_string(id) + " to " + options_.connect_path + ": " +
        std::strerror(errno));
    Queue(id, FrameType::kClose, {});
  }

  void Accept() {
    for (;;) {
      int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        return;
      }
      const uint32_t id = next_id_++;
      streams_[id].fd.Reset(fd);
      Queue(id, FrameType::kOpen, {});
    }
  }

  void ServeStream(uint32_t id, short revents) {
    auto it = streams_.find(id);
    if (it == streams_.end()) {
      return;
    }
    Stream& s = it->second;
    if (revents & POLLOUT) {
      while (s.out.size() > s.out_start) {
        ssize_t n = ::send(s.fd.get(), s.out.data() + s.out_start, s.out.size() - s.out_start,
                           MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
          continue;
        }
        if (n < 0 && errno == EAGAIN) {
          break;
        }
        if (n < 0) {
          Queue(id, FrameType::kClose, {});
          streams_.erase(it);
          return;
        }
        s.out_start += static_cast<size_t>(n);
        s.unreturned += static_cast<uint32_t>(n);
      }
      if (s.out.size() == s.out_start) {
        s.out.clear();
        s.out_start = 0;
      }
      if (s.unreturned >= kCreditBatch || (s.out.empty() && s.unreturned > 0)) {
        QueueCredit(id, s.unreturned);
        s.unreturned = 0;
      }
      if (s.peer_closed && s.out.empty()) {
        streams_.erase(it);
        return;
      }
    }
    if (revents & (POLLIN | POLLHUP | POLLERR)) {
      if (s.peer_closed) {
        if (!(revents & POLLIN)) {
          streams_.erase(it);
        }
        return;
      }
      char buffer[kChunk];
      size_t want = std::min<size_t>(sizeof buffer, s.send_credit);
      if (want == 0) {
        return;
      }
      ssize_t n = ::read(s.fd.get(), buffer, want);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
      }
      if (n <= 0) {
        Queue(id, FrameType::kClose, {});
        streams_.erase(it);
        return;
      }
      s.send_credit -= static_cast<uint32_t>(n);
      Queue(id, FrameType::kData, std::string_view(buffer, static_cast<size_t>(n)));
    }
  }

  const MuxOptions& options_;
  os::UniqueFd trunk_;
  os::UniqueFd listener_;
  std::map<uint32_t, Stream> streams_;
  std::string in_;
  std::string out_;
  size_t out_start_ = 0;
  uint32_t next_id_ = 1;
  bool trunk_is_socket_ = false;
  int control_ = -1;
  bool accepting_ = true;
};

}  // namespace

void AppendMuxFrame(std::string& out, uint32_t stream, uint8_t type, std::string_view payload) {
  PutU32(out, stream);
  out.push_back(static_cast<char>(type));
  PutU32(out, static_cast<uint32_t>(payload.size()));
  out.append(payload);
}

MuxFrameHeader ReadMuxFrameHeader(const char* header) {
  return {GetU32(header), static_cast<uint8_t>(header[4]), GetU32(header + 5)};
}

ErrorOr<Ok> RunMux(const MuxOptions& options) {
  Mux mux(options);
  return mux.Run();
}

}  // namespace mvm::runtime::agent
