#include "runtime/agent/client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "runtime/agent/agent.pb.h"
#include "runtime/agent/framing.h"

namespace mvm::runtime::agent {
namespace {

namespace v1 = ::mvm::agent::v1;

// Data in one FileWrite or FileWriteData frame: well under the frame limit with its envelope.
constexpr size_t kWriteChunk = 1u << 20;
constexpr std::chrono::milliseconds kConnectRetry{10};

std::string Quoted(const std::string& text) { return "`" + text + "`"; }

FileEntry::Type ToType(v1::FileEntry::Type type) {
  switch (type) {
    case v1::FileEntry::TYPE_FILE:
      return FileEntry::Type::kFile;
    case v1::FileEntry::TYPE_DIR:
      return FileEntry::Type::kDir;
    case v1::FileEntry::TYPE_SYMLINK:
      return FileEntry::Type::kSymlink;
    default:
      return FileEntry::Type::kOther;
  }
}

/// Sets the socket's limit on silence in one direction (`option`: SO_RCVTIMEO or SO_SNDTIMEO).
bool SetSilenceLimit(int fd, int option, std::chrono::milliseconds limit) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(limit).count();
  const timeval silence{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
  return setsockopt(fd, SOL_SOCKET, option, &silence, sizeof silence) == 0;
}

}  // namespace

std::vector<FileEntry> ToFileEntries(const v1::FileListing& listing) {
  std::vector<FileEntry> entries;
  entries.reserve(static_cast<size_t>(listing.entries_size()));
  for (const v1::FileEntry& entry : listing.entries()) {
    entries.push_back(FileEntry{entry.name(), ToType(entry.type()), entry.size(), entry.mode(),
                                entry.link_target()});
  }
  return entries;
}

ErrorOr<Client> Client::Connect(const std::filesystem::path& socket_path,
                                std::chrono::milliseconds wait) {
  return Connect(socket_path, wait, HelloAnswer::kNow);
}

ErrorOr<Client> Client::Connect(const std::filesystem::path& socket_path,
                                std::chrono::milliseconds wait, HelloAnswer answer,
                                std::function<std::string()> explain) {
  const std::string path = socket_path.string();
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  // Connected through a descriptor of the socket file (below), so its path may be of any length.
  if (path.empty()) {
    return Error{"agent socket: an empty path"};
  }
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    // The socket itself, never what a link in its place points to, and only one this user made:
    // whoever could swap the name for a link could otherwise send us to any socket on the host,
    // or to a fake agent of their own.
    int err = 0;
    os::UniqueFd target(open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    struct stat st {};
    if (!target.valid()) {
      err = errno;
    } else if (fstat(target.get(), &st) != 0) {
      err = errno;
    } else if (!S_ISSOCK(st.st_mode)) {
      return Error{"agent socket " + Quoted(path) +
                   " is not a socket (a link or a file was put in its place); not connecting"};
    } else if (st.st_uid != geteuid()) {
      return Error{"agent socket " + Quoted(path) + " belongs to uid " + std::to_string(st.st_uid) +
                   ", not to this user; not connecting"};
    }
    if (err == 0) {
      std::string via = "/proc/self/fd/" + std::to_string(target.get());
      std::memcpy(address.sun_path, via.c_str(), via.size() + 1);
      os::UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
      if (!fd.valid()) {
        return Error{std::string("agent socket: socket(): ") + std::strerror(errno)};
      }
      if (connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
        Client client(fd.Release(), path);
        // A microVM's supervisor accepts at once and the guest answers once it has booted, so
        // what is left of `wait` counts too; so does a container's listener, which exists before
        // its agent runs.
        const auto limit =
            std::max(kHelloLimit, std::chrono::duration_cast<std::chrono::milliseconds>(
                                      deadline - std::chrono::steady_clock::now()));
        if (answer == HelloAnswer::kWithFirstRequest) {
          v1::Request hello;
          hello.mutable_hello()->set_protocol_version(v1::PROTOCOL_VERSION_1);
          if (auto sent = client.SendRequest(hello, limit); !sent) {
            return sent.error();
          }
          client.hello_by_ = std::chrono::steady_clock::now() + limit;
          client.explain_hello_ = std::move(explain);
          return client;
        }
        auto info = client.HelloWithin(limit);
        if (!info) {
          return info.error();
        }
        return client;
      }
      err = errno;
    }
    // Not there yet, or not listening yet: the agent is still starting.
    const bool starting = err == ENOENT || err == ECONNREFUSED || err == EAGAIN || err == EINTR;
    if (!starting) {
      return Error{"connecting to the agent at " + Quoted(path) + ": " + std::strerror(err)};
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Error{"connecting to the agent at " + Quoted(path) + ": " + std::strerror(err) +
                   "; it did not start listening within " + std::to_string(wait.count()) +
                   " ms (see the sandbox's console output for why)"};
    }
    std::this_thread::sleep_for(kConnectRetry);
  }
}

Client::Client(Client&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      socket_(std::move(other.socket_)),
      reply_limit_(other.reply_limit_),
      deadline_(other.deadline_),
      hello_by_(std::exchange(other.hello_by_, std::nullopt)),
      explain_hello_(std::move(other.explain_hello_)) {}

Client& Client::operator=(Client&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) {
      close(fd_);
    }
    fd_ = std::exchange(other.fd_, -1);
    socket_ = std::move(other.socket_);
    reply_limit_ = other.reply_limit_;
    deadline_ = other.deadline_;
    hello_by_ = std::exchange(other.hello_by_, std::nullopt);
    explain_hello_ = std::move(other.explain_hello_);
  }
  return *this;
}

