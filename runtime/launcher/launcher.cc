#include "runtime/launcher/launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>
#include <variant>

#include "backend-emit/nix/artifacts.h"
#include "backend-emit/plan/keys.h"
#include "backend-emit/plan/replay.h"
#include "backend-emit/plan/time.h"
#include "ir/support/terminal_text.h"
#include "runtime/launcher/internal.h"
#include "runtime/launcher/pool.h"
#include "runtime/rootfs/rootfs.h"

namespace mvm::runtime {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

/// How long the agent may overrun a workload's timeout before the launcher kills the sandbox
/// itself: the agent enforces the timeout, the launcher only guards against an agent that stopped
/// answering.
constexpr auto kTimeoutGrace = std::chrono::seconds(10);

}  // namespace

namespace internal {

double MillisSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string RandomSuffix() {
  unsigned char bytes[3];
  randombytes_buf(bytes, sizeof bytes);
  char hex[7];
  std::snprintf(hex, sizeof hex, "%02x%02x%02x", bytes[0], bytes[1], bytes[2]);
  return hex;
}

std::string DefaultSandboxName(std::string_view workload_id) {
  // A workload id may be 63 characters itself; the suffix needs 7.
  std::string id(workload_id.substr(0, 56));
  while (!id.empty() && id.back() == '-') {
    id.pop_back();
  }
  return id + "-" + RandomSuffix();
}

/// Signals the process a record names, if it is still that process. A pidfd makes the check and the
/// signal refer to one process even if the pid is reused in between.
bool SignalRecord(const SandboxRecord& record, int signal) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, record.pid, 0));
  if (fd < 0) {
    return false;
  }
  bool sent = false;
  if (IsRunning(record)) {
    sent = ::syscall(SYS_pidfd_send_signal, fd, signal, nullptr, 0) == 0;
  }
  ::close(fd);
  return sent;
}

/// Waits until the record's process is gone; false if it is still there after `limit`.
bool WaitGone(const SandboxRecord& record, std::chrono::milliseconds limit) {
  auto deadline = Clock::now() + limit;
  while (IsRunning(record)) {
    if (Clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

void RemoveTraces(const StateDir& state, std::string_view name, std::string_view instance) {
  (void)container::RemoveCgroups(instance);
  std::error_code ec;
  fs::remove_all(state.Sandbox(name), ec);
}

void RemoveSandbox(const StateDir& state, std::string_view name, std::string_view instance) {
  // Under the lock, so that a `stop` or `up` of the same name never sees half a removal; the lock
  // file goes with the sandbox.
  auto lock = SandboxLock::Acquire(state, name);
  RemoveTraces(state, name, instance);
  if (lock) {
    lock->RemoveFile();
  }
}

/// The parent-death watchdog: a process of its own (in its own session, so a terminal's Ctrl-C does
/// not reach it) holding the read end of a pipe whose write end only the launcher has. The
/// launcher writes 'd' when it has cleaned up (or detaches); EOF without it means the launcher
/// died, and the watchdog kills the sandbox and removes its cgroups and state. PID 1 itself also
/// has PR_SET_PDEATHSIG, so the workload stops at once even before the watchdog runs.
ErrorOr<std::pair<int, pid_t>> StartWatchdog(const StateDir& state, const std::string& name) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return Error{std::string("cannot create the watchdog pipe: ") + std::strerror(errno)};
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    int saved = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    return Error{std::string("cannot start the watchdog: ") + std::strerror(saved)};
  }
  if (pid == 0) {
    ::setsid();
    std::signal(SIGINT, SIG_IGN);
    std::signal(SIGHUP, SIG_IGN);
    std::signal(SIGPIPE, SIG_IGN);
    ::dup2(fds[0], 3);
    ::close_range(4, ~0U, 0);
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    char c = 0;
    ssize_t n;
    do {
      n = ::read(3, &c, 1);
    } while (n < 0 && errno == EINTR);
    if (n == 1 && c == 'd') {
      ::_exit(0);
    }
    // No directory: nothing started yet, or the sandbox was handed to another owner under another
    // name (a warm pool's claim), whose cgroups must not be touched.
    if (!fs::exists(state.Sandbox(name))) {
      ::_exit(0);
    }
    auto record = ReadRecord(state, name);
    std::string instance = name;
    if (record) {
      SignalRecord(*record, SIGKILL);
      WaitGone(*record, std::chrono::seconds(5));
      instance = record->InstanceName();
    }
    RemoveSandbox(state, name, instance);
    if (auto session = OpenAudit(state)) {
      (void)(*session)->log->Append("destroy", {{"sandbox", name}, {"reason", "parent died"}});
    }
    ::_exit(0);
  }
  ::close(fds[0]);
  return std::make_pair(fds[1], pid);
}

void DisarmWatchdog(int& fd, pid_t& pid) {
  if (fd >= 0) {
    char d = 'd';
    (void)!::write(fd, &d, 1);
    ::close(fd);
    fd = -1;
  }
  if (pid > 0) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    pid = -1;
  }
}

