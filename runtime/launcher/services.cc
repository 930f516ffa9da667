// What `mvmctl up` adds to a started sandbox (docs/services.md): its plan's services, started by
// the agent with their restart policies, and its ports, published on the host's loopback by a ports
// helper that relays each connection through an agent Tunnel, the same way on every backend.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <map>
#include <thread>

#include "ir/support/os/errno_text.h"
#include "runtime/agent/restart_policy.h"
#include "runtime/launcher/internal.h"

namespace mvm::runtime {

namespace fs = std::filesystem;

namespace {

/// Connections one ports helper relays at once: the agent serves 32 connections in all, and
/// `exec`, `logs` and `fs` need some of them.
constexpr int kMaxRelayed = 16;

os::UniqueFd Listen(int port, std::string& error) {
  os::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    error = "socket: " + os::ErrnoText(errno);
    return {};
  }
  const int on = 1;
  (void)::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(fd.get(), 64) != 0) {
    error = os::ErrnoText(errno);
    return {};
  }
  return fd;
}

int BoundPort(int fd) {
  sockaddr_in address{};
  socklen_t size = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
    return 0;
  }
  return ntohs(address.sin_port);
}

enum PortsStep { kBounding, kCaps, kNoNewPrivs };

}  // namespace

ErrorOr<std::vector<PublishRequest>> ParsePublish(const std::vector<std::string>& flags) {
  std::vector<PublishRequest> out;
  auto number = [](std::string_view text) -> int {
    if (text.empty() || text.size() > 5 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return -1;
    }
    const int value = std::stoi(std::string(text));
    return value >= 1 && value <= 65535 ? value : -1;
  };
  for (const std::string& flag : flags) {
    const size_t colon = flag.find(':');
    const int guest = number(std::string_view(flag).substr(0, colon));
    const int host =
        colon == std::string::npos ? 0 : number(std::string_view(flag).substr(colon + 1));
    if (guest < 0 || host < 0) {
      return MakeError(ErrorKind::kUsage,
                       "`--publish " + flag +
                           "` is not `GUEST:HOST` (ports 1..65535), e.g. `--publish 8080:18080`");
    }
    out.push_back({guest, host});
  }
  return out;
}

ErrorOr<BoundPorts> BindPorts(const plan::v1::ExecutionPlan& plan,
                              const std::vector<PublishRequest>& publish) {
  // Every port the workload declares, once: `ports=` and each service's `port`.
  std::map<int, int> wanted;  // guest -> host (0: ephemeral)
  for (int port : plan.workload().ports()) {
    wanted[port] = 0;
  }
  for (const ir::v1::Service& s : plan.workload().services()) {
    if (s.has_port()) {
      wanted[s.port()] = 0;
    }
  }
  for (const PublishRequest& p : publish) {
    auto it = wanted.find(p.guest_port);
    if (it == wanted.end()) {
      std::string declared;
      for (const auto& [guest, host] : wanted) {
        declared += (declared.empty() ? "" : ", ") + std::to_string(guest);
      }
      return MakeError(
          ErrorKind::kUsage,
          "`--publish " + std::to_string(p.guest_port) + ":" + std::to_string(p.host_port) +
              "`: workload `" + plan.workload().id() + "` does not declare guest port " +
              std::to_string(p.guest_port) +
              (declared.empty() ? " (it declares none)" : " (it declares " + declared + ")") +
              "; add it to `ports=` or a service's `port=`");
    }
    it->second = p.host_port;
  }
  BoundPorts bound;
  for (const auto& [guest, host] : wanted) {
    std::string error;
    os::UniqueFd fd = Listen(host, error);
    if (!fd.valid()) {
      if (host == 0) {
        return Error{"cannot listen for guest port " + std::to_string(guest) +
                     " on 127.0.0.1: " + error};
      }
      return Error{"cannot publish guest port " + std::to_string(guest) +
                   " on 127.0.0.1:" + std::to_string(host) + ": " + error +
                   (error.find("in use") != std::string::npos
                        ? "; another process listens there: choose another with `--publish " +
                              std::to_string(guest) +
                              ":PORT`, or leave it out for an ephemeral "
                              "port"
                        : "")};
    }
    bound.ports.push_back({guest, BoundPort(fd.get()), "127.0.0.1"});
    bound.fds.push_back(std::move(fd));
  }
  return bound;
}