Client::~Client() {
  if (fd_ >= 0) {
    close(fd_);
  }
}

Error Client::Broken(Error error) {
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
  return error;
}

ErrorOr<Ok> Client::SendRequest(const v1::Request& request, std::chrono::milliseconds limit) {
  if (fd_ < 0) {
    return Error{"the connection to the agent at " + Quoted(socket_) +
                 " is closed (an earlier call failed or shut the agent down); connect again"};
  }
  if (deadline_ && std::chrono::steady_clock::now() >= *deadline_) {
    return Error{"the agent at " + Quoted(socket_) +
                 ": the deadline for this connection has passed; nothing more is asked of it"};
  }
  // Every wait on the agent is bounded: a sandbox that stops reading or answering must not hang
  // the host side. The limit is on silence, so a large transfer that keeps moving is never cut.
  reply_limit_ = limit;
  if (!SetSilenceLimit(fd_, SO_RCVTIMEO, limit) || !SetSilenceLimit(fd_, SO_SNDTIMEO, limit)) {
    return Broken(Error{std::string("agent socket: setsockopt: ") + std::strerror(errno)});
  }
  auto written = WriteFrame(fd_, request.SerializeAsString());
  if (!written) {
    // An agent that refuses a pipelined Hello closes the connection, which fails this write; its
    // answer to the Hello, already sent, says why.
    if (hello_by_) {
      if (auto hello = AwaitPendingHello(); !hello) {
        return hello.error();
      }
    }
    return Broken(
        Error{"the agent at " + Quoted(socket_) + " went away: " + written.error().message});
  }
  return Ok{};
}

ErrorOr<Ok> Client::AwaitPendingHello() {
  if (!hello_by_) {
    return Ok{};
  }
  const auto by = *std::exchange(hello_by_, std::nullopt);
  const auto request_limit = reply_limit_;
  // The request sent behind the Hello set the socket's limit on silence for its own answer.
  reply_limit_ =
      std::max(std::chrono::milliseconds(1),
               std::chrono::ceil<std::chrono::milliseconds>(by - std::chrono::steady_clock::now()));
  if (!SetSilenceLimit(fd_, SO_RCVTIMEO, reply_limit_)) {
    return Broken(Error{std::string("agent socket: setsockopt: ") + std::strerror(errno)});
  }
  auto info = CheckHello(ReadResponse());
  reply_limit_ = request_limit;
  if (!info) {
    std::string message = "the guest agent did not come up: " + info.error().message;
    if (explain_hello_) {
      message += explain_hello_();
    }
    return Broken(Error{std::move(message)});
  }
  explain_hello_ = nullptr;
  if (!SetSilenceLimit(fd_, SO_RCVTIMEO, request_limit)) {
    return Broken(Error{std::string("agent socket: setsockopt: ") + std::strerror(errno)});
  }
  return Ok{};
}