ErrorOr<fs::path> ResolveVolumeSource(const plan::v1::Mount& m, const fs::path& project_root) {
  std::error_code ec;
  fs::path source =
      fs::path(m.source()).is_absolute() ? fs::path(m.source()) : project_root / m.source();
  source = fs::weakly_canonical(source, ec);
  if (ec || !fs::exists(source)) {
    return Error{"volume source `" + m.source() + "` (`" + source.string() +
                 "`) does not exist; create it or fix `Volume.local(...)`"};
  }
  return source;
}

SandboxRecord NewRecord(const LauncherOptions& options, const AdmittedPlan& admitted,
                        const StartOptions& start, const std::string& name, pid_t pid,
                        const std::string& rootfs_digest) {
  const plan::v1::ExecutionPlan& p = admitted.verified.plan;
  SandboxRecord r;
  r.name = name;
  r.workload_id = p.workload().id();
  r.payload_digest = admitted.verified.payload_digest;
  r.backend = options.backend;
  r.pid = pid;
  r.pid_start_time = ProcessStartTime(pid);
  r.detached = start.detached;
  r.owner_pid = ::getpid();
  r.owner_uid = ::getuid();
  r.created_at = NowRfc3339();
  r.memory_mb = static_cast<uint32_t>(p.lifecycle().memory_mb());
  r.root_fs = rootfs_digest;
  r.pool = start.pool;
  return r;
}

ErrorOr<Ok> MakeSandboxDirs(const StateDir& state, const std::string& name) {
  std::error_code ec;
  fs::create_directories(state.Sandboxes(), ec);
  fs::path dir = state.Sandbox(name);
  // Owner-only from the start: the agent's socket is created in it.
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Error{"cannot create `" + dir.string() + "`: " + std::strerror(errno)};
  }
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid()) {
    return Error{"`" + dir.string() + "` is not a directory of this user; remove it"};
  }
  fs::permissions(dir, fs::perms::owner_all, ec);
  return Ok{};
}

}  // namespace internal

using namespace internal;  // NOLINT(google-build-using-namespace): this file defines them

namespace {

struct ResolvedRootfs {
  fs::path dir;
  std::string digest;
};

ErrorOr<ResolvedRootfs> ResolveRootfs(const LauncherOptions& options,
                                      const plan::v1::ExecutionPlan& plan) {
  const plan::v1::Artifact* rootfs = nullptr;
  for (const plan::v1::Artifact& a : plan.artifacts()) {
    if (a.role() == "rootfs") {
      rootfs = &a;
    }
  }
  if (rootfs == nullptr) {
    return Error{"the plan names no rootfs artifact"};
  }
  if (!rootfs->digest().empty() && rootfs->kind() != "oci") {
    // `mvmctl build` recorded what Nix built; run exactly that tree.
    auto built = nix::FindBuiltArtifact(options.state.root, rootfs->digest());
    if (!built) {
      return Error{built.error().message};
    }
    return ResolvedRootfs{*built, rootfs->digest()};
  }
  if (rootfs->kind() == "template") {
    auto made = rootfs::MaterializeTemplate(rootfs->ref(), options.state.RootfsCache(),
                                            [&](std::string_view line) {
                                              if (options.note) {
                                                options.note(line);
                                              }
                                            });
    if (!made) {
      return Error{made.error().message};
    }
    return ResolvedRootfs{made->dir, made->digest};
  }
  if (rootfs->kind() == "nix") {
    return Error{"image `nix:" + rootfs->ref() +
                 "` has not been built: run `mvmctl build` on the plan or source file first, "
                 "which records the built rootfs's digest in the plan"};
  }
  return Error{"image `oci:" + rootfs->ref() +
               "` cannot run yet: OCI images need `mvmctl image pull`, which is planned; use a "
               "`template:` or `nix:` image"};
}

std::string Describe(const plan::v1::Network& network) {
  std::string out;
  for (const plan::v1::EgressRule& r : network.rules()) {
    out += (out.empty() ? "" : ", ") + r.protocol() + " " + r.host();
  }
  if (network.dns()) {
    out += std::string(out.empty() ? "" : ", ") + "dns";
  }
  return out;
}

/// The guest's count of OOM kills in its workload cgroup (runtime/agent/init.cc sets it up), read
/// through the agent: the limit is enforced inside the VM, so only the guest knows.
ErrorOr<uint64_t> GuestOomKills(agent::Client& agent) {
  auto text = agent.ReadFile("/sys/fs/cgroup/workload/memory.events", 64u << 10);
  if (!text) {
    return Error{text.error().message};
  }
  size_t at = text->find("oom_kill ");
  if (at == std::string::npos) {
    return Error{"the guest's memory.events has no oom_kill line"};
  }
  return std::strtoull(text->c_str() + at + 9, nullptr, 10);
}

}  // namespace

