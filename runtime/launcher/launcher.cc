#include "runtime/launcher/launcher.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
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
#include "ir/function_entrypoint.h"
#include "ir/support/os/atomic_file.h"
#include "ir/support/os/utc_time.h"
#include "ir/support/terminal_text.h"
#include "runtime/launcher/builder.h"
#include "runtime/launcher/internal.h"
#include "runtime/launcher/pool.h"
#include "runtime/rootfs/debian_image.h"
#include "runtime/rootfs/rootfs.h"
#include "runtime/volumes/volume.h"

namespace mvm::runtime {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace internal {

double MillisSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

StepClock::StepClock(PhaseTimings* timings) : timings_(timings), last_(Clock::now()) {}

void StepClock::Mark(std::string_view step) { MarkPart(step, 0); }

void StepClock::MarkPart(std::string_view step, double phases_ms) {
  if (timings_ == nullptr) {
    return;
  }
  const auto now = Clock::now();
  const double ms = std::chrono::duration<double, std::milli>(now - last_).count() - phases_ms;
  last_ = now;
  auto& steps = timings_->start_steps;
  auto it =
      std::find_if(steps.begin(), steps.end(), [&](const auto& s) { return s.first == step; });
  if (it == steps.end()) {
    steps.emplace_back(std::string(step), ms);
  } else {
    it->second += ms;
  }
}

void StepClock::Skip() { last_ = Clock::now(); }

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

bool UsesPythonSdk(const plan::v1::ExecutionPlan& p, const StartOptions& start) {
  if (!start.app_files.empty()) {
    return true;
  }
  return std::any_of(
      p.workload().entrypoints().begin(), p.workload().entrypoints().end(),
      [](const ir::v1::Entrypoint& e) { return ir::DeclaringFileOf(e).has_value(); });
}

void RemoveTraces(const StateDir& state, std::string_view name, std::string_view instance) {
  // Every backend's, not only the record's: a damaged or missing record must not leave a trace.
  for (const backends::Backend* backend : backends::All()) {
    backend->Cleanup(instance);
  }
  // Its volumes' views: they live outside its directory, so that removing the directory can never
  // reach into a store that failed to unmount.
  (void)volumes::DetachSandboxViews(state.root, std::string(name));
  std::error_code ec;
  fs::remove_all(state.Sandbox(name), ec);
}

ErrorOr<SandboxLock> LockNameForNewSandbox(const StateDir& state, const std::string& name) {
  auto lock = SandboxLock::Acquire(state, name);
  if (!lock) {
    return lock.error();
  }
  if (auto existing = ReadRecord(state, name)) {
    if (IsRunning(*existing)) {
      return Error{"a sandbox named `" + name + "` is already running; `mvmctl stop " + name +
                   "` stops it, or pick another --name"};
    }
    RemoveTraces(state, name, existing->InstanceName());
  } else if (fs::exists(state.Sandbox(name))) {
    RemoveTraces(state, name, name);
  }
  return lock;
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

/// The parent-death watchdog: a helper process (runtime/backends/helper.h) in its own session, so a
/// terminal's Ctrl-C does not reach it, holding the read end of a pipe whose write end only the
/// launcher has. The launcher writes 'd' when it has cleaned up (or detaches); EOF without it means
/// the launcher died, and the watchdog kills the sandbox and its other helpers and removes its
/// cgroups and state (RunWatchdog). PID 1 itself also has PR_SET_PDEATHSIG, so the workload stops
/// at once even before the watchdog runs. The watchdog is this program again, exec'd: the
/// launcher may have threads, and C++ run in a forked child of a threaded process can hang on a
/// lock another thread held at the fork. It is exec'd only when the pipe hangs up
/// (HelperSpec::exec_on_hangup): until then the forked child waits in read(2), so a run that ends
/// normally never loads this program a second time.
ErrorOr<std::pair<int, pid_t>> StartWatchdog(const StateDir& state, const std::string& name,
                                             os::UniqueFd* unconfirmed) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return Error{std::string("cannot create the watchdog pipe: ") + std::strerror(errno)};
  }
  backends::HelperSpec spec;
  spec.role = "watchdog";
  spec.program = "/proc/self/exe";
  spec.argv = {"mvm-watchdog", std::string(kHelperFlag), "watchdog", state.root.string(), name};
  spec.fds = {fds[0]};
  spec.dies_with_parent = false;
  spec.own_session = true;
  spec.exec_on_hangup = true;
  // The child exists once StartHelper returns, and a launcher that dies from then on is its
  // hang-up whether or not the child has run yet; whether it could place its descriptors is
  // asked later (or at once, without `unconfirmed`), so that a launch does not wait here for it
  // to be scheduled.
  spec.confirm_later = true;
  auto helper = backends::StartHelper(spec);
  ::close(fds[0]);
  if (!helper) {
    ::close(fds[1]);
    return helper.error();
  }
  if (unconfirmed != nullptr) {
    *unconfirmed = std::move(helper->unconfirmed);
  } else if (auto confirmed = backends::ConfirmHelper(helper->unconfirmed, spec.role); !confirmed) {
    ::close(fds[1]);
    while (::waitpid(helper->process.pid(), nullptr, 0) < 0 && errno == EINTR) {
    }
    return confirmed.error();
  }
  // The pidfd is not needed: the launcher reaps the watchdog by pid once it is disarmed.
  return std::make_pair(fds[1], helper->process.pid());
}

namespace {

/// Disarmed watchdogs not yet reaped, by pidfd (a pid could be reused once something else reaped
/// it). A disarmed watchdog has nothing left to do but exit, so nobody waits for that: each disarm
/// reaps those that have exited since, and those still there when this process exits are reaped by
/// whoever inherits them. At most the sandboxes ended since the last disarm are left here.
std::mutex unreaped_mutex;
std::vector<int> unreaped_watchdogs;

void ReapDisarmedWatchdogs() {
  std::lock_guard<std::mutex> lock(unreaped_mutex);
  std::erase_if(unreaped_watchdogs, [](int pidfd) {
    siginfo_t info{};
    if (::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED | WNOHANG) == 0 &&
        info.si_pid == 0) {
      return false;  // still exiting
    }
    ::close(pidfd);
    return true;
  });
}

}  // namespace