ErrorOr<v1::Response> Client::ReadResponse() {
  if (auto hello = AwaitPendingHello(); !hello) {
    return hello.error();
  }
  auto frame = deadline_ ? ReadFrameBy(fd_, *deadline_) : ReadFrame(fd_);
  if (!frame) {
    if (deadline_ && std::chrono::steady_clock::now() >= *deadline_) {
      return Broken(Error{"the agent at " + Quoted(socket_) +
                          " had not finished answering by the deadline of this connection"});
    }
    if (frame.error().kind == ErrorKind::kTimedOut) {
      return Broken(Error{"the agent at " + Quoted(socket_) + " stopped answering (nothing for " +
                          std::to_string(reply_limit_.count()) + " ms)"});
    }
    return Broken(
        Error{"the agent at " + Quoted(socket_) + " went away: " + frame.error().message});
  }
  if (!frame->has_value()) {
    return Broken(Error{"the agent at " + Quoted(socket_) +
                        " went away: it closed the connection before answering"});
  }
  v1::Response response;
  if (!response.ParseFromString(**frame) || response.kind_case() == v1::Response::KIND_NOT_SET) {
    return Broken(Error{"the agent at " + Quoted(socket_) + " sent a malformed response"});
  }
  return response;
}

ErrorOr<v1::Response> Client::Exchange(const v1::Request& request,
                                       std::chrono::milliseconds limit) {
  if (auto sent = SendRequest(request, limit); !sent) {
    return sent.error();
  }
  auto response = ReadResponse();
  if (!response) {
    return response.error();
  }
  if (response->has_error()) {
    return Error{response->error().message()};
  }
  return response;
}

ErrorOr<v1::Response> Client::RoundTrip(const v1::Request& request,
                                        bool (v1::Response::*expected)() const,
                                        std::chrono::milliseconds limit) {
  auto response = Exchange(request, limit);
  if (!response) {
    return response.error();
  }
  if (!((*response).*expected)()) {
    return Broken(Error{"the agent at " + Quoted(socket_) + " answered out of turn"});
  }
  return response;
}

ErrorOr<Ok> Client::RoundTripDone(const v1::Request& request, std::chrono::milliseconds limit) {
  auto response = RoundTrip(request, &v1::Response::has_done, limit);
  if (!response) {
    return response.error();
  }
  return Ok{};
}

ErrorOr<AgentInfo> Client::Hello() { return HelloWithin(kHelloLimit); }

ErrorOr<AgentInfo> Client::HelloWithin(std::chrono::milliseconds limit) {
  v1::Request request;
  request.mutable_hello()->set_protocol_version(v1::PROTOCOL_VERSION_1);
  if (auto sent = SendRequest(request, limit); !sent) {
    return sent.error();
  }
  return CheckHello(ReadResponse());
}

ErrorOr<AgentInfo> Client::CheckHello(const ErrorOr<v1::Response>& response) {
  if (!response) {
    return response.error();
  }
  if (response->has_error()) {
    // The agent closed the connection after it (agent.proto).
    return Broken(Error{response->error().message()});
  }
  if (!response->has_info() || response->info().protocol_version() != v1::PROTOCOL_VERSION_1) {
    return Broken(Error{"the agent at " + Quoted(socket_) +
                        " does not speak protocol version 1; rebuild the sandbox's agent"});
  }
  const v1::AgentInfo& info = response->info();
  return AgentInfo{info.version(), info.pid(), info.uptime_ms()};
}