ErrorOr<Ok> LocateRuntimeFiles(LauncherOptions& options) {
  std::error_code ec;
  fs::path exe_dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  if (const char* agent = std::getenv("MVM_AGENT"); agent != nullptr && agent[0] != '\0') {
    options.agent_binary = agent;
  } else {
    options.agent_binary = exe_dir / "mvm-agent";
  }
  if (!fs::is_regular_file(options.agent_binary)) {
    return Error{"the guest agent `" + options.agent_binary.string() +
                 "` is missing; build it (`cmake --build --preset default`) or point MVM_AGENT at "
                 "it"};
  }
  if (const char* sdk = std::getenv("MVM_PYTHON_SDK"); sdk != nullptr && sdk[0] != '\0') {
    options.python_sdk = sdk;
  } else if (fs::is_directory(exe_dir / ".." / "share" / "mvm" / "sdks" / "python")) {
    options.python_sdk = exe_dir / ".." / "share" / "mvm" / "sdks" / "python";
  } else {
    options.python_sdk = fs::path(MVM_SOURCE_DIR) / "sdks" / "python";
  }
  return Ok{};
}

ErrorOr<Ok> LoadTrust(LauncherOptions& options, const fs::path& trust_dir,
                      const std::vector<fs::path>& extra) {
  fs::path dir = trust_dir;
  if (dir.empty()) {
    auto found = plan::DefaultTrustDir();
    if (!found) {
      return Error{found.error().message};
    }
    dir = *found;
  }
  if (fs::exists(dir)) {
    auto keys = plan::LoadTrustDir(dir);
    if (!keys) {
      return Error{keys.error().message};
    }
    options.trusted = std::move(*keys);
  }
  for (const fs::path& pub : extra) {
    auto key = plan::LoadPublicKey(pub);
    if (!key) {
      return Error{key.error().message};
    }
    options.trusted.push_back({key->KeyId(), *key, pub});
  }
  fs::path dev = options.state.Keys() / "dev.pub";
  if (fs::exists(dev)) {
    auto key = plan::LoadPublicKey(dev);
    if (!key) {
      return Error{key.error().message};
    }
    options.dev_key_id = key->KeyId();
    options.trusted.push_back({options.dev_key_id, *key, dev});
  }
  return Ok{};
}

ErrorOr<plan::SecretKey> EnsureKey(const fs::path& dir, std::string_view name) {
  fs::path path = dir / (std::string(name) + ".key");
  if (fs::exists(path)) {
    return plan::LoadSecretKey(path);
  }
  plan::SecretKey key = plan::SecretKey::Generate();
  auto saved = plan::SaveKeyPair(key, dir, name);
  if (!saved) {
    // Another process may have made it first; then theirs is the key.
    if (fs::exists(path)) {
      return plan::LoadSecretKey(path);
    }
    return Error{saved.error().message};
  }
  return key;
}

ErrorOr<std::unique_ptr<AuditSession>> OpenAudit(const StateDir& state) {
  auto key = EnsureKey(state.Keys(), "launcher");
  if (!key) {
    return Error{key.error().message};
  }
  auto session = std::make_unique<AuditSession>();
  session->key = std::make_unique<plan::SecretKey>(std::move(*key));
  auto log = audit::Log::Open(state.AuditLog(), session->key.get());
  if (!log) {
    return Error{log.error().message};
  }
  session->log.emplace(std::move(*log));
  return session;
}

std::variant<plan::VerifiedPlan, internal::PlanRefusal> internal::VerifyForLauncher(
    const LauncherOptions& options, std::string_view plan_bytes) {
  plan::SystemClock clock;
  auto verified = plan::VerifyPlan(plan_bytes, options.trusted, clock);
  if (!verified) {
    return PlanRefusal{"verify", std::string(plan::RefusalName(verified.refusal().reason)),
                       verified.refusal().message};
  }
  const plan::v1::ExecutionPlan& p = verified->plan;
  if (!options.dev_key_id.empty() && verified->key_id == options.dev_key_id &&
      p.profile() != "dev") {
    return PlanRefusal{"verify", "dev-key",
                       "the plan is signed with the local dev key, which may only sign dev-profile "
                       "plans; sign `" +
                           p.profile() + "` plans with a key in the trust store"};
  }
  return std::move(*verified);
}

