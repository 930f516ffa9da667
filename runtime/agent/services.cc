// Services and tunnels, the agent's side of `mvmctl up` (docs/services.md): commands that run
// detached from any client and are started again by their restart policy, and connections that
// relay a host client's bytes to a TCP port on the sandbox's own loopback.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "ir/support/os/errno_text.h"
#include "runtime/agent/event_loop.h"

namespace mvm::runtime::agent::internal {

namespace {

bool IsServiceName(std::string_view name) {
  if (name.empty() || name.size() > 63 || name.front() == '-') {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

RestartMode ModeOf(v1::Restart restart) {
  switch (restart) {
    case v1::RESTART_NEVER:
      return RestartMode::kNever;
    case v1::RESTART_ALWAYS:
      return RestartMode::kAlways;
    default:
      return RestartMode::kOnFailure;
  }
}

}  // namespace

void Server::AppendServiceMarker(const std::string& name, const std::string& line) {
  log_.AppendMarker("service " + name + ": " + line);
  if (auto it = services_.find(name); it != services_.end()) {
    it->second.log.AppendMarker(line);
  }
}

void Server::StartService(Connection& conn, const v1::ServiceStart& request) {
  const std::string& name = request.name();
  if (stop_ != StopPhase::kRunning) {
    SendError(conn, "the agent is stopping; no service starts now");
    return;
  }
  if (!IsServiceName(name)) {
    SendError(conn, "service name " + Quote(name) + " is not `[a-z0-9][a-z0-9-]{0,62}`");
    return;
  }
  if (services_.count(name) != 0) {
    SendError(conn, "service " + Quote(name) + " is started already");
    return;
  }
  if (services_.size() >= kMaxServices) {
    SendError(conn, "an agent runs at most " + std::to_string(kMaxServices) + " services");
    return;
  }
  if (request.max_restarts() > kMaxRestartsLimit) {
    SendError(conn, "max_restarts " + std::to_string(request.max_restarts()) +
                        " is more than the limit of " + std::to_string(kMaxRestartsLimit));
    return;
  }
  const v1::Exec& exec = request.exec();
  if (exec.timeout_ms() != 0 || !exec.stdin().empty() || exec.stdin_stream() || exec.tty()) {
    SendError(conn,
              "a service runs until stopped and reads no stdin: leave `timeout_ms`, `stdin`, "
              "`stdin_stream` and `tty` unset");
    return;
  }
  auto spec = CheckExec(exec);
  if (!spec) {
    SendError(conn, spec.error().message);
    return;
  }
  Service& service = services_[name];
  service.name = name;
  service.spec = std::move(*spec);
  service.policy.mode = ModeOf(request.restart());
  service.policy.max_restarts = request.max_restarts();
  auto id = SpawnDetached(service.spec, name);
  if (!id) {
    services_.erase(name);
    SendError(conn, "service " + Quote(name) + ": " + id.error().message);
    return;
  }
  service.exec_id = *id;
  AppendServiceMarker(name, "started (pid " + std::to_string(execs_[*id].pid) +
                                ", restart=" + std::string(RestartModeName(service.policy.mode)) +
                                "): " + service.spec.display);
  SendDone(conn, 1);
}

void Server::OnServiceExit(const std::string& name, int exit_code, int signal, bool failed) {
  auto it = services_.find(name);
  if (it == services_.end()) {
    return;
  }
  Service& service = it->second;
  service.exec_id = 0;
  service.exited = true;
  service.exit_code = exit_code;
  service.signal = signal;
  if (stop_ != StopPhase::kRunning) {
    return;
  }
  const auto delay = NextRestart(service.policy, service.restarts, failed);
  if (!delay) {
    const bool wanted = service.policy.mode == RestartMode::kAlways ||
                        (service.policy.mode == RestartMode::kOnFailure && failed);
    if (wanted) {
      service.failed = true;
      AppendServiceMarker(name, "not restarted: " + std::to_string(service.restarts) +
                                    " restarts, the most its policy allows");
    } else {
      AppendServiceMarker(name, "not restarted (restart=" +
                                    std::string(RestartModeName(service.policy.mode)) + ")");
    }
    return;
  }
  service.restart_at = Clock::now() + *delay;
  AppendServiceMarker(name, "restarting in " + std::to_string(delay->count()) + " ms (restart " +
                                std::to_string(service.restarts + 1) + " of at most " +
                                std::to_string(service.policy.max_restarts) + ")");
}

std::optional<Clock::time_point> Server::NextServiceRestart() const {
  std::optional<Clock::time_point> next;
  for (const auto& [name, service] : services_) {
    if (service.restart_at && (!next || *service.restart_at < *next)) {
      next = service.restart_at;
    }
  }
  return next;
}

void Server::RestartDueServices() {
  if (stop_ != StopPhase::kRunning) {
    return;
  }
  const auto now = Clock::now();
  for (auto& [name, service] : services_) {
    if (!service.restart_at || *service.restart_at > now) {
      continue;
    }
    service.restart_at.reset();
    ++service.restarts;
    auto id = SpawnDetached(service.spec, name);
    if (!id) {
      AppendServiceMarker(name, "cannot restart: " + id.error().message);
      OnServiceExit(name, 127, 0, true);
      continue;
    }
    service.exec_id = *id;
    AppendServiceMarker(name, "restarted (pid " + std::to_string(execs_[*id].pid) + ")");
  }
}

void Server::ListServices(Connection& conn) {
  v1::Response response;
  v1::ServiceListing* listing = response.mutable_services();
  for (const auto& [name, service] : services_) {
    v1::ServiceState* state = listing->add_services();
    state->set_name(name);
    state->set_command(service.spec.display);
    state->set_restarts(service.restarts);
    if (service.exec_id != 0) {
      state->set_phase(v1::ServiceState::PHASE_RUNNING);
      if (auto it = execs_.find(service.exec_id); it != execs_.end()) {
        state->set_pid(std::max(it->second.pid, 0));
      }
    } else if (service.restart_at) {
      state->set_phase(v1::ServiceState::PHASE_BACKOFF);
    } else {
      state->set_phase(service.failed ? v1::ServiceState::PHASE_FAILED
                                      : v1::ServiceState::PHASE_EXITED);
    }
    state->set_exited(service.exited);
    state->set_exit_code(service.exit_code);
    state->set_signal(service.signal);
  }
  Send(conn, response);
}

void Server::SendServiceLog(Connection& conn, const v1::Logs& request) {
  auto it = services_.find(request.service());
  if (it == services_.end()) {
    std::string known;
    for (const auto& [name, service] : services_) {
      known += (known.empty() ? "" : ", ") + name;
    }
    SendError(conn, "no service " + Quote(request.service()) + " in this sandbox" +
                        (known.empty() ? " (it has none)" : " (it has: " + known + ")"));
    return;
  }
  v1::Response response;
  response.mutable_logs()->set_data(
      it->second.log.Tail(static_cast<size_t>(std::min(request.max_bytes(), kMaxLogReply))));
  response.mutable_logs()->set_dropped_bytes(it->second.log.dropped());
  Send(conn, response);
}

void Server::StartTunnel(Connection& conn, const v1::Tunnel& request) {
  const uint32_t port = request.port();
  if (port < 1 || port > 65535) {
    SendError(conn, "port " + std::to_string(port) + " is outside 1..65535");
    return;
  }
  os::UniqueFd peer(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!peer.valid()) {
    SendError(conn, "cannot open a socket for port " + std::to_string(port) + ": " +
                        os::ErrnoText(errno));
    return;
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  conn.peer = std::move(peer);
  conn.tunnel_port = port;
  conn.to_peer.clear();
  conn.to_peer_sent = 0;
  conn.client_eof = false;
  conn.peer_eof = false;
  conn.state = Connection::State::kTunnel;
  conn.peer_connecting = false;
  if (::connect(conn.peer.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) ==
      0) {
    TunnelConnected(conn, 0);
  } else if (errno == EINPROGRESS) {
    conn.peer_connecting = true;  // answered once the peer's socket is writable
  } else {
    TunnelConnected(conn, errno);
  }
}

void Server::TunnelConnected(Connection& conn, int error) {
  socklen_t size = sizeof error;
  if (conn.peer_connecting &&
      ::getsockopt(conn.peer.get(), SOL_SOCKET, SO_ERROR, &error, &size) != 0) {
    error = errno;
  }
  if (error != 0) {
    conn.peer.Reset();
    conn.peer_connecting = false;
    BecomeIdle(conn);
    SendError(conn, "cannot connect to port " + std::to_string(conn.tunnel_port) +
                        " in the sandbox: " + os::ErrnoText(error) +
                        "; is the service listening on 127.0.0.1 (or 0.0.0.0)?");
    return;
  }
  conn.peer_connecting = false;
  SendDone(conn, 0);
  conn.to_peer = conn.decoder.TakeBuffered();
  FlushToPeer(conn);
}

void Server::FlushToPeer(Connection& conn) {
  while (conn.peer.valid() && conn.to_peer_sent < conn.to_peer.size()) {
    ssize_t n = ::send(conn.peer.get(), conn.to_peer.data() + conn.to_peer_sent,
                       conn.to_peer.size() - conn.to_peer_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      if (errno != EAGAIN) {
        Close(conn);  // the service reset the connection: nothing more can reach it
      }
      return;
    }
    conn.to_peer_sent += static_cast<size_t>(n);
  }
  if (conn.to_peer_sent == conn.to_peer.size()) {
    conn.to_peer.clear();
    conn.to_peer_sent = 0;
  }
  MaybeEndTunnel(conn);
}

void Server::OnTunnelClient(Connection& conn, short revents) {
  if (revents & POLLOUT) {
    Flush(conn);
  }
  if (conn.dead) {
    return;
  }
  if ((revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR)) && !conn.client_eof) {
    char buffer[kReadChunk];
    const size_t room =
        kMaxPending - std::min(kMaxPending, conn.to_peer.size() - conn.to_peer_sent);
    ssize_t n = ::read(conn.fd.get(), buffer, std::min(sizeof buffer, std::max<size_t>(room, 1)));
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      Close(conn);
      return;
    }
    if (n == 0) {
      conn.client_eof = true;
    } else if (n > 0) {
      conn.to_peer.append(buffer, static_cast<size_t>(n));
    }
    FlushToPeer(conn);
    return;
  }
  if ((revents & (POLLHUP | POLLERR)) && conn.client_eof) {
    Close(conn);  // gone entirely: what the service still sends has nowhere to go
    return;
  }
  MaybeEndTunnel(conn);
}

void Server::OnTunnelPeer(Connection& conn, short revents) {
  if (conn.peer_connecting) {
    if (revents & (POLLOUT | POLLERR | POLLHUP)) {
      TunnelConnected(conn, 0);
    }
    return;
  }
  if (revents & POLLOUT) {
    FlushToPeer(conn);
  }
  if (conn.dead || !conn.peer.valid()) {
    return;
  }
  if ((revents & (POLLIN | POLLHUP | POLLERR)) && !conn.peer_eof) {
    char buffer[kReadChunk];
    ssize_t n = ::read(conn.peer.get(), buffer, sizeof buffer);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      return;
    }
    if (n <= 0) {
      conn.peer_eof = true;
    } else {
      conn.out.append(buffer, static_cast<size_t>(n));
      Flush(conn);
    }
  }
  MaybeEndTunnel(conn);
}

void Server::MaybeEndTunnel(Connection& conn) {
  if (conn.dead || conn.state != Connection::State::kTunnel) {
    return;
  }
  if (conn.peer_eof && conn.pending() == 0) {
    Close(conn);
    return;
  }
  if (conn.client_eof && conn.to_peer.empty() && conn.peer.valid()) {
    ::shutdown(conn.peer.get(), SHUT_WR);
  }
}

}  // namespace mvm::runtime::agent::internal