ErrorOr<ExecResult> Client::Exec(const ExecRequest& request, const OutputSink& sink) {
  v1::Request message;
  v1::Exec* exec = message.mutable_exec();
  for (const std::string& arg : request.argv) {
    exec->add_argv(arg);
  }
  for (const auto& [name, value] : request.env) {
    v1::EnvVar* var = exec->add_env();
    var->set_name(name);
    var->set_value(value);
  }
  exec->set_cwd(request.cwd);
  exec->set_stdin(request.stdin_data);
  exec->set_stdin_stream(request.stdin_fd >= 0);
  if (request.tty) {
    exec->set_tty(true);
    exec->mutable_window()->set_rows(request.window.rows);
    exec->mutable_window()->set_cols(request.window.cols);
  }
  exec->set_timeout_ms(request.timeout_ms);
  exec->set_output_limit_bytes(request.output_limit_bytes);
  exec->set_end_when_idle(request.end_when_idle);
  if (request.uid) {
    exec->set_uid(*request.uid);
  }
  if (request.gid) {
    exec->set_gid(*request.gid);
  }
  // A command may be silent for as long as it runs; with a timeout the agent must have answered
  // by then, and a little after it the agent is taken for lost.
  const auto limit = request.timeout_ms == 0
                         ? std::chrono::milliseconds(0)
                         : std::chrono::milliseconds(request.timeout_ms) + kExecGrace;
  if (auto sent = SendRequest(message, limit); !sent) {
    return sent.error();
  }
  // The real agent forwards at most the limit per stream and never an empty chunk, so an agent
  // that sends more has been taken over by the workload: the exec ends here instead of reading
  // output without end (a command without a timeout has no other bound).
  uint64_t forwarded[2] = {0, 0};
  auto handle = [&](const v1::Response& response) -> std::optional<ErrorOr<ExecResult>> {
    if (response.has_exec_output()) {
      const v1::ExecOutput& output = response.exec_output();
      const int index = output.stream() == v1::STREAM_STDERR ? 1 : 0;
      const uint64_t room =
          request.output_limit_bytes - std::min(request.output_limit_bytes, forwarded[index]);
      const std::string_view data = output.data();
      if (data.empty() || data.size() > room) {
        return Broken(
            Error{"the agent at " + Quoted(socket_) + " sent " +
                  (data.empty() ? std::string("an empty output chunk")
                                : "more " + std::string(index == 1 ? "stderr" : "stdout") +
                                      " than the output limit of " +
                                      std::to_string(request.output_limit_bytes) + " bytes") +
                  "; the real agent never does, so the guest no longer runs it"});
      }
      forwarded[index] += data.size();
      if (sink) {
        sink(index == 1 ? Stream::kStderr : Stream::kStdout, data);
      }
      return std::nullopt;
    }
    if (response.has_error()) {
      return Error{response.error().message()};
    }
    if (!response.has_exec_exit()) {
      return Broken(Error{"the agent at " + Quoted(socket_) + " answered out of turn"});
    }
    const v1::ExecExit& exit = response.exec_exit();
    ExecResult result;
    result.exit_code = exit.exit_code();
    result.signal = exit.signal();
    result.timed_out = exit.timed_out();
    result.stdout_bytes = exit.stdout_bytes();
    result.stderr_bytes = exit.stderr_bytes();
    result.stdout_dropped = exit.stdout_dropped();
    result.stderr_dropped = exit.stderr_dropped();
    result.error = exit.error();
    result.duration_ms = exit.duration_ms();
    result.agent_exits = request.end_when_idle && exit.agent_exits();
    return result;
  };
  if (request.stdin_fd >= 0 || request.tty) {
    return StreamExec(request, handle);
  }
  for (;;) {
    auto response = ReadResponse();
    if (!response) {
      return response.error();
    }
    if (auto done = handle(*response)) {
      return std::move(*done);
    }
  }
}