std::optional<internal::PlanRefusal> internal::CheckPolicy(const LauncherOptions& options,
                                                           const plan::v1::ExecutionPlan& p) {
  // What this backend cannot enforce it refuses, before the epoch is spent on a plan that cannot
  // run.
  if (p.network().rules_size() > 0 || p.network().dns()) {
    return PlanRefusal{"policy", "egress-unsupported",
                       "workload `" + p.workload().id() + "` may reach " + Describe(p.network()) +
                           ", but the " + options.backend +
                           " backend has no egress proxy yet, so it only runs workloads without "
                           "network access (the egress proxy is planned); remove `network=` to "
                           "run it here"};
  }
  if (p.secrets_size() > 0) {
    return PlanRefusal{"policy", "secrets-unsupported",
                       "workload `" + p.workload().id() + "` uses secret `" + p.secrets(0).name() +
                           "`, but secrets reach a sandbox only through the egress proxy, which "
                           "is planned; remove `secrets=` to run it here"};
  }
  if (options.backend == kMicrovmBackend && ::geteuid() != 0) {
    for (const plan::v1::Mount& m : p.mounts()) {
      if (m.kind() != "memory" && m.mode() == "rw") {
        return PlanRefusal{
            "policy", "mounts-unsupported",
            "workload `" + p.workload().id() + "` mounts `" + m.source() + "` at `" + m.target() +
                "` read-write, which the qemu-microvm backend serves with virtiofsd, and "
                "confining virtiofsd (namespaces, chroot) needs root; run mvmctl as root, mount "
                "it read-only (copied into the VM at start), or use --backend container"};
      }
    }
  }
  if (p.lifecycle().isolation() == "microvm" && options.backend == "container" &&
      p.profile() != "dev") {
    return PlanRefusal{"policy", "weak-isolation",
                       "workload `" + p.workload().id() +
                           "` asks for microVM isolation and its plan is `" + p.profile() +
                           "`-profile; the container backend is weaker and only runs dev-profile "
                           "plans of microVM workloads; run it with --backend qemu-microvm"};
  }
  for (const plan::v1::Artifact& a : p.artifacts()) {
    if (a.role() != "rootfs") {
      continue;
    }
    if (a.kind() == "oci") {
      return PlanRefusal{"policy", "oci-unsupported",
                         "image `oci:" + a.ref() +
                             "` cannot run yet: OCI image ingestion is planned; use a "
                             "`template:` or `nix:` image"};
    }
    if (a.kind() == "nix" && a.digest().empty()) {
      return PlanRefusal{"policy", "not-built",
                         "image `nix:" + a.ref() +
                             "` has not been built: run `mvmctl build` on the plan or source "
                             "file first, which records the built rootfs's digest in the plan"};
    }
  }
  return std::nullopt;
}

ErrorOr<AdmittedPlan> Admit(const LauncherOptions& options, std::string_view plan_bytes,
                            audit::Log& audit, PhaseTimings* timings) {
  auto start = Clock::now();
  auto refuse = [&](const internal::PlanRefusal& r) -> Error {
    (void)audit.Append("refuse",
                       {{"stage", r.stage}, {"reason", r.reason}, {"message", r.message}});
    return Error{"refused: " + r.message};
  };
  auto checked = internal::VerifyForLauncher(options, plan_bytes);
  if (auto* refusal = std::get_if<internal::PlanRefusal>(&checked)) {
    return refuse(*refusal);
  }
  auto verified = std::get_if<plan::VerifiedPlan>(&checked);
  const plan::v1::ExecutionPlan& p = verified->plan;
  (void)audit.Append("verify", {{"workload", p.workload().id()},
                                {"key_id", verified->key_id},
                                {"payload_digest", verified->payload_digest},
                                {"epoch", p.epoch()}});
  if (auto refusal = internal::CheckPolicy(options, p)) {
    return refuse(*refusal);
  }
  if (p.lifecycle().isolation() == "microvm" && options.backend == "container") {
    std::string warning = "warning: workload `" + p.workload().id() +
                          "` asks for isolation=\"microvm\" but runs on the container backend, "
                          "which is weaker (dev profile only) [weak-isolation]";
    if (options.note) {
      options.note(warning);
    }
    (void)audit.Append("weak-isolation",
                       {{"workload", p.workload().id()}, {"backend", options.backend}});
  }

  plan::ReplayState replay(options.state.Replay());
  auto admission = replay.Admit(*verified);
  if (!admission) {
    return Error{admission.error().message};
  }
  if (!*admission) {
    return refuse({"admit", "replayed", admission->refusal().message});
  }
  auto id = audit.Append("admit", {{"workload", p.workload().id()},
                                   {"epoch", p.epoch()},
                                   {"payload_digest", verified->payload_digest},
                                   {"profile", p.profile()},
                                   {"backend", options.backend}});
  if (!id) {
    return Error{id.error().message};
  }
  if (timings != nullptr) {
    timings->verify_ms = MillisSince(start);
  }
  return AdmittedPlan{std::move(*verified), *id, std::string(plan_bytes)};
}

Sandbox::Sandbox(Sandbox&& other) noexcept
    : record_(std::move(other.record_)),
      container_(std::exchange(other.container_, container::Sandbox{})),
      agent_(std::move(other.agent_)),
      watchdog_fd_(std::exchange(other.watchdog_fd_, -1)),
      watchdog_pid_(std::exchange(other.watchdog_pid_, -1)),
      adopted_(other.adopted_) {
  other.agent_.reset();
}

