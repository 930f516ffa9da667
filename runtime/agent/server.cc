// The agent's event loop.
//
// One thread and one poll() loop own every piece of state: connections, workload processes and
// their pipes, timeouts, the log ring. Signals (SIGCHLD included) arrive on a signalfd as just
// another descriptor. So reaping, timeouts and output streaming never race each other and need no
// locks, which is what a PID 1 that others must trust should look like; the price is that file
// requests run to completion inline, which is fine for the local files they touch (FIFOs and
// devices are refused, reads are streamed in chunks as the client drains them).

#include "runtime/agent/server.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "runtime/agent/event_loop.h"
#include "runtime/agent/identity.h"

#ifndef MVM_AGENT_VERSION
#error "MVM_AGENT_VERSION must be defined by the build"
#endif

namespace mvm::runtime::agent {
namespace internal {

void Say(const std::string& message) {
  // The log is a host file (the container backend's agent.log) or the VM console, and what a
  // client sends can make the agent talk: past a fixed budget it says so once and stays quiet.
  static size_t spent = 0;
  if (spent >= kLogBudgetBytes) {
    return;
  }
  std::string line = "mvm-agent: " + message + "\n";
  spent += line.size();
  if (spent >= kLogBudgetBytes) {
    line = "mvm-agent: log budget of " + std::to_string(kLogBudgetBytes) +
           " bytes spent; further messages are dropped\n";
  }
  std::fputs(line.c_str(), stderr);
}

int Server::Run() {
  std::vector<pollfd> fds;
  std::vector<Watch> watches;
  for (;;) {
    BuildPoll(fds, watches);
    int ready = poll(fds.data(), fds.size(), PollTimeout());
    if (ready < 0 && errno != EINTR) {
      Say(std::string("poll: ") + std::strerror(errno));
    }
    // Once the agent decided to exit (exit_now_), nothing else is served, however ready.
    for (size_t i = 0; ready > 0 && i < fds.size() && !exit_now_; ++i) {
      if (fds[i].revents != 0) {
        Handle(watches[i], fds[i].revents);
      }
    }
    CheckTimeouts();
    if (exit_now_) {
      break;  // the last exec's client was told (agent_exits); PID 1's exit ends the sandbox
    }
    std::erase_if(connections_, [](const auto& entry) { return entry.second.dead; });
    std::erase_if(execs_,
                  [](const auto& entry) { return entry.second.finished && !entry.second.open(); });
    if (stop_ != StopPhase::kRunning && StopDone()) {
      for (auto& [id, conn] : connections_) {
        if (conn.state == Connection::State::kShutdown) {
          SendDone(conn, 0);
          BecomeIdle(conn);
        }
      }
      if (volumes_ && shutdown_asked_ && stop_ != StopPhase::kLastAsk) {
        stop_ = StopPhase::kLastAsk;
        stop_deadline_ = Clock::now() + kLastAskWait;
        continue;
      }
      break;
    }
  }
  FinalFlush();
  if (options_.listen_fd < 0) {
    unlink(options_.socket_path.c_str());
  }
  return 0;
}

void Server::BuildPoll(std::vector<pollfd>& fds, std::vector<Watch>& watches) {
  fds.clear();
  watches.clear();
  auto add = [&](int fd, short events, Kind kind, uint64_t id) {
    fds.push_back(pollfd{fd, events, 0});
    watches.push_back(Watch{kind, id});
  };
  add(signals_.get(), POLLIN, Kind::kSignals, 0);
  if (volumes_) {
    for (int fd : volumes_->fds()) {
      add(fd, POLLIN, Kind::kVolumes, 0);
    }
  }
  if (accept_paused_until_ && Clock::now() >= *accept_paused_until_) {
    accept_paused_until_.reset();
  }
  if (AcceptsRequests() && connections_.size() < kMaxConnections && !accept_paused_until_) {
    add(listener_.get(), POLLIN, Kind::kListener, 0);
  }
  for (auto& [id, conn] : connections_) {
    if (conn.state == Connection::State::kTunnel) {
      short events = conn.pending() > 0 ? POLLOUT : 0;
      if (Reading(conn)) {
        events |= POLLIN | POLLRDHUP;
      }
      add(conn.fd.get(), events, Kind::kConnection, id);
      // A peer that has ended and has nothing to take stays out of the poll: its hang-up would
      // wake the loop at once, again and again, while the client drains the rest.
      if (conn.peer.valid() && !(conn.peer_eof && conn.to_peer.size() == conn.to_peer_sent)) {
        short peer_events = 0;
        if (conn.peer_connecting || conn.to_peer.size() > conn.to_peer_sent) {
          peer_events |= POLLOUT;
        }
        if (!conn.peer_connecting && !conn.peer_eof && conn.pending() < kMaxPending) {
          peer_events |= POLLIN;
        }
        add(conn.peer.get(), peer_events, Kind::kPeer, id);
      }
      continue;
    }
    short events = POLLRDHUP;
    if (Reading(conn) && AcceptsRequests()) {
      events |= POLLIN;
    }
    if (conn.pending() > 0) {
      events |= POLLOUT;
    }
    add(conn.fd.get(), events, Kind::kConnection, id);
  }
  for (auto& [id, exec] : execs_) {
    // Back-pressure: while the client has a full queue, leave the output in the pipes.
    const Connection* conn = exec.finished ? nullptr : FindConnection(exec.conn_id);
    const bool readable = conn == nullptr || conn->pending() < kMaxPending;
    // A streaming stdin with nothing to write waits for the client, not for the pipe.
    const bool stdin_waits =
        exec.spec.stdin_stream && !exec.stdin_eof && exec.stdin_sent >= exec.spec.stdin_data.size();
    if (exec.in.valid() && !stdin_waits) {
      add(exec.in.get(), POLLOUT, Kind::kStdin, id);
    }
    if (exec.out.valid() && readable) {
      add(exec.out.get(), POLLIN, Kind::kStdout, id);
    }
    if (exec.err.valid() && readable) {
      add(exec.err.get(), POLLIN, Kind::kStderr, id);
    }
    if (exec.status.valid()) {
      add(exec.status.get(), POLLIN, Kind::kStatus, id);
    }
    if (exec.result.valid()) {
      add(exec.result.get(), POLLIN, Kind::kResult, id);
    }
  }
}

int Server::PollTimeout() const {
  if (stop_ != StopPhase::kRunning) {
    return static_cast<int>(kStopPoll.count());
  }
  std::optional<Clock::time_point> next = accept_paused_until_;
  if (auto restart = NextServiceRestart(); restart && (!next || *restart < *next)) {
    next = restart;
  }
  for (const auto& [id, exec] : execs_) {
    if (exec.deadline && !exec.timed_out && !exec.reaped && (!next || *exec.deadline < *next)) {
      next = exec.deadline;
    }
  }
  if (!next) {
    return -1;
  }
  const auto now = Clock::now();
  if (*next <= now) {
    return 0;
  }
  // Rounded up, so the loop does not wake a little early and spin until the deadline.
  return static_cast<int>(
      std::min<int64_t>(std::chrono::ceil<milliseconds>(*next - now).count(), 24 * 3600 * 1000));
}

void Server::Handle(const Watch& watch, short revents) {
  switch (watch.kind) {
    case Kind::kSignals: {
      signalfd_siginfo info;
      while (read(signals_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
        const int signal = static_cast<int>(info.ssi_signo);
        if (signal == SIGCHLD) {
          Reap();
        } else if (signal == SIGTERM || signal == SIGINT || signal == SIGHUP) {
          BeginStop(signal);
        }
        // Any other signal is consumed and ignored: PID 1 must not die of a stray kill.
      }
      return;
    }
    case Kind::kListener:
      Accept();
      return;
    case Kind::kVolumes:
      volumes_->Drain();
      return;
    case Kind::kConnection:
      if (Connection* conn = FindConnection(watch.id)) {
        OnConnection(*conn, revents);
      }
      return;
    case Kind::kPeer:
      if (Connection* conn = FindConnection(watch.id);
          conn != nullptr && conn->state == Connection::State::kTunnel) {
        OnTunnelPeer(*conn, revents);
      }
      return;
    default:
      break;
  }
  auto it = execs_.find(watch.id);
  if (it == execs_.end()) {
    return;
  }
  Exec& exec = it->second;
  switch (watch.kind) {
    case Kind::kStdin:
      WriteStdin(exec);
      break;
    case Kind::kStdout:
      ReadOutput(exec, 0, false);
      break;
    case Kind::kStderr:
      ReadOutput(exec, 1, false);
      break;
    case Kind::kStatus:
      ReadStatus(exec);
      break;
    case Kind::kResult:
      ReadResult(exec);
      break;
    default:
      break;
  }
}

Connection* Server::FindConnection(uint64_t id) {
  auto it = connections_.find(id);
  return it == connections_.end() || it->second.dead ? nullptr : &it->second;
}

void Server::Accept() {
  for (;;) {
    int fd = accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        Say(std::string("accept: ") + std::strerror(errno) + "; pausing new connections");
        accept_paused_until_ = Clock::now() + kAcceptPause;
      }
      return;
    }
    if (connections_.size() >= kMaxConnections) {
      close(fd);  // more clients than a sandbox needs; they can retry
      continue;
    }
    const uint64_t id = next_connection_++;
    Connection& conn = connections_[id];
    conn.id = id;
    conn.fd.Reset(fd);
  }
}

void Server::OnConnection(Connection& conn, short revents) {
  if (conn.state == Connection::State::kTunnel) {
    OnTunnelClient(conn, revents);
    return;
  }
  if (revents & POLLOUT) {
    Flush(conn);
    if (conn.state == Connection::State::kRead) {
      PumpRead(conn);
      if (conn.state == Connection::State::kIdle) {
        HandleFrames(conn);
      }
    }
  }
  if (conn.dead) {
    return;
  }
  if (!Reading(conn)) {
    // Busy (streaming, shutting down): input is not read now, so a hang-up is the client leaving.
    if (revents & (POLLHUP | POLLRDHUP | POLLERR)) {
      Close(conn);
    }
    return;
  }
  if (!(revents & (POLLIN | POLLHUP | POLLRDHUP | POLLERR))) {
    return;
  }
  char buffer[kReadChunk];
  ssize_t n = read(conn.fd.get(), buffer, sizeof buffer);
  if (n < 0) {
    if (errno != EAGAIN && errno != EINTR) {
      Close(conn);
    }
    return;
  }
  if (n == 0) {
    if (conn.decoder.buffered() > 0 || conn.state == Connection::State::kWrite) {
      log_.AppendMarker("connection " + std::to_string(conn.id) +
                        ": client left in the middle of a request");
    }
    Close(conn);
    return;
  }
  conn.decoder.Append(std::string_view(buffer, static_cast<size_t>(n)));
  HandleFrames(conn);
}

bool Server::Reading(const Connection& conn) const {
  if (conn.state == Connection::State::kTunnel) {
    return !conn.peer_connecting && !conn.client_eof &&
           conn.to_peer.size() - conn.to_peer_sent < kMaxPending;
  }
  if (conn.state == Connection::State::kIdle || conn.state == Connection::State::kWrite) {
    return true;
  }
  if (conn.state != Connection::State::kExec) {
    return false;
  }
  auto it = execs_.find(conn.exec_id);
  if (it == execs_.end()) {
    return false;
  }
  const Exec& exec = it->second;
  // A terminal takes resizes after its input ended too.
  return (exec.spec.tty || (exec.spec.stdin_stream && !exec.stdin_eof)) && !exec.finished &&
         exec.spec.stdin_data.size() - exec.stdin_sent < kMaxPending;
}

void Server::HandleFrames(Connection& conn) {
  std::string payload;
  while (!conn.dead && conn.state != Connection::State::kTunnel && Reading(conn)) {
    switch (conn.decoder.Next(payload)) {
      case FrameDecoder::Status::kNeedMore:
        return;
      case FrameDecoder::Status::kTooLarge:
        ProtocolError(conn, "frame of " + std::to_string(conn.decoder.next_length().value_or(0)) +
                                " bytes is larger than the limit of " +
                                std::to_string(kMaxFrameBytes) + " bytes");
        return;
      case FrameDecoder::Status::kFrame:
        Dispatch(conn, payload);
        break;
    }
  }
}

void Server::Dispatch(Connection& conn, const std::string& payload) {
  auto parsed = ParseRequest(payload);
  if (!parsed) {
    ProtocolError(conn, parsed.error().message);
    return;
  }
  const v1::Request& request = *parsed;
  if (stop_ == StopPhase::kLastAsk && request.kind_case() != v1::Request::kVolumeOps &&
      request.kind_case() != v1::Request::kHello && request.kind_case() != v1::Request::kPing) {
    SendError(conn, "the agent is shutting down: it answers only VolumeOps now");
    return;
  }
  if (conn.state == Connection::State::kWrite) {
    if (request.kind_case() != v1::Request::kFileWriteData) {
      ProtocolError(conn,
                    "protocol error: a FileWrite with `more` set must be followed by "
                    "FileWriteData");
      return;
    }
    ContinueWrite(conn, request.file_write_data().data(), request.file_write_data().more());
    return;
  }
  if (conn.state == Connection::State::kExec) {
    if (request.kind_case() != v1::Request::kExecStdin) {
      ProtocolError(conn,
                    "protocol error: an Exec with `stdin_stream` or `tty` set takes only ExecStdin "
                    "until its ExecExit");
      return;
    }
    ContinueStdin(conn, request.exec_stdin());
    return;
  }
  switch (request.kind_case()) {
    case v1::Request::kHello:
      if (request.hello().protocol_version() != v1::PROTOCOL_VERSION_1) {
        // Closed: what a client pipelined behind the Hello was written for another protocol.
        ProtocolError(conn, "protocol version " +
                                std::to_string(request.hello().protocol_version()) +
                                " is not supported; this agent speaks version 1");
        return;
      }
      [[fallthrough]];
    case v1::Request::kPing: {
      v1::Response response;
      v1::AgentInfo* info = response.mutable_info();
      info->set_version(AgentVersion());
      info->set_pid(getpid());
      info->set_uptime_ms(MillisBetween(started_, Clock::now()));
      info->set_protocol_version(v1::PROTOCOL_VERSION_1);
      Send(conn, response);
      return;
    }
    case v1::Request::kExec:
      StartExec(conn, request.exec());
      return;
    case v1::Request::kFileRead:
      StartRead(conn, request.file_read());
      return;
    case v1::Request::kFileWrite:
      StartWrite(conn, request.file_write());
      return;
    case v1::Request::kFileWriteData:
      ProtocolError(conn, "protocol error: FileWriteData without a FileWrite before it");
      return;
    case v1::Request::kExecStdin:
      // Sent before the client read the ExecExit of its streaming Exec: nothing is waiting for it.
      return;
    case v1::Request::kFileList: {
      auto entries = files_.List(request.file_list().path());
      if (!entries) {
        SendError(conn, entries.error().message);
        return;
      }
      v1::Response response;
      // Set even when there are no entries: an empty directory is still a listing.
      v1::FileListing* listing = response.mutable_file_listing();
      for (v1::FileEntry& entry : *entries) {
        *listing->add_entries() = std::move(entry);
      }
      Send(conn, response);
      return;
    }
    case v1::Request::kFileRemove: {
      auto removed = files_.Remove(request.file_remove().path(), request.file_remove().recursive());
      if (!removed) {
        SendError(conn, removed.error().message);
        return;
      }
      SendDone(conn, *removed);
      return;
    }
    case v1::Request::kFileMake: {
      const v1::FileMake& make = request.file_make();
      auto made = make.directory() ? files_.MakeDirectory(make.path(), make.mode())
                                   : files_.MakeSymlink(make.path(), make.link_target());
      if (!made) {
        SendError(conn, made.error().message);
        return;
      }
      SendDone(conn, 1);
      return;
    }
    case v1::Request::kServiceStart:
      StartService(conn, request.service_start());
      return;
    case v1::Request::kServiceList:
      ListServices(conn);
      return;
    case v1::Request::kTunnel:
      StartTunnel(conn, request.tunnel());
      return;
    case v1::Request::kVolumeOps: {
      v1::Response response;
      // Set even with no volume: an agent that watches nothing says so with an empty list.
      v1::VolumeOpsReply* reply = response.mutable_volume_ops();
      if (volumes_) {
        *reply = volumes_->Take();
      }
      last_ask_answered_ = stop_ == StopPhase::kLastAsk;
      reply->set_last(last_ask_answered_);
      Send(conn, response);
      return;
    }
    case v1::Request::kLogs: {
      if (!request.logs().service().empty()) {
        SendServiceLog(conn, request.logs());
        return;
      }
      v1::Response response;
      response.mutable_logs()->set_data(
          log_.Tail(static_cast<size_t>(std::min(request.logs().max_bytes(), kMaxLogReply))));
      response.mutable_logs()->set_dropped_bytes(log_.dropped());
      Send(conn, response);
      return;
    }
    case v1::Request::kSignal: {
      const int signal = request.signal().signal();
      if (signal < 1 || signal >= NSIG) {
        SendError(conn, "signal " + std::to_string(signal) + " is out of range 1.." +
                            std::to_string(NSIG - 1));
        return;
      }
      SendDone(conn, SignalWorkloads(signal));
      return;
    }
    case v1::Request::kRefresh: {
      auto refreshed = ApplyRefresh(request.refresh());
      if (!refreshed) {
        SendError(conn, refreshed.error().message);
        return;
      }
      SendDone(conn, 0);
      return;
    }
    case v1::Request::kShutdown:
      conn.state = Connection::State::kShutdown;
      shutdown_asked_ = true;
      BeginStop(SIGTERM);
      return;
    case v1::Request::KIND_NOT_SET:  // ParseRequest refuses these
      ProtocolError(conn, "malformed request: no request kind is set");
      return;
  }
}

void Server::StartRead(Connection& conn, const v1::FileRead& request) {
  auto file = files_.OpenForRead(request.path(), request.max_bytes());
  if (!file) {
    SendError(conn, file.error().message);
    return;
  }
  conn.state = Connection::State::kRead;
  conn.file = std::move(file->fd);
  conn.path = request.path();
  conn.file_bytes = 0;
  conn.file_limit = request.max_bytes();
  PumpRead(conn);
}

void Server::PumpRead(Connection& conn) {
  std::string chunk;
  while (!conn.dead && conn.state == Connection::State::kRead && conn.pending() < kMaxPending) {
    chunk.resize(kFileChunk);
    ssize_t n = read(conn.file.get(), chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      const std::string reason = std::strerror(errno);
      conn.file.Reset();
      SendError(conn, Quote(conn.path) + ": reading: " + reason);
      BecomeIdle(conn);
      return;
    }
    if (n == 0) {
      conn.file.Reset();
      v1::Response response;
      response.mutable_file_read_done()->set_size(conn.file_bytes);
      Send(conn, response);
      BecomeIdle(conn);
      return;
    }
    conn.file_bytes += static_cast<uint64_t>(n);
    if (conn.file_bytes > conn.file_limit) {
      conn.file.Reset();
      SendError(conn, Quote(conn.path) + ": file grew past max_bytes (" +
                          std::to_string(conn.file_limit) + ") while it was read");
      BecomeIdle(conn);
      return;
    }
    chunk.resize(static_cast<size_t>(n));
    v1::Response response;
    response.mutable_file_data()->set_data(std::move(chunk));
    Send(conn, response);
  }
}

void Server::StartWrite(Connection& conn, const v1::FileWrite& request) {
  conn.path = request.path();
  conn.write_error.clear();
  auto file = files_.OpenForWrite(request.path(), request.mode(), request.make_parents());
  if (file) {
    conn.file = std::move(*file);
  } else {
    conn.write_error = file.error().message;
  }
  conn.state = Connection::State::kWrite;
  ContinueWrite(conn, request.data(), request.more());
}

void Server::ContinueWrite(Connection& conn, std::string_view data, bool more) {
  while (conn.file.valid() && !data.empty()) {
    ssize_t n = write(conn.file.get(), data.data(), data.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      conn.write_error = Quote(conn.path) + ": writing: " + std::strerror(errno);
      conn.file.Reset();
      break;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  if (more) {
    return;
  }
  if (conn.file.valid() && close(conn.file.Release()) != 0 && conn.write_error.empty()) {
    conn.write_error = Quote(conn.path) + ": writing: " + std::strerror(errno);
  }
  if (conn.write_error.empty()) {
    SendDone(conn, 1);
  } else {
    SendError(conn, std::move(conn.write_error));
  }
  BecomeIdle(conn);
}

void Server::Send(Connection& conn, const v1::Response& response) {
  if (conn.dead) {
    return;
  }
  std::string payload;
  if (response.ByteSizeLong() > kMaxFrameBytes) {
    v1::Response error;
    error.mutable_error()->set_message("the reply is larger than one frame; ask for less");
    payload = error.SerializeAsString();
  } else {
    payload = response.SerializeAsString();
  }
  if (conn.out_sent > 0 && conn.out_sent == conn.out.size()) {
    conn.out.clear();
    conn.out_sent = 0;
  }
  conn.out += EncodeFrame(payload);
  Flush(conn);
}

void Server::SendError(Connection& conn, std::string message) {
  v1::Response response;
  response.mutable_error()->set_message(std::move(message));
  Send(conn, response);
}

void Server::SendDone(Connection& conn, uint64_t count) {
  v1::Response response;
  response.mutable_done()->set_count(count);
  Send(conn, response);
}

void Server::Flush(Connection& conn) {
  while (!conn.dead && conn.pending() > 0) {
    ssize_t n = send(conn.fd.get(), conn.out.data() + conn.out_sent, conn.pending(),
                     MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno != EAGAIN) {
        Close(conn);
      }
      return;
    }
    conn.out_sent += static_cast<size_t>(n);
  }
  if (conn.dead) {
    return;
  }
  if (conn.out_sent == conn.out.size()) {
    conn.out.clear();
    conn.out_sent = 0;
  } else if (conn.out_sent > kMaxPending) {
    conn.out.erase(0, conn.out_sent);
    conn.out_sent = 0;
  }
}

void Server::ProtocolError(Connection& conn, const std::string& message) {
  log_.AppendMarker("connection " + std::to_string(conn.id) + ": " + message +
                    "; connection closed");
  Say("connection " + std::to_string(conn.id) + ": " + message);
  SendError(conn, message + "; closing the connection");
  Close(conn);
}

void Server::Close(Connection& conn) {
  if (conn.dead) {
    return;
  }
  if (conn.state == Connection::State::kExec) {
    // The workload keeps running to its end or timeout; its output still reaches the log. A stdin
    // the client was streaming ends with it. A terminal is hung up, as when its window closes: the
    // master closes, and the session gets SIGHUP from the kernel.
    if (auto it = execs_.find(conn.exec_id); it != execs_.end()) {
      it->second.conn_id = 0;
      it->second.stdin_eof = true;
      if (it->second.spec.tty) {
        it->second.in.Reset();
        it->second.out.Reset();
      }
    }
  }
  conn.dead = true;
  conn.fd.Reset();
  conn.file.Reset();
  conn.peer.Reset();
}

void Server::BecomeIdle(Connection& conn) {
  conn.state = Connection::State::kIdle;
  conn.exec_id = 0;
  conn.file.Reset();
}

void Server::FinalFlush() {
  const auto deadline = Clock::now() + kFlushGrace;
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<Connection*> conns;
    for (auto& [id, conn] : connections_) {
      if (!conn.dead && conn.pending() > 0) {
        fds.push_back(pollfd{conn.fd.get(), POLLOUT, 0});
        conns.push_back(&conn);
      }
    }
    const auto now = Clock::now();
    if (fds.empty() || now >= deadline) {
      return;
    }
    const auto left = std::chrono::ceil<milliseconds>(deadline - now).count();
    if (poll(fds.data(), fds.size(), static_cast<int>(left)) <= 0) {
      continue;
    }
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents & (POLLHUP | POLLERR)) {
        Close(*conns[i]);
      } else if (fds[i].revents & POLLOUT) {
        Flush(*conns[i]);
      }
    }
  }
}

}  // namespace internal
namespace {

// Descriptors 0-2 must be open, or the first pipes would take their numbers and a workload's
// stdio would alias the agent's sockets.
void EnsureStandardDescriptors() {
  while (fcntl(STDERR_FILENO, F_GETFD) < 0 || fcntl(STDIN_FILENO, F_GETFD) < 0 ||
         fcntl(STDOUT_FILENO, F_GETFD) < 0) {
    int fd = open("/dev/null", O_RDWR);
    if (fd < 0) {
      int fds[2];
      if (pipe(fds) != 0) {
        return;
      }
      fd = fds[0];
    }
    if (fd > STDERR_FILENO) {
      close(fd);
      return;  // cannot happen while one of 0-2 is free; never loop on it
    }
  }
}

// A listening socket the agent was handed (--listen-fd): its name lives where the sandbox cannot
// reach it.
ErrorOr<os::UniqueFd> AdoptListener(int fd) {
  int listening = 0;
  int domain = 0;
  socklen_t size = sizeof listening;
  socklen_t domain_size = sizeof domain;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) != 0 ||
      getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &domain_size) != 0 || listening == 0 ||
      domain != AF_UNIX) {
    return Error{"--listen-fd " + std::to_string(fd) + " is not a listening unix socket"};
  }
  return os::UniqueFd(fd);
}

}  // namespace