ErrorOr<ExecResult> Client::StreamExec(
    const ExecRequest& exec,
    const std::function<std::optional<ErrorOr<ExecResult>>(const v1::Response&)>& handle) {
  // Its own reads below do not go through ReadResponse.
  if (auto hello = AwaitPendingHello(); !hello) {
    return hello.error();
  }
  const int stdin_fd = exec.stdin_fd;
  const int resize_fd = exec.tty && exec.window_size ? exec.resize_fd : -1;
  FrameDecoder decoder;
  std::string out;  // ExecStdin frames not yet sent
  size_t out_sent = 0;
  bool stdin_done = stdin_fd < 0;  // a terminal without input: resizes only
  bool resize_fd_gone = false;
  std::optional<ErrorOr<ExecResult>> result;
  auto heard = std::chrono::steady_clock::now();
  std::vector<char> buffer(64u << 10);
  auto queue = [&](std::string_view data, bool eof, std::optional<WindowSize> window = {}) {
    v1::Request request;
    request.mutable_exec_stdin()->set_data(std::string(data));
    request.mutable_exec_stdin()->set_eof(eof);
    if (window) {
      request.mutable_exec_stdin()->mutable_window()->set_rows(window->rows);
      request.mutable_exec_stdin()->mutable_window()->set_cols(window->cols);
    }
    // What was sent goes, so that `out` holds at most the window and one chunk.
    out.erase(0, out_sent);
    out_sent = 0;
    out += EncodeFrame(request.SerializeAsString());
  };
  auto gone = [&](const std::string& why) {
    return Broken(Error{"the agent at " + Quoted(socket_) + " went away: " + why});
  };
  // Until the answer ends the Exec; then what is queued of stdin is still sent, so that the next
  // request starts on a frame boundary (the agent drops those frames).
  while (!result || out_sent < out.size()) {
    const bool read_stdin = !result && !stdin_done && out.size() - out_sent < kStdinWindow;
    const bool read_resize = !result && !resize_fd_gone && out.size() - out_sent < kStdinWindow;
    pollfd fds[3] = {
        {fd_, static_cast<short>((result ? 0 : POLLIN) | (out_sent < out.size() ? POLLOUT : 0)), 0},
        {read_stdin ? stdin_fd : -1, POLLIN, 0},
        {read_resize ? resize_fd : -1, POLLIN, 0}};
    int timeout = -1;
    auto now = std::chrono::steady_clock::now();
    std::optional<std::chrono::steady_clock::time_point> until;
    if (reply_limit_.count() > 0 || result) {
      until = heard + (result ? kReplyLimit : reply_limit_);
    }
    if (deadline_ && (!until || *deadline_ < *until)) {
      until = deadline_;
    }
    if (until) {
      if (now >= *until) {
        if (result) {
          // The answer is whole; only the connection, left mid-frame, cannot serve another.
          (void)Broken(Error{"stdin not flushed"});
          return std::move(*result);
        }
        if (deadline_ && now >= *deadline_) {
          return Broken(Error{"the agent at " + Quoted(socket_) +
                              " had not finished answering by the deadline of this connection"});
        }
        return Broken(Error{"the agent at " + Quoted(socket_) + " stopped answering (nothing for " +
                            std::to_string(reply_limit_.count()) + " ms)"});
      }
      timeout =
          static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(*until - now).count());
    }
    if (poll(fds, 3, timeout) < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Broken(Error{std::string("poll: ") + std::strerror(errno)});
    }
    if (fds[2].revents != 0) {
      // However many resizes came meanwhile, the size now is the one that counts.
      char drained[64];
      if (read(resize_fd, drained, sizeof drained) <= 0 && fds[2].revents & (POLLHUP | POLLERR)) {
        resize_fd_gone = true;
      }
      queue({}, false, exec.window_size());
    }
    if (fds[1].revents != 0) {
      ssize_t n = read(stdin_fd, buffer.data(), buffer.size());
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        continue;
      }
      // An unreadable stdin ends like an empty one: the command sees its end.
      if (n <= 0) {
        stdin_done = true;
        queue({}, true);
      } else {
        queue(std::string_view(buffer.data(), static_cast<size_t>(n)), false);
      }
    }
    if (fds[0].revents & POLLOUT) {
      ssize_t n =
          send(fd_, out.data() + out_sent, out.size() - out_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        if (result) {
          return std::move(*result);  // the answer is complete; the connection is not reused
        }
        return gone(std::strerror(errno));
      }
      if (n > 0) {
        out_sent += static_cast<size_t>(n);
        heard = result ? std::chrono::steady_clock::now() : heard;
      }
    }
    if (!result && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = recv(fd_, buffer.data(), buffer.size(), MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        continue;
      }
      if (n <= 0) {
        return gone(n == 0 ? std::string("it closed the connection before answering")
                           : std::string(std::strerror(errno)));
      }
      heard = std::chrono::steady_clock::now();
      decoder.Append(std::string_view(buffer.data(), static_cast<size_t>(n)));
      std::string payload;
      while (!result) {
        const FrameDecoder::Status status = decoder.Next(payload);
        if (status == FrameDecoder::Status::kNeedMore) {
          break;
        }
        if (status == FrameDecoder::Status::kTooLarge) {
          // The bytes say which side lost the framing: a header of plain text is unframed output,
          // one of a trunk frame is the virtio-serial multiplexer's.
          const uint32_t announced = decoder.next_length().value_or(0);
          const std::string from_there = decoder.TakeBuffered().substr(0, 24);
          std::string hex;
          for (unsigned char c : from_there) {
            hex += "0123456789abcdef"[c >> 4];
            hex += "0123456789abcdef"[c & 15];
          }
          return gone("it sent a frame of " + std::to_string(announced) +
                      " bytes, larger than the limit (its first " +
                      std::to_string(from_there.size()) + " bytes, in hex: " + hex + ")");
        }
        v1::Response response;
        if (!response.ParseFromString(payload) ||
            response.kind_case() == v1::Response::KIND_NOT_SET) {
          return Broken(Error{"the agent at " + Quoted(socket_) + " sent a malformed response"});
        }
        result = handle(response);
        if (result && fd_ < 0) {
          return std::move(*result);  // handle found the agent broken
        }
      }
      // The agent answers one request at a time: nothing may follow the end of this one.
      if (result && decoder.buffered() > 0) {
        return Broken(Error{"the agent at " + Quoted(socket_) + " answered out of turn"});
      }
    }
  }
  return std::move(*result);
}