Sandbox& Sandbox::operator=(Sandbox&& other) noexcept {
  if (this != &other) {
    record_ = std::move(other.record_);
    container_ = std::exchange(other.container_, container::Sandbox{});
    agent_ = std::move(other.agent_);
    other.agent_.reset();
    watchdog_fd_ = std::exchange(other.watchdog_fd_, -1);
    watchdog_pid_ = std::exchange(other.watchdog_pid_, -1);
    adopted_ = other.adopted_;
  }
  return *this;
}

Sandbox::~Sandbox() {
  // Dropping a sandbox without Destroy or Release leaves its cleanup to the watchdog: closing the
  // pipe without 'd' is exactly the parent-died signal.
  if (watchdog_fd_ >= 0) {
    ::close(watchdog_fd_);
  }
  if (container_.pidfd >= 0) {
    ::close(container_.pidfd);
  }
}

ErrorOr<container::ExitStatus> Sandbox::Wait(std::chrono::milliseconds timeout) {
  if (!adopted_) {
    return container::Wait(container_, timeout);
  }
  // Not our child: its parent (the pool) reaps it, and its exit status is the parent's to know.
  pollfd p{container_.pidfd, POLLIN, 0};
  int ready;
  do {
    ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
  } while (ready < 0 && errno == EINTR);
  if (ready <= 0) {
    return Error{"sandbox `" + record_.name + "` is still running after " +
                 std::to_string(timeout.count()) + " ms"};
  }
  return container::ExitStatus{};
}

void Sandbox::Release() { DisarmWatchdog(watchdog_fd_, watchdog_pid_); }

Sandbox SandboxAccess::Adopt(SandboxRecord record, int pidfd, agent::Client agent,
                             std::pair<int, pid_t> watchdog) {
  Sandbox sandbox;
  sandbox.container_.pid = record.pid;
  sandbox.container_.pidfd = pidfd;
  sandbox.container_.name = record.InstanceName();
  sandbox.record_ = std::move(record);
  sandbox.agent_.emplace(std::move(agent));
  sandbox.watchdog_fd_ = watchdog.first;
  sandbox.watchdog_pid_ = watchdog.second;
  sandbox.adopted_ = true;
  return sandbox;
}

int SandboxAccess::HandOver(Sandbox& sandbox) {
  sandbox.agent_.reset();
  DisarmWatchdog(sandbox.watchdog_fd_, sandbox.watchdog_pid_);
  return std::exchange(sandbox.container_.pidfd, -1);
}

ErrorOr<Sandbox> Start(const LauncherOptions& options, const AdmittedPlan& admitted,
                       const StartOptions& start, audit::Log& audit, PhaseTimings* timings) {
  const plan::v1::ExecutionPlan& p = admitted.verified.plan;
  std::string name = start.name.empty() ? DefaultSandboxName(p.workload().id()) : start.name;
  if (!IsSandboxName(name)) {
    return Error{"`" + name +
                 "` is not a valid sandbox name: use lowercase letters, digits and '-', at most "
                 "63, starting with a letter or digit"};
  }
  if (options.backend != "container" && options.backend != kMicrovmBackend) {
    return Error{"backend `" + options.backend + "` is not available; use `container` or `" +
                 std::string(kMicrovmBackend) + "`"};
  }
  if (start.use_pool && start.pool.empty()) {
    auto claimed = ClaimFromPool(options, admitted, start, name, timings);
    if (!claimed) {
      return claimed.error();
    }
    if (*claimed) {
      return std::move(**claimed);
    }
  }
  auto lock = SandboxLock::Acquire(options.state, name);
  if (!lock) {
    return Error{lock.error().message};
  }
  if (auto existing = ReadRecord(options.state, name)) {
    if (IsRunning(*existing)) {
      return Error{"a sandbox named `" + name + "` is already running; `mvmctl stop " + name +
                   "` stops it, or pick another --name"};
    }
    RemoveTraces(options.state, name, existing->InstanceName());
  }

  auto t = Clock::now();
  auto rootfs = ResolveRootfs(options, p);
  if (!rootfs) {
    return Error{rootfs.error().message};
  }
  if (timings != nullptr) {
    timings->materialize_ms = MillisSince(t);
  }
  if (options.backend == kMicrovmBackend) {
    return SandboxAccess::StartMicrovm(options, admitted, start, audit, timings, name, rootfs->dir,
                                       rootfs->digest);
  }
  return SandboxAccess::StartContainer(options, admitted, start, audit, timings, name, rootfs->dir,
                                       rootfs->digest);
}