const char* AgentVersion() { return MVM_AGENT_VERSION; }

ErrorOr<int> RunAgent(const AgentOptions& options) {
  // Not dumpable: its memory, fds and environment are then out of reach of every process that
  // lacks CAP_SYS_PTRACE over it, which is every workload, although they run as the same uid.
  if (prctl(PR_SET_DUMPABLE, 0) != 0) {
    return Error{std::string("prctl(PR_SET_DUMPABLE): ") + std::strerror(errno)};
  }
  EnsureStandardDescriptors();
  // Whatever the agent inherited beyond stdio must not leak into workloads. Best effort: the call
  // can be missing from an old kernel or a seccomp list, and then only hygiene is lost.
  (void)close_range(STDERR_FILENO + 1, ~0U, CLOSE_RANGE_CLOEXEC);

  // Every signal that is not a fault is blocked and read from the signalfd, so none can kill the
  // agent (PID 1 or not) and SIGCHLD is handled in the loop like any other event.
  sigset_t blocked;
  sigfillset(&blocked);
  for (int fault : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT}) {
    sigdelset(&blocked, fault);
  }
  if (sigprocmask(SIG_BLOCK, &blocked, nullptr) != 0) {
    return Error{std::string("sigprocmask: ") + std::strerror(errno)};
  }
  os::UniqueFd signals(signalfd(-1, &blocked, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!signals.valid()) {
    return Error{std::string("signalfd: ") + std::strerror(errno)};
  }
  // As PID 1 orphans come to the agent anyway; elsewhere (tests, a plain host process) ask for
  // them, so that a workload's background processes are still reaped and signalled.
  if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    return Error{std::string("prctl(PR_SET_CHILD_SUBREAPER): ") + std::strerror(errno)};
  }

  auto files = SandboxFiles::Open(options.files_root);
  if (!files) {
    return files.error();
  }
  ErrorOr<os::UniqueFd> listener =
      options.listen_fd >= 0 ? AdoptListener(options.listen_fd) : ListenUnix(options.socket_path);
  if (!listener) {
    return listener.error();
  }
  // The event loop accepts without blocking, and no workload may inherit the listener.
  const int flags = fcntl(listener->get(), F_GETFL);
  if (flags < 0 || fcntl(listener->get(), F_SETFL, flags | O_NONBLOCK) != 0 ||
      fcntl(listener->get(), F_SETFD, FD_CLOEXEC) != 0) {
    return Error{std::string("the listening socket: fcntl: ") + std::strerror(errno)};
  }
  // Before the first client: no workload runs before its volumes are watched.
  std::unique_ptr<GuestVolumes> volumes;
  if (!options.watch_volumes.empty()) {
    volumes = std::make_unique<GuestVolumes>(options.watch_volumes);
  }
  if (options.on_listening) {
    options.on_listening();
  }
  internal::Server server(options, std::move(*files), std::move(*listener), std::move(signals),
                          std::move(volumes));
  return server.Run();
}

}  // namespace mvm::runtime::agent