ErrorOr<std::string> Client::ReadFile(const std::string& path, uint64_t max_bytes) {
  v1::Request request;
  request.mutable_file_read()->set_path(path);
  request.mutable_file_read()->set_max_bytes(max_bytes);
  if (auto sent = SendRequest(request); !sent) {
    return sent.error();
  }
  std::string contents;
  for (;;) {
    auto response = ReadResponse();
    if (!response) {
      return response.error();
    }
    if (response->has_file_data()) {
      if (response->file_data().data().size() > max_bytes - contents.size()) {
        return Broken(Error{"the agent at " + Quoted(socket_) + " sent more of " + Quoted(path) +
                            " than max_bytes"});
      }
      contents += response->file_data().data();
      continue;
    }
    if (response->has_error()) {
      return Error{response->error().message()};
    }
    if (!response->has_file_read_done()) {
      return Broken(Error{"the agent at " + Quoted(socket_) + " answered out of turn"});
    }
    return contents;
  }
}

ErrorOr<Ok> Client::WriteFile(const std::string& path, std::string_view data, uint32_t mode,
                              bool make_parents) {
  v1::Request request;
  v1::FileWrite* write = request.mutable_file_write();
  write->set_path(path);
  write->set_mode(mode);
  write->set_make_parents(make_parents);
  write->set_data(std::string(data.substr(0, kWriteChunk)));
  data.remove_prefix(std::min(data.size(), kWriteChunk));
  write->set_more(!data.empty());
  // The agent answers once, after the last chunk, so all chunks go out first.
  while (!data.empty()) {
    if (auto sent = SendRequest(request); !sent) {
      return sent.error();
    }
    request.Clear();
    v1::FileWriteData* chunk = request.mutable_file_write_data();
    chunk->set_data(std::string(data.substr(0, kWriteChunk)));
    data.remove_prefix(std::min(data.size(), kWriteChunk));
    chunk->set_more(!data.empty());
  }
  return RoundTripDone(request);
}

ErrorOr<std::vector<FileEntry>> Client::List(const std::string& path) {
  v1::Request request;
  request.mutable_file_list()->set_path(path);
  auto response = RoundTrip(request, &v1::Response::has_file_listing);
  if (!response) {
    return response.error();
  }
  return ToFileEntries(response->file_listing());
}

ErrorOr<Ok> Client::MakeDirectory(const std::string& path, uint32_t mode) {
  v1::Request request;
  request.mutable_file_make()->set_path(path);
  request.mutable_file_make()->set_directory(true);
  request.mutable_file_make()->set_mode(mode);
  return RoundTripDone(request);
}

ErrorOr<Ok> Client::MakeSymlink(const std::string& path, const std::string& target) {
  v1::Request request;
  request.mutable_file_make()->set_path(path);
  request.mutable_file_make()->set_link_target(target);
  return RoundTripDone(request);
}

ErrorOr<Ok> Client::Remove(const std::string& path, bool recursive) {
  v1::Request request;
  request.mutable_file_remove()->set_path(path);
  request.mutable_file_remove()->set_recursive(recursive);
  return RoundTripDone(request);
}

ErrorOr<std::string> Client::Logs(uint64_t max_bytes) {
  v1::Request request;
  request.mutable_logs()->set_max_bytes(max_bytes);
  auto response = RoundTrip(request, &v1::Response::has_logs);
  if (!response) {
    return response.error();
  }
  const std::string& data = response->logs().data();
  return data.substr(data.size() - std::min<uint64_t>(data.size(), max_bytes));
}

namespace {

v1::Exec ToExec(const ExecRequest& request) {
  v1::Exec exec;
  for (const std::string& arg : request.argv) {
    exec.add_argv(arg);
  }
  for (const auto& [name, value] : request.env) {
    v1::EnvVar* var = exec.add_env();
    var->set_name(name);
    var->set_value(value);
  }
  exec.set_cwd(request.cwd);
  // Passed on as given, so that the agent, not this client, decides what a service may have.
  exec.set_stdin(request.stdin_data);
  exec.set_timeout_ms(request.timeout_ms);
  exec.set_output_limit_bytes(request.output_limit_bytes);
  if (request.uid) {
    exec.set_uid(*request.uid);
  }
  if (request.gid) {
    exec.set_gid(*request.gid);
  }
  return exec;
}

}  // namespace