ExecOutcome DescribeExec(const agent::ExecResult& result, bool oom_killed, uint32_t memory_mb,
                         uint32_t timeout_seconds) {
  ExecOutcome out;
  out.result = result;
  if (result.timed_out) {
    out.exit_status = kExitTimeout;
    out.message = "timed out after " + std::to_string(timeout_seconds) +
                  " s (timeout_seconds); the command and its children were killed";
  } else if (!result.error.empty()) {
    out.exit_status = result.exit_code;
    out.message = result.error;
  } else if (result.signal != 0) {
    out.exit_status = 128 + result.signal;
    if (oom_killed && result.signal == SIGKILL) {
      out.message = "killed: memory limit " + std::to_string(memory_mb) + " MiB reached";
    } else {
      const char* name = sigabbrev_np(result.signal);
      out.message = "killed by signal " + std::to_string(result.signal) +
                    (name != nullptr ? std::string(" (SIG") + name + ")" : "");
    }
  } else {
    out.exit_status = result.exit_code;
  }
  auto truncated = [&](std::string_view stream, uint64_t produced, uint64_t dropped) {
    if (dropped == 0) {
      return;
    }
    std::string line = std::string(stream) + " truncated: " + std::to_string(dropped) + " of " +
                       std::to_string(produced) + " bytes dropped (output limit)";
    out.message += out.message.empty() ? line : "\n" + line;
  };
  truncated("stdout", result.stdout_bytes, result.stdout_dropped);
  truncated("stderr", result.stderr_bytes, result.stderr_dropped);
  return out;
}

ErrorOr<ExecOutcome> Exec(const LauncherOptions& options, const SandboxRecord& record,
                          agent::Client& agent, agent::ExecRequest request,
                          const agent::OutputSink& sink, uint32_t timeout_seconds,
                          audit::Log& audit) {
  (void)options;
  request.timeout_ms = timeout_seconds * 1000;
  const bool microvm = record.backend == kMicrovmBackend;
  std::string command;
  for (const std::string& a : request.argv) {
    command += (command.empty() ? "" : " ") + a;
  }
  (void)audit.Append("exec", {{"sandbox", record.name}, {"command", command}});

  // The agent enforces the timeout; this guard covers an agent that stopped answering, from the
  // first request of this exec (the guest's OOM count) to its last.
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
  bool guard_fired = false;
  std::thread guard;
  if (timeout_seconds > 0) {
    guard = std::thread([&] {
      std::unique_lock<std::mutex> lock(mu);
      if (!cv.wait_for(lock, std::chrono::seconds(timeout_seconds) + kTimeoutGrace,
                       [&] { return finished; })) {
        guard_fired = true;
        SignalRecord(record, SIGKILL);
      }
    });
  }
  auto end_guard = [&] {
    {
      std::lock_guard<std::mutex> lock(mu);
      finished = true;
    }
    cv.notify_all();
    if (guard.joinable()) {
      guard.join();
    }
  };
  auto oom_before = microvm ? GuestOomKills(agent) : container::OomKills(record.InstanceName());
  const auto started = Clock::now();
  auto result = agent.Exec(request, sink);
  const auto wall_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  auto oom_after =
      result ? (microvm ? GuestOomKills(agent) : container::OomKills(record.InstanceName()))
             : ErrorOr<uint64_t>(Error{"no exec result"});
  end_guard();
  if (!result || guard_fired) {
    if (guard_fired) {
      agent::ExecResult timed_out;
      timed_out.timed_out = true;
      ExecOutcome out = DescribeExec(timed_out, false, record.memory_mb, timeout_seconds);
      out.message += " (the guest agent stopped answering; the sandbox was killed)";
      auto id = audit.Append("exec-exit", {{"sandbox", record.name},
                                           {"command", command},
                                           {"exit_status", out.exit_status},
                                           {"timed_out", true},
                                           {"host_killed", true},
                                           {"host_wall_ms", wall_ms},
                                           {"agent_reported", nlohmann::json::array()}});
      if (id) {
        out.audit_id = *id;
      }
      return out;
    }
    return Error{"lost the guest agent during `" + command + "`: " + result.error().message};
  }
  bool oom = oom_before && oom_after && *oom_after > *oom_before;
  ExecOutcome out = DescribeExec(*result, oom, record.memory_mb, timeout_seconds);
  // What the agent says is recorded as its report: a workload that took over the agent (a guest's
  // root can, on the microVM backend) can make it say anything. The host's own measurements are
  // the wall time and, on the container backend, the cgroup's OOM count.
  nlohmann::json agent_reported = {"exit_status",    "timed_out",      "duration_ms",
                                   "stdout_dropped", "stderr_dropped", "stdout_bytes",
                                   "stderr_bytes"};
  if (microvm) {
    agent_reported.push_back("oom_killed");
  }
  auto id = audit.Append("exec-exit", {{"sandbox", record.name},
                                       {"command", command},
                                       {"exit_status", out.exit_status},
                                       {"timed_out", result->timed_out},
                                       {"oom_killed", oom},
                                       {"stdout_bytes", result->stdout_bytes},
                                       {"stderr_bytes", result->stderr_bytes},
                                       {"stdout_dropped", result->stdout_dropped},
                                       {"stderr_dropped", result->stderr_dropped},
                                       {"duration_ms", result->duration_ms},
                                       {"host_wall_ms", wall_ms},
                                       {"host_killed", false},
                                       {"agent_reported", agent_reported}});
  if (id) {
    out.audit_id = *id;
  }
  return out;
}