void DisarmWatchdog(int& fd, pid_t& pid) {
  if (fd >= 0) {
    char d = 'd';
    (void)!::write(fd, &d, 1);
    ::close(fd);
    fd = -1;
  }
  if (pid > 0) {
    // Not waited for: on `run`'s path that wait was one more process to be scheduled (and a
    // copy of this one's address space to be torn down) before the exit. Still unreaped, the pid
    // is this process's child, so the pidfd names the watchdog.
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (pidfd >= 0) {
      std::lock_guard<std::mutex> lock(unreaped_mutex);
      unreaped_watchdogs.push_back(pidfd);
    } else {
      while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    pid = -1;
  }
  ReapDisarmedWatchdogs();
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
  r.created_at = os::NowUtcText(os::UtcForm::kRfc3339);
  r.memory_mb = static_cast<uint32_t>(p.lifecycle().memory_mb());
  r.root_fs = rootfs_digest;
  r.pool = start.pool;
  return r;
}

void KeepStartMaterial(const LauncherOptions& options, const std::string& name,
                       const AdmittedPlan& admitted, const StartOptions& start) {
  nlohmann::json files = nlohmann::json::array();
  for (const auto& [guest, host] : start.app_files) {
    files.push_back({guest, host.string()});
  }
  const nlohmann::json material = {{"app_files", files},
                                   {"project_root", start.project_root.string()},
                                   {"blobs", plan::ToJson(start.blobs)},
                                   {"payload_digest", admitted.verified.payload_digest}};
  const fs::path dir = options.state.Sandbox(name);
  for (const auto& [file, text] :
       {std::pair{dir / kPlanFile, admitted.bytes}, std::pair{dir / kStartFile, material.dump()}}) {
    // A snapshot copies them durably; a crash ends the sandbox they serve.
    if (auto written =
            os::WriteFileAtomically(file, text, os::kPrivateFile, os::Durability::kThisBootOnly);
        !written && options.note) {
      options.note("warning: snapshots of sandbox `" + name +
                   "` will not be restorable: " + written.error().message);
    }
  }
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

ErrorOr<ResolvedRootfs> ResolveRootfs(const LauncherOptions& options,
                                      const plan::v1::ExecutionPlan& plan, audit::Log& audit) {
  const plan::v1::Artifact* rootfs = nullptr;
  for (const plan::v1::Artifact& a : plan.artifacts()) {
    if (a.role() == "rootfs") {
      rootfs = &a;
    }
  }
  if (rootfs == nullptr) {
    return Error{"the plan names no rootfs artifact"};
  }
  if (rootfs->kind() == "oci") {
    return ResolveOciRootfs(options, *rootfs, audit);
  }
  if (rootfs->kind() == "debian") {
    // The package list is the signed workload's; the artifact's digest pins what it resolved to.
    const ir::v1::Image& image = plan.workload().image();
    rootfs::DebianImageSpec spec{rootfs->ref(), {image.packages().begin(), image.packages().end()}};
    ProgressStep step(options.progress, "preparing Debian image " + rootfs->ref());
    auto made = rootfs::MaterializeDebianImage(
        spec, rootfs->digest(), options.state.RootfsCache(),
        [&](std::string_view line) {
          if (options.note) {
            options.note(line);
          }
        },
        BuilderDebootstrap(options, audit));
    if (!made) {
      return made.error();
    }
    return ResolvedRootfs{made->tree.dir, made->tree.digest, std::nullopt};
  }
  if (!rootfs->digest().empty()) {
    // `mvmctl build` recorded what Nix built; run exactly that tree.
    auto built = nix::FindBuiltArtifact(options.state.root, rootfs->digest());
    if (!built) {
      return built.error();
    }
    return ResolvedRootfs{*built, rootfs->digest(), std::nullopt};
  }
  if (rootfs->kind() == "template") {
    ProgressStep step(options.progress, "preparing template " + rootfs->ref());
    auto made = rootfs::MaterializeTemplate(
        rootfs->ref(), options.state.RootfsCache(),
        [&](std::string_view line) {
          if (options.note) {
            options.note(line);
          }
        },
        BuilderDebootstrap(options, audit));
    if (!made) {
      return made.error();
    }
    return ResolvedRootfs{made->dir, made->digest, std::nullopt};
  }
  if (rootfs->kind() == "nix") {
    return Error{"image `nix:" + rootfs->ref() +
                 "` has not been built: run `mvmctl build` on the plan or source file first, "
                 "which records the built rootfs's digest in the plan"};
  }
  return Error{"the plan's rootfs is of kind `" + rootfs->kind() +
               "`, which this launcher does not know; use a newer mvmctl"};
}

}  // namespace

ErrorOr<Ok> LocateRuntimeFiles(LauncherOptions& options) {
  std::error_code ec;
  fs::path exe_dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  // The build tree keeps the helpers beside mvmctl; `cmake --install` puts them in
  // PREFIX/libexec/mvm.
  auto locate = [&](const char* variable, const char* file, fs::path& out) -> ErrorOr<Ok> {
    if (const char* named = std::getenv(variable); named != nullptr && named[0] != '\0') {
      out = named;
      if (!fs::is_regular_file(out)) {
        return Error{"`" + out.string() + "`, which " + variable + " names, is missing; point " +
                     variable + " at a built `" + file +
                     "`, or unset it to use the one installed with mvmctl"};
      }
      return Ok{};
    }
    const fs::path candidates[] = {exe_dir / file, exe_dir / ".." / "libexec" / "mvm" / file};
    for (const fs::path& candidate : candidates) {
      if (fs::is_regular_file(candidate)) {
        out = candidate.lexically_normal();
        return Ok{};
      }
    }
    return Error{"`" + std::string(file) + "` is neither beside this executable (" +
                 candidates[0].lexically_normal().string() + ") nor in " +
                 candidates[1].lexically_normal().parent_path().string() +
                 ": a copied mvmctl cannot find its helpers; install mvm with `cmake --install "
                 "build --prefix PREFIX` (docs/getting-started.md), or point " +
                 variable + " at a built `" + file + "`"};
  };
  options.agent_binary.clear();
  options.egress_binary.clear();
  if (auto found = locate("MVM_AGENT", "mvm-agent", options.agent_binary); !found) {
    return Error{"the guest agent " + found.error().message};
  }
  if (auto found = locate("MVM_EGRESS", "mvm-egress", options.egress_binary); !found) {
    return Error{"the egress helper " + found.error().message};
  }
  if (const char* sdk = std::getenv("MVM_PYTHON_SDK"); sdk != nullptr && sdk[0] != '\0') {
    options.python_sdk = sdk;
  } else if (fs::path installed = exe_dir / ".." / "share" / "mvm" / "sdks" / "python";
             fs::is_directory(installed)) {
    options.python_sdk = installed.lexically_normal();
  } else {
    options.python_sdk = fs::path(MVM_SOURCE_DIR) / "sdks" / "python";
  }
  return Ok{};
}

Sandbox::Sandbox(Sandbox&& other) noexcept
    : record_(std::move(other.record_)),
      process_(std::move(other.process_)),
      agent_(std::move(other.agent_)),
      watchdog_fd_(std::exchange(other.watchdog_fd_, -1)),
      watchdog_pid_(std::exchange(other.watchdog_pid_, -1)),
      pooled_egress_(std::move(other.pooled_egress_)),
      deferred_audit_(std::exchange(other.deferred_audit_, {})),
      agent_exits_(std::exchange(other.agent_exits_, false)) {
  other.agent_.reset();
}

Sandbox& Sandbox::operator=(Sandbox&& other) noexcept {
  if (this != &other) {
    record_ = std::move(other.record_);
    process_ = std::move(other.process_);
    agent_ = std::move(other.agent_);
    other.agent_.reset();
    watchdog_fd_ = std::exchange(other.watchdog_fd_, -1);
    watchdog_pid_ = std::exchange(other.watchdog_pid_, -1);
    pooled_egress_ = std::move(other.pooled_egress_);
    deferred_audit_ = std::exchange(other.deferred_audit_, {});
    agent_exits_ = std::exchange(other.agent_exits_, false);
  }
  return *this;
}

Sandbox::~Sandbox() {
  // Dropping a sandbox without Destroy or Release leaves its cleanup to the watchdog: closing the
  // pipe without 'd' is exactly the parent-died signal.
  if (watchdog_fd_ >= 0) {
    ::close(watchdog_fd_);
  }
}

void Sandbox::Release() { DisarmWatchdog(watchdog_fd_, watchdog_pid_); }

Sandbox SandboxAccess::Adopt(SandboxRecord record, int pidfd, agent::Client agent,
                             std::pair<int, pid_t> watchdog) {
  Sandbox sandbox;
  sandbox.process_ = backends::OwnedProcess(record.pid, pidfd, /*adopted=*/true);
  sandbox.record_ = std::move(record);
  sandbox.agent_.emplace(std::move(agent));
  sandbox.watchdog_fd_ = watchdog.first;
  sandbox.watchdog_pid_ = watchdog.second;
  return sandbox;
}

int SandboxAccess::HandOver(Sandbox& sandbox) {
  sandbox.agent_.reset();
  DisarmWatchdog(sandbox.watchdog_fd_, sandbox.watchdog_pid_);
  return sandbox.process_.Release();
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
  StepClock clock(timings);
  auto backend = backends::Find(options.backend);
  if (!backend) {
    return backend.error();
  }
  if (start.use_pool && start.pool.empty()) {
    auto claimed = ClaimFromPool(options, admitted, start, name, timings);
    if (!claimed) {
      return claimed.error();
    }
    if (*claimed) {
      // The claimer's plan, not the pool's: the claimer was admitted for this sandbox, and a
      // restore admits its plan again, which the pool's older epoch would fail (replay).
      KeepStartMaterial(options, name, admitted, start);
      return std::move(**claimed);
    }
  }
  auto lock = LockNameForNewSandbox(options.state, name);
  if (!lock) {
    return lock.error();
  }
  clock.Mark("name lock");

  auto t = Clock::now();
  auto rootfs = ResolveRootfs(options, p, audit);
  if (!rootfs) {
    return rootfs.error();
  }
  if (timings != nullptr) {
    timings->materialize_ms = MillisSince(t);
  }
  auto sandbox =
      SandboxAccess::StartOn(**backend, options, admitted, start, audit, timings, name, *rootfs);
  clock.Skip();
  if (sandbox) {
    // A pool's sandbox keeps the pool's plan until a claim replaces it with the claimer's.
    KeepStartMaterial(options, name, admitted, start);
    clock.Mark("record files");
  }
  return sandbox;
}

ErrorOr<Ok> Destroy(const LauncherOptions& options, Sandbox& sandbox, audit::Log& audit,
                    std::string_view reason, std::span<const audit::Log::Event> before) {
  // Paused by another process (`mvmctl pause`): only the record on disk knows.
  if (auto on_disk = ReadRecord(options.state, sandbox.record_.name);
      on_disk && on_disk->pid == sandbox.record_.pid) {
    ThawIfPaused(options.state, *on_disk);
  }
  if (sandbox.agent_) {
    AuditServicesAtStop(sandbox.record_, *sandbox.agent_, audit);
    // The agent answers once its workloads are gone and then waits for the volume audit's last
    // question, which so counts what they did while being stopped. An agent that said it exits
    // watches no volume (it never takes that path while it does).
    if (!sandbox.agent_exits_) {
      (void)sandbox.agent_->Shutdown();
    }
    sandbox.agent_.reset();
    EndGuestVolumeAudit(sandbox.record_);
  }
  if (sandbox.agent_exits_) {
    // Not waited for on the agent's word: its exit is on its way, and this bounds it.
    (void)sandbox.process_.Kill(SIGKILL);
  }
  if (!sandbox.Wait(std::chrono::seconds(3))) {
    (void)sandbox.process_.Kill(SIGKILL);
    (void)sandbox.Wait(std::chrono::seconds(5));
  }
  EndHelpers(sandbox.record_);
  RemoveSandbox(options.state, sandbox.record_.name, sandbox.record_.InstanceName());
  // The end of a sandbox's story: signed with it, in one sync, rather than by Close after it.
  std::vector<audit::Log::Event> step = sandbox.TakeDeferredAudit();
  step.insert(step.end(), before.begin(), before.end());
  step.push_back({"destroy", {{"sandbox", sandbox.record_.name}, {"reason", reason}}});
  (void)audit.AppendAll(step, audit::Log::Seal::kWithCheckpoint);
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
    return lock.error();
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
    return record.error();
  }
  if (IsRunning(*record)) {
    ThawIfPaused(options.state, *record);
    // An agent that does not acknowledge the shutdown (Client bounds the wait) is not waited for.
    auto client =
        agent::Client::Connect(options.state.AgentSocket(name), std::chrono::milliseconds(500));
    if (client) {
      AuditServicesAtStop(*record, *client, audit);
    }
    const bool acknowledged = client && client->Shutdown();
    // After the agent's answer, while it waits for this last question (as in Destroy).
    EndGuestVolumeAudit(*record);
    if (!acknowledged || !WaitGone(*record, std::chrono::seconds(3))) {
      SignalRecord(*record, SIGKILL);
      if (!WaitGone(*record, std::chrono::seconds(5))) {
        return Error{"sandbox `" + std::string(name) + "` (pid " + std::to_string(record->pid) +
                     ") did not exit after SIGKILL"};
      }
    }
  }
  for (const backends::Backend* backend : backends::All()) {
    backend->Cleanup(record->InstanceName());
  }
  // A stopped sandbox holds no view of its volumes: `start` mounts them again, and another sandbox
  // may mount them meanwhile.
  if (auto unmounted = volumes::DetachSandboxViews(options.state.root, std::string(name));
      !unmounted) {
    return unmounted.error();
  }
  // Its helpers end with it, but for the watchdog, which its owner disarms (writing to a watchdog
  // killed here would raise SIGPIPE in the owner) and which finds nothing left to do otherwise.
  EndHelpers(*record);
  if (remove_state) {
    RemoveTraces(options.state, name, record->InstanceName());
    lock->RemoveFile();
  } else {
    record->pid = 0;
    record->pid_start_time = 0;
    record->paused = false;
    record->ports.clear();  // the ports helper ended with it
    record->services.clear();
    if (auto written = WriteRecord(options.state, *record); !written) {
      return written.error();
    }
  }
  (void)audit.Append(remove_state ? "destroy" : "stop", {{"sandbox", name}, {"reason", reason}});
  return Ok{};
}

