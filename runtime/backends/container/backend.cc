// The container backend behind the launcher's Backend interface (runtime/backends/backend.h): the
// namespace sandbox of container.h with the guest agent as PID 1.

#include <fcntl.h>
#include <grp.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>

#include "ir/support/os/atomic_file.h"
#include "ir/support/os/unique_fd.h"
#include "runtime/agent/framing.h"
#include "runtime/backends/container/cgroups.h"
#include "runtime/backends/container/container.h"
#include "runtime/backends/container/egress_net.h"

namespace mvm::runtime::container {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

/// How long PID 1's agent may take to listen.
constexpr auto kAgentWait = std::chrono::seconds(10);

double MillisSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string Head(const fs::path& file, size_t bytes) {
  std::string head;
  if (std::FILE* f = std::fopen(file.c_str(), "r")) {
    head.resize(bytes);
    head.resize(std::fread(head.data(), 1, bytes, f));
    std::fclose(f);
  }
  return head;
}

class ContainerBackend final : public backends::Backend {
 public:
  std::string_view name() const override { return "container"; }
  std::string_view summary() const override {
    return "namespaces, seccomp and cgroups around the agent as PID 1";
  }
  backends::Capabilities capabilities() const override {
    backends::Capabilities caps;
    caps.microvm_isolation = false;
    caps.egress = true;
    caps.host_measures_oom = true;
    // A FUSE volume's root directory belongs to the host id that is root in the sandbox's user
    // namespace, and its files to the host ids of their makers there: no idmapped mount needed,
    // which a FUSE mount cannot have.
    caps.fuse_volume_owner = container::kHostIdBase;
    caps.host_kernel_mounts = true;
    // PID 1 of its own PID namespace: the kernel kills whatever else is in it when PID 1 exits.
    caps.ends_with_agent = true;
    return caps;
  }
  ErrorOr<backends::Started> Start(const backends::StartRequest& request) const override;
  ErrorOr<uint64_t> OomKills(std::string_view instance, agent::Client&) const override {
    return container::OomKills(instance);
  }
  ErrorOr<Ok> Pause(const backends::SandboxRef& sandbox) const override {
    return container::SetFrozen(sandbox.instance, true);
  }
  ErrorOr<Ok> Resume(const backends::SandboxRef& sandbox) const override {
    return container::SetFrozen(sandbox.instance, false);
  }
  void Cleanup(std::string_view instance) const override {
    (void)container::RemoveCgroups(instance);
  }
};

ErrorOr<backends::Started> ContainerBackend::Start(const backends::StartRequest& request) const {
  Spec spec;
  spec.name = request.name;
  spec.rootfs = request.rootfs_dir;
  spec.init = request.agent_binary;
  spec.limits.cpu = request.cpus;
  spec.limits.memory_mb = request.memory_mb;
  spec.limits.pids_max = request.pids_max;
  spec.parent_death_signal = request.dies_with_caller ? SIGKILL : 0;
  for (const backends::SandboxMount& m : request.mounts) {
    switch (m.kind) {
      case backends::SandboxMount::Kind::kStagedFile:
        // Staged copies, not binds of the user's file or of the SDK: the sandbox sees them as they
        // were at the start, and neither their host paths nor the directories around them.
        spec.mounts.push_back({Mount::Kind::kBind, m.source, m.target, true, 0, true});
        break;
      case backends::SandboxMount::Kind::kVolume:
        spec.mounts.push_back(
            {Mount::Kind::kBind, m.source, m.target, m.read_only, 0, false, !m.owned_by_sandbox});
        break;
      case backends::SandboxMount::Kind::kMemory:
        spec.mounts.push_back({Mount::Kind::kTmpfs, {}, m.target, false, m.size_mb});
        break;
    }
  }

  if (request.egress) {
    const fs::path resolv = request.sandbox_dir / "resolv.conf";
    if (auto written = os::WriteFileAtomically(resolv, EgressResolvConf()); !written) {
      return written.error();
    }
    spec.mounts.push_back({Mount::Kind::kBind, resolv, "/etc/resolv.conf", true, 0, true});
  }

  // The agent's own stdout/stderr go to a file in the sandbox's state, not to the caller's
  // terminal: a detached sandbox must not hold it, and the workload's output reaches the host
  // through the agent. Only the agent writes it (workloads get pipes of their own), and it bounds
  // what it writes.
  const fs::path agent_log = request.sandbox_dir / "agent.log";
  os::UniqueFd log_fd(
      ::open(agent_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!log_fd.valid()) {
    return Error{"cannot create `" + agent_log.string() + "`: " + std::strerror(errno)};
  }
  spec.stdout_fd = log_fd.get();
  // The agent's socket is made here, in the sandbox's owner-only state directory that nothing
  // mounts into the sandbox, and PID 1 gets only the listening fd: the workload can neither reach
  // the socket's name nor put something else in its place.
  auto listener = agent::ListenUnix(request.agent_socket);
  if (!listener) {
    return listener.error();
  }
  spec.inherit_fds = {listener->get()};
  spec.init_args = {"--listen-fd=" + std::to_string(listener->get()), "--no-workload-capabilities"};
  // The agent runs commands as an image's User (CAP_SETUID and CAP_SETGID, nothing else); every
  // command it starts keeps no capability.
  spec.init_switches_users = true;
  spec.setid_files = request.setid_files;
  // The sandbox maps only uid/gid 0 and denies setgroups, so PID 1 would keep this process's
  // supplementary groups (under sudo, host group 0). Drop them here: the launcher needs none.
  if (::geteuid() == 0 && ::setgroups(0, nullptr) != 0) {
    return Error{std::string("cannot drop supplementary groups: ") + std::strerror(errno)};
  }
  auto t = Clock::now();
  container::Timings steps;
  auto started = container::Start(spec, &steps);
  log_fd.Reset();
  listener->Reset();
  if (!started) {
    return Error{"cannot start the sandbox: " + started.error().message};
  }
  backends::StartTimings timings;
  timings.spawn_ms = MillisSince(t);
  backends::OwnedProcess process(started->pid, started->pidfd, false);
  const pid_t pid1 = started->pid;

  t = Clock::now();
  // The listener exists before the agent runs, so this connects at once; with the first request
  // following, what PID 1 has left to do before it answers overlaps the launcher's own work.
  auto client = agent::Client::Connect(
      request.agent_socket, kAgentWait,
      request.first_request_follows ? agent::Client::HelloAnswer::kWithFirstRequest
                                    : agent::Client::HelloAnswer::kNow,
      [agent_log] {
        const std::string head = Head(agent_log, 2048);
        return head.empty() ? std::string() : "\nagent output:\n" + head;
      });
  if (!client) {
    (void)process.Kill(SIGKILL);
    (void)process.Wait(std::chrono::seconds(5));
    const std::string head = Head(agent_log, 2048);
    return Error{"the guest agent did not come up: " + client.error().message +
                 (head.empty() ? "" : "\nagent output:\n" + head)};
  }
  timings.agent_ready_ms = MillisSince(t);
  backends::Started out{std::move(process), pid1, std::move(*client), timings, {}, {}, {}};
  if (request.egress) {
    auto egress = OpenEgressNetwork(pid1);
    if (!egress) {
      (void)out.process.Kill(SIGKILL);
      (void)out.process.Wait(std::chrono::seconds(5));
      return egress.error();
    }
    out.egress = std::move(*egress);
  }
  if (request.describe) {
    // The cgroup layout alone, not Probe(): its four forks (a user namespace among them) were
    // about 2 ms of every `run -v`, booked to "start other".
    auto roots = HostCgroupRoots();
    out.description.push_back("backend container (namespaces + seccomp, cgroup " +
                              (roots ? roots->mode : std::string("unknown")) + "), rootfs " +
                              request.rootfs_digest.substr(0, 19) + "…, sandbox " + request.name);
    // The namespaces phase in parts (container::Timings); cgroups overlaps mounts.
    char parts[192];
    std::snprintf(parts, sizeof parts,
                  "container start (ms): cgroups %.2f, clone and id maps %.2f, mounts %.2f, "
                  "to init's exec %.2f",
                  steps.cgroups_us / 1000.0, steps.clone_us / 1000.0, steps.mounts_us / 1000.0,
                  steps.exec_us / 1000.0);
    out.description.push_back(parts);
  }
  return out;
}

}  // namespace

const backends::Backend& TheBackend() {
  static const ContainerBackend backend;
  return backend;
}

}  // namespace mvm::runtime::container