ErrorOr<Ok> Serve(const LauncherOptions& options, Sandbox& sandbox, const AdmittedPlan& admitted,
                  BoundPorts ports, audit::Log& audit, bool resumed) {
  SandboxRecord& r = SandboxAccess::Record(sandbox);
  const plan::v1::ExecutionPlan& p = admitted.verified.plan;
  if (!ports.ports.empty()) {
    backends::HelperSpec spec;
    spec.role = "ports";
    spec.program = "/proc/self/exe";
    spec.argv = {"mvm-ports", std::string(kHelperFlag), "ports",
                 fs::absolute(options.state.root).lexically_normal().string(), r.name};
    for (size_t i = 0; i < ports.ports.size(); ++i) {
      spec.argv.push_back(std::to_string(ports.ports[i].guest_port));
      spec.fds.push_back(ports.fds[i].get());
    }
    spec.dies_with_parent = !r.detached;
    spec.own_session = true;
    spec.confine = [](const backends::HelperChild& child) {
      if (!backends::EmptyCapabilityBoundingSet()) {
        child.Fail(kBounding);
      }
      if (!backends::ClearCapabilities()) {
        child.Fail(kCaps);
      }
      if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        child.Fail(kNoNewPrivs);
      }
    };
    spec.steps = {"empty its capability bounding set", "drop its capabilities", "set no_new_privs"};
    auto helper = backends::StartHelper(spec);
    ports.fds.clear();  // the helper's now
    if (!helper) {
      return Error{"cannot start the ports helper: " + helper.error().message};
    }
    (void)helper->process.Release();  // ended by pid and start time, like every recorded helper
    r.helpers.push_back(helper->record);
    r.ports = ports.ports;
    for (const SandboxRecord::PublishedPort& port : r.ports) {
      (void)audit.Append("port-publish", {{"sandbox", r.name},
                                          {"guest_port", port.guest_port},
                                          {"host", port.host_address},
                                          {"host_port", port.host_port}});
    }
  }
  std::vector<agent::ServiceStatus> running;
  if (resumed && p.workload().services_size() > 0) {
    auto listed = sandbox.agent().ListServices();
    if (!listed) {
      return Error{"cannot list the restored VM's services: " + listed.error().message};
    }
    running = std::move(*listed);
  }
  for (const ir::v1::Service& s : p.workload().services()) {
    auto found = std::find_if(running.begin(), running.end(),
                              [&](const agent::ServiceStatus& st) { return st.name == s.name(); });
    if (found != running.end()) {
      // The guest's own report: its supervisor came back with the VM's memory.
      (void)audit.Append("service-resume", {{"sandbox", r.name},
                                            {"service", s.name()},
                                            {"phase", found->phase},
                                            {"restarts", found->restarts},
                                            {"reported_by", "guest"}});
      r.services.push_back({s.name(), s.restart().empty() ? "on-failure" : s.restart()});
      continue;
    }
    agent::ServiceSpec spec;
    spec.name = s.name();
    spec.exec.argv.assign(s.command().begin(), s.command().end());
    for (const auto& [k, v] : p.workload().env()) {
      spec.exec.env.emplace_back(k, v);
    }
    PrepareSandboxExec(r, spec.exec, /*cwd_given=*/false);
    std::sort(spec.exec.env.begin(), spec.exec.env.end());
    spec.restart = s.restart().empty() ? "on-failure" : s.restart();
    spec.max_restarts =
        s.has_max_restarts() ? static_cast<uint32_t>(s.max_restarts()) : agent::kDefaultMaxRestarts;
    auto started = sandbox.agent().StartService(spec);
    nlohmann::json fields = {{"sandbox", r.name},
                             {"service", s.name()},
                             {"command", nlohmann::json(spec.exec.argv)},
                             {"restart", spec.restart},
                             {"max_restarts", spec.max_restarts}};
    if (!started) {
      fields["message"] = started.error().message;
      (void)audit.Append("service-refused", fields);
      return Error{"cannot start service `" + s.name() + "`: " + started.error().message};
    }
    (void)audit.Append("service-start", fields);
    r.services.push_back({s.name(), spec.restart});
  }
  return WriteRecord(options.state, r);
}