void PrepareSandboxExec(const SandboxRecord& record, agent::ExecRequest& request, bool cwd_given) {
  AddSandboxEnvironment(record, request.env);
  // Output reaches its caller as it is written, as on a terminal: Python would otherwise hold it
  // in a block buffer until exit, since its stdout is a pipe to the agent. A caller's, the plan's
  // or the image's own setting (all in `env` by now) wins.
  if (std::none_of(request.env.begin(), request.env.end(),
                   [](const auto& e) { return e.first == "PYTHONUNBUFFERED"; })) {
    request.env.emplace_back("PYTHONUNBUFFERED", "1");
  }
  if (!record.image) {
    return;
  }
  if (!cwd_given && !record.image->working_dir.empty()) {
    request.cwd = record.image->working_dir;
  }
  request.uid = record.image->uid;
  request.gid = record.image->gid;
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
  bool oci = false;
  for (const plan::v1::Artifact& a : p.artifacts()) {
    oci = oci || (a.role() == "rootfs" && a.kind() == "oci");
  }
  // A workload of an OCI image without entrypoints runs what the image says (its Entrypoint and
  // Cmd), as a container engine would; that is known once the image is resolved.
  if (entrypoint == nullptr && !(oci && known.empty())) {
    if (known.empty()) {
      return Error{"workload `" + p.workload().id() +
                   "` has no entrypoint to run, only services, and starting services is not "
                   "supported yet; `mvmctl up` starts its sandbox and `mvmctl exec` runs commands "
                   "in it"};
    }
    return Error{"workload `" + p.workload().id() + "` has no entrypoint `" + run.entrypoint +
                 "`; it has " + known};
  }
  std::optional<std::string> declaring_file;
  if (entrypoint != nullptr) {
    declaring_file = ir::DeclaringFileOf(*entrypoint);
  }
  if (declaring_file) {
    bool provided = false;
    for (const auto& file : run.start.app_files) {
      provided = provided || file.first == *declaring_file;
    }
    for (const ir::v1::File& file : p.workload().files()) {
      provided = provided || file.path() == *declaring_file;
    }
    if (!provided) {
      return Error{"entrypoint `" + entrypoint->name() + "` runs a function from `" +
                   *declaring_file +
                   "`, the workload's declaring file, which the plan does not ship; compile it "
                   "again with this mvmctl (plans now list the project files), or run the source "
                   "file (`mvmctl run FILE.py`)"};
    }
  }
  StartOptions start = run.start;
  start.first_request_follows = true;  // the exec below, or Destroy's Shutdown
  auto sandbox = Start(options, admitted, start, audit, timings);
  if (!sandbox) {
    return sandbox.error();
  }
  agent::ExecRequest request;
  if (auto backend = backends::Find(sandbox->record().backend); backend) {
    request.end_when_idle = (*backend)->capabilities().ends_with_agent;
  }
  const std::optional<SandboxRecord::Image>& image = sandbox->record().image;
  if (entrypoint != nullptr) {
    request.argv.assign(entrypoint->command().begin(), entrypoint->command().end());
    request.argv.insert(request.argv.end(), run.args.begin(), run.args.end());
  } else if (image) {
    // Docker's rule: arguments replace Cmd and keep Entrypoint.
    request.argv = image->entrypoint;
    const std::vector<std::string>& rest = run.args.empty() ? image->cmd : run.args;
    request.argv.insert(request.argv.end(), rest.begin(), rest.end());
  }
  if (request.argv.empty()) {
    (void)Destroy(options, *sandbox, audit, "nothing to run");
    return Error{"workload `" + p.workload().id() +
                 "` declares no entrypoint and its image has neither Entrypoint nor Cmd; declare "
                 "an entrypoint, or pass the command after `--`"};
  }
  for (const auto& [k, v] : p.workload().env()) {
    request.env.emplace_back(k, v);
  }
  if (UsesPythonSdk(p, run.start)) {
    request.env.emplace_back("PYTHONPATH", std::string(kSdkMount));
  }
  PrepareSandboxExec(sandbox->record(), request, /*cwd_given=*/false);
  std::sort(request.env.begin(), request.env.end());
  request.stdin_fd = run.stdin_fd;
  uint32_t timeout = static_cast<uint32_t>(
      entrypoint != nullptr && entrypoint->has_timeout_seconds() ? entrypoint->timeout_seconds()
                                                                 : p.lifecycle().timeout_seconds());
  // Workload output reaches a terminal escaped (terminal_text.h); a pipe or file gets the bytes,
  // and so does the user's terminal when the workload has one of its own (`-t`).
  const bool plain = run.raw_output || run.terminal != nullptr;
  const bool escape[2] = {!plain && IsTerminal(1), !plain && IsTerminal(2)};
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
  // The exec's exit goes into the audit log with the sandbox's destroy, in one step: a sync fewer
  // per run. A launcher killed in between leaves the exec without its exit record, as a kill during
  // the exec does; the watchdog records the destroy.
  std::optional<audit::Log::Event> exit_record;
  const std::vector<audit::Log::Event> held_back = sandbox->TakeDeferredAudit();
  auto outcome = Exec(options, sandbox->record(), sandbox->agent(), std::move(request), sink,
                      timeout, audit, "timeout_seconds", run.terminal, &exit_record, held_back);
  for (int i : {0, 1}) {
    if (escape[i]) {
      write_all(i + 1, escapers[i].Finish());
    }
  }
  if (timings != nullptr) {
    timings->exec_ms = MillisSince(t);
    if (!timings->pool.empty()) {
      timings->first_exec_result_ms = timings->claim_ms + timings->exec_ms;
    } else if (!timings->acceleration.empty()) {
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
  if (outcome && outcome->result.agent_exits) {
    sandbox->AgentExits();
  }
  if (timings != nullptr) {
    timings->teardown = outcome && outcome->result.agent_exits ? "agent exited" : "shutdown";
  }
  t = Clock::now();
  auto destroyed = Destroy(options, *sandbox, audit, "run finished",
                           exit_record ? std::span<const audit::Log::Event>(&*exit_record, 1)
                                       : std::span<const audit::Log::Event>());
  if (timings != nullptr) {
    timings->teardown_ms = MillisSince(t);
  }
  if (!outcome) {
    return outcome.error();
  }
  if (!destroyed) {
    return destroyed.error();
  }
  if (declaring_file && image && outcome->exit_status == 127) {
    return Error{"entrypoint `" + entrypoint->name() +
                 "` runs a Python function, and its image has no `python3` on its PATH; use an "
                 "image with Python 3 (e.g. `python:3.12-slim`) or declare a command entrypoint"};
  }
  if (!outcome->message.empty() && options.note) {
    options.note(outcome->message);
  }
  return outcome->exit_status;
}

}  // namespace mvm::runtime