ErrorOr<Ok> Destroy(const LauncherOptions& options, Sandbox& sandbox, audit::Log& audit,
                    std::string_view reason) {
  if (sandbox.agent_) {
    (void)sandbox.agent_->Shutdown();
    sandbox.agent_.reset();
  }
  if (!sandbox.Wait(std::chrono::seconds(3))) {
    (void)container::Kill(sandbox.container_, SIGKILL);
    (void)sandbox.Wait(std::chrono::seconds(5));
  }
  RemoveSandbox(options.state, sandbox.record_.name, sandbox.record_.InstanceName());
  (void)audit.Append("destroy", {{"sandbox", sandbox.record_.name}, {"reason", reason}});
  DisarmWatchdog(sandbox.watchdog_fd_, sandbox.watchdog_pid_);
  return Ok{};
}

ErrorOr<Ok> StopByName(const LauncherOptions& options, std::string_view name, bool remove_state,
                       audit::Log& audit, std::string_view reason) {
  // Before anything is locked, read or removed: the name becomes a path.
  if (auto valid = CheckSandboxName(name); !valid) {
    return valid.error();
  }
  auto lock = SandboxLock::Acquire(options.state, name);
  if (!lock) {
    return Error{lock.error().message};
  }
  auto record = ReadRecord(options.state, name);
  if (!record) {
    if (remove_state && fs::exists(options.state.Sandbox(name))) {
      // A damaged record must not make a sandbox undeletable.
      RemoveTraces(options.state, name, name);
      lock->RemoveFile();
      (void)audit.Append("destroy", {{"sandbox", name}, {"reason", reason}});
      return Ok{};
    }
    if (!fs::exists(options.state.Sandbox(name))) {
      lock->RemoveFile();  // nothing to guard: asking for a missing sandbox leaves no trace
    }
    return Error{record.error().message};
  }
  if (IsRunning(*record)) {
    // An agent that does not acknowledge the shutdown (Client bounds the wait) is not waited for.
    auto client =
        agent::Client::Connect(options.state.AgentSocket(name), std::chrono::milliseconds(500));
    const bool acknowledged = client && client->Shutdown();
    if (!acknowledged || !WaitGone(*record, std::chrono::seconds(3))) {
      SignalRecord(*record, SIGKILL);
      if (!WaitGone(*record, std::chrono::seconds(5))) {
        return Error{"sandbox `" + std::string(name) + "` (pid " + std::to_string(record->pid) +
                     ") did not exit after SIGKILL"};
      }
    }
  }
  (void)container::RemoveCgroups(record->InstanceName());
  if (remove_state) {
    RemoveTraces(options.state, name, record->InstanceName());
    lock->RemoveFile();
  } else {
    record->pid = 0;
    record->pid_start_time = 0;
    if (auto written = WriteRecord(options.state, *record); !written) {
      return Error{written.error().message};
    }
  }
  (void)audit.Append(remove_state ? "destroy" : "stop", {{"sandbox", name}, {"reason", reason}});
  return Ok{};
}

ErrorOr<Attached> Attach(const LauncherOptions& options, std::string_view name) {
  auto record = ReadRecord(options.state, name);
  if (!record) {
    return Error{record.error().message};
  }
  if (!IsRunning(*record)) {
    return Error{"sandbox `" + std::string(name) + "` is not running; `mvmctl ps` shows its state"};
  }
  auto client = agent::Client::Connect(options.state.AgentSocket(name), std::chrono::seconds(2));
  if (!client) {
    return Error{"cannot reach the guest agent of `" + std::string(name) +
                 "`: " + client.error().message};
  }
  return Attached{std::move(*record), std::move(*client)};
}

ErrorOr<FileResult> RunFileOp(Attached& sandbox, const FileRequest& request, audit::Log& audit) {
  static constexpr std::string_view kEvents[] = {"file-read", "file-write", "file-list",
                                                 "file-remove"};
  std::string_view event = kEvents[static_cast<int>(request.op)];
  FileResult result;
  std::string failure;
  switch (request.op) {
    case FileOp::kRead:
      if (auto data = sandbox.agent.ReadFile(request.path)) {
        result.data = std::move(*data);
      } else {
        failure = data.error().message;
      }
      break;
    case FileOp::kWrite:
      if (auto done = sandbox.agent.WriteFile(request.path, request.data); !done) {
        failure = done.error().message;
      }
      break;
    case FileOp::kList:
      if (auto entries = sandbox.agent.List(request.path)) {
        result.entries = std::move(*entries);
      } else {
        failure = entries.error().message;
      }
      break;
    case FileOp::kRemove:
      if (auto done = sandbox.agent.Remove(request.path, request.recursive); !done) {
        failure = done.error().message;
      }
      break;
  }
  nlohmann::json fields = {{"sandbox", sandbox.record.name}, {"path", request.path}};
  if (request.op == FileOp::kWrite) {
    fields["bytes"] = request.data.size();
  } else if (request.op == FileOp::kRead) {
    fields["bytes"] = result.data.size();
  }
  if (!failure.empty()) {
    fields["refused"] = failure;
  }
  (void)audit.Append(event, fields);
  if (!failure.empty()) {
    return Error{failure};
  }
  return result;
}