ErrorOr<Ok> Client::StartService(const ServiceSpec& spec) {
  v1::Request request;
  v1::ServiceStart* start = request.mutable_service_start();
  start->set_name(spec.name);
  *start->mutable_exec() = ToExec(spec.exec);
  start->set_restart(spec.restart == "never"    ? v1::RESTART_NEVER
                     : spec.restart == "always" ? v1::RESTART_ALWAYS
                                                : v1::RESTART_ON_FAILURE);
  start->set_max_restarts(spec.max_restarts);
  return RoundTripDone(request);
}

ErrorOr<std::vector<ServiceStatus>> Client::ListServices() {
  v1::Request request;
  request.mutable_service_list();
  auto response = RoundTrip(request, &v1::Response::has_services);
  if (!response) {
    return response.error();
  }
  std::vector<ServiceStatus> out;
  for (const v1::ServiceState& s : response->services().services()) {
    ServiceStatus status;
    status.name = s.name();
    switch (s.phase()) {
      case v1::ServiceState::PHASE_RUNNING:
        status.phase = "running";
        break;
      case v1::ServiceState::PHASE_BACKOFF:
        status.phase = "backoff";
        break;
      case v1::ServiceState::PHASE_EXITED:
        status.phase = "exited";
        break;
      case v1::ServiceState::PHASE_FAILED:
        status.phase = "failed";
        break;
      default:
        status.phase = "unknown";
    }
    status.pid = s.pid();
    status.restarts = s.restarts();
    status.exited = s.exited();
    status.exit_code = s.exit_code();
    status.signal = s.signal();
    status.command = s.command();
    out.push_back(std::move(status));
  }
  return out;
}

ErrorOr<std::vector<GuestVolumeOps>> Client::VolumeOps(bool* last) {
  v1::Request request;
  request.mutable_volume_ops();
  auto response = RoundTrip(request, &v1::Response::has_volume_ops);
  if (!response) {
    return response.error();
  }
  if (last != nullptr) {
    *last = response->volume_ops().last();
  }
  std::vector<GuestVolumeOps> out;
  for (const v1::GuestVolume& v : response->volume_ops().volumes()) {
    GuestVolumeOps volume{v.target(), v.watched(), v.detail(), {}};
    for (const v1::VolumeOpCount& c : v.ops()) {
      volume.ops.push_back({c.op(), c.count(), c.failed(), c.bytes(), c.at_least()});
    }
    out.push_back(std::move(volume));
  }
  return out;
}

ErrorOr<std::string> Client::ServiceLogs(const std::string& name, uint64_t max_bytes) {
  v1::Request request;
  request.mutable_logs()->set_max_bytes(max_bytes);
  request.mutable_logs()->set_service(name);
  auto response = RoundTrip(request, &v1::Response::has_logs);
  if (!response) {
    return response.error();
  }
  const std::string& data = response->logs().data();
  return data.substr(data.size() - std::min<uint64_t>(data.size(), max_bytes));
}

ErrorOr<int> Client::Tunnel(uint32_t port) {
  v1::Request request;
  request.mutable_tunnel()->set_port(port);
  if (auto done = RoundTripDone(request); !done) {
    return done.error();
  }
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

ErrorOr<Ok> Client::Signal(int signal) {
  v1::Request request;
  request.mutable_signal()->set_signal(signal);
  return RoundTripDone(request);
}

ErrorOr<Ok> Client::Refresh(const std::string& hostname, const std::string& entropy,
                            int64_t realtime_ns) {
  v1::Request request;
  v1::Refresh* refresh = request.mutable_refresh();
  refresh->set_hostname(hostname);
  refresh->set_entropy(entropy);
  refresh->set_realtime_ns(realtime_ns);
  return RoundTripDone(request);
}

ErrorOr<Ok> Client::Shutdown() {
  v1::Request request;
  request.mutable_shutdown();
  auto done = RoundTripDone(request, kShutdownLimit);
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
  return done;
}

}  // namespace mvm::runtime::agent