void AuditServiceChanges(const std::string& sandbox,
                         const std::vector<agent::ServiceStatus>& before,
                         const std::vector<agent::ServiceStatus>& now, audit::Log& audit) {
  for (const agent::ServiceStatus& s : now) {
    auto it = std::find_if(before.begin(), before.end(),
                           [&](const agent::ServiceStatus& b) { return b.name == s.name; });
    const uint32_t restarts_before = it == before.end() ? 0 : it->restarts;
    const std::string phase_before = it == before.end() ? "running" : it->phase;
    if (s.restarts == restarts_before && s.phase == phase_before) {
      continue;
    }
    nlohmann::json fields = {{"sandbox", sandbox},
                             {"service", s.name},
                             {"phase", s.phase},
                             {"restarts", s.restarts},
                             {"reported_by", "guest"}};
    if (s.exited) {
      fields["exit_code"] = s.exit_code;
      fields["signal"] = s.signal;
    }
    (void)audit.Append(s.restarts != restarts_before ? "service-restart" : "service-exit", fields);
  }
}

namespace internal {

namespace {

/// Relays bytes both ways until both directions have ended (or one fails); each side's end of
/// file becomes a shutdown of the other's writing half.
void Relay(int a, int b) {
  char buffer[64 << 10];
  bool open_from[2] = {true, true};
  const int fds[2] = {a, b};
  while (open_from[0] || open_from[1]) {
    pollfd p[2] = {};
    int count = 0;
    int side[2] = {0, 0};
    for (int i = 0; i < 2; ++i) {
      if (open_from[i]) {
        p[count] = {fds[i], POLLIN, 0};
        side[count++] = i;
      }
    }
    if (::poll(p, static_cast<nfds_t>(count), -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;
    }
    for (int k = 0; k < count; ++k) {
      if (p[k].revents == 0) {
        continue;
      }
      const int from = side[k];
      const int to = fds[1 - from];
      const ssize_t n = ::read(fds[from], buffer, sizeof buffer);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        continue;
      }
      if (n <= 0) {
        open_from[from] = false;
        ::shutdown(to, SHUT_WR);
        if (n < 0) {
          return;
        }
        continue;
      }
      for (ssize_t sent = 0; sent < n;) {
        const ssize_t w = ::send(to, buffer + sent, static_cast<size_t>(n - sent), MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) {
          continue;
        }
        if (w <= 0) {
          return;
        }
        sent += w;
      }
    }
  }
}

}  // namespace

void AuditServicesAtStop(const SandboxRecord& record, agent::Client& agent, audit::Log& audit) {
  if (record.services.empty()) {
    return;
  }
  auto list = agent.ListServices();
  if (!list) {
    return;
  }
  for (const agent::ServiceStatus& s : *list) {
    nlohmann::json fields = {{"sandbox", record.name},
                             {"service", s.name},
                             {"phase", s.phase},
                             {"restarts", s.restarts},
                             {"reported_by", "guest"}};
    if (s.exited) {
      fields["exit_code"] = s.exit_code;
      fields["signal"] = s.signal;
    }
    (void)audit.Append("service-stop", fields);
  }
}

int RunPortsHelper(const StateDir& state, const std::string& name, const std::vector<int>& guest) {
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGINT, SIG_IGN);
  std::signal(SIGHUP, SIG_IGN);
  const fs::path socket = state.AgentSocket(name);
  std::atomic<int> active{0};
  std::vector<pollfd> listeners;
  for (size_t i = 0; i < guest.size(); ++i) {
    listeners.push_back({static_cast<int>(3 + i), POLLIN, 0});
  }
  for (;;) {
    if (::poll(listeners.data(), listeners.size(), -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      return 1;
    }
    for (size_t i = 0; i < listeners.size(); ++i) {
      if ((listeners[i].revents & POLLIN) == 0) {
        continue;
      }
      const int client = ::accept4(listeners[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) {
        if (errno == EMFILE || errno == ENFILE) {
          ::usleep(100000);  // out of descriptors: a pause, not a spin
        }
        continue;
      }
      if (active.load() >= kMaxRelayed) {
        ::close(client);  // bounded: the client sees a reset and may retry
        continue;
      }
      ++active;
      std::thread([&active, socket, client, port = guest[i]] {
        const os::UniqueFd from(client);
        auto agent = agent::Client::Connect(socket, std::chrono::milliseconds(2000));
        if (agent) {
          if (auto tunnel = agent->Tunnel(static_cast<uint32_t>(port))) {
            const os::UniqueFd to(*tunnel);
            Relay(from.get(), to.get());
          }
        }
        --active;
      }).detach();
    }
  }
}

}  // namespace internal

}  // namespace mvm::runtime