ErrorOr<int> RunToCompletion(const LauncherOptions& options, const AdmittedPlan& admitted,
                             const RunOptions& run, audit::Log& audit, PhaseTimings* timings) {
  const plan::v1::ExecutionPlan& p = admitted.verified.plan;
  const ir::v1::Entrypoint* entrypoint = nullptr;
  std::string known;
  for (const ir::v1::Entrypoint& e : p.workload().entrypoints()) {
    known += (known.empty() ? "`" : ", `") + e.name() + "`";
    if (entrypoint == nullptr && (run.entrypoint.empty() || e.name() == run.entrypoint)) {
      entrypoint = &e;
    }
  }
  if (entrypoint == nullptr) {
    if (known.empty()) {
      return Error{"workload `" + p.workload().id() +
                   "` has no entrypoint to run, only services, and starting services is not "
                   "supported yet; `mvmctl up` starts its sandbox and `mvmctl exec` runs commands "
                   "in it"};
    }
    return Error{"workload `" + p.workload().id() + "` has no entrypoint `" + run.entrypoint +
                 "`; it has " + known};
  }
  if (entrypoint->command_size() == 5 && entrypoint->command(2) == "mvm.run") {
    bool provided = false;
    for (const auto& file : run.start.app_files) {
      provided = provided || file.first == entrypoint->command(3);
    }
    if (!provided) {
      return Error{"entrypoint `" + entrypoint->name() + "` runs a function from `" +
                   entrypoint->command(3) +
                   "`, the workload's declaring file, which a plan does not carry; run the "
                   "source file instead (`mvmctl run FILE.py`)"};
    }
  }
  auto sandbox = Start(options, admitted, run.start, audit, timings);
  if (!sandbox) {
    return Error{sandbox.error().message};
  }
  agent::ExecRequest request;
  request.argv.assign(entrypoint->command().begin(), entrypoint->command().end());
  request.argv.insert(request.argv.end(), run.args.begin(), run.args.end());
  for (const auto& [k, v] : p.workload().env()) {
    request.env.emplace_back(k, v);
  }
  if (!run.start.app_files.empty()) {
    request.env.emplace_back("PYTHONPATH", std::string(kSdkMount));
  }
  std::sort(request.env.begin(), request.env.end());
  uint32_t timeout =
      static_cast<uint32_t>(entrypoint->has_timeout_seconds() ? entrypoint->timeout_seconds()
                                                              : p.lifecycle().timeout_seconds());
  // Workload output reaches a terminal escaped (terminal_text.h); a pipe or file gets the bytes.
  const bool escape[2] = {!run.raw_output && IsTerminal(1), !run.raw_output && IsTerminal(2)};
  TerminalEscaper escapers[2];
  auto write_all = [](int fd, std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::write(fd, data.data(), data.size());
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return;  // A closed terminal or pipe must not stop the sandbox's teardown.
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
  };
  auto sink = [&](agent::Stream stream, std::string_view data) {
    const int i = stream == agent::Stream::kStdout ? 0 : 1;
    if (escape[i]) {
      write_all(i + 1, escapers[i].Feed(data));
    } else {
      write_all(i + 1, data);
    }
  };
  auto t = Clock::now();
  auto outcome =
      Exec(options, sandbox->record(), sandbox->agent(), std::move(request), sink, timeout, audit);
  for (int i : {0, 1}) {
    if (escape[i]) {
      write_all(i + 1, escapers[i].Finish());
    }
  }
  if (timings != nullptr) {
    timings->exec_ms = MillisSince(t);
    if (!timings->pool.empty()) {
      timings->first_exec_result_ms = timings->claim_ms + timings->exec_ms;
    } else if (sandbox->record().backend == kMicrovmBackend) {
      // Start returned right after the agent was ready; what lies between is a record write.
      timings->first_exec_result_ms = timings->agent_ready_ms + timings->exec_ms;
      if (options.verbose && options.note) {
        char line[128];
        std::snprintf(line, sizeof line,
                      "first exec result %.1f ms from the start of the boot (exec %.1f)",
                      timings->first_exec_result_ms, timings->exec_ms);
        options.note(line);
      }
    }
  }
  t = Clock::now();
  auto destroyed = Destroy(options, *sandbox, audit, "run finished");
  if (timings != nullptr) {
    timings->teardown_ms = MillisSince(t);
  }
  if (!outcome) {
    return Error{outcome.error().message};
  }
  if (!destroyed) {
    return Error{destroyed.error().message};
  }
  if (!outcome->message.empty() && options.note) {
    options.note(outcome->message);
  }
  return outcome->exit_status;
}

}  // namespace mvm::runtime
