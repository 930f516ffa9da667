#include "runtime/launcher/pool.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>
#include <thread>
#include <variant>

#include "backend-emit/plan/payload.h"
#include "backend-emit/plan/replay.h"
#include "backend-emit/plan/time.h"
#include "ir/digest.h"
#include "ir/support/os/atomic_file.h"
#include "ir/support/os/errno_text.h"
#include "ir/support/os/utc_time.h"
#include "runtime/agent/framing.h"
#include "runtime/launcher/full_snapshot.h"
#include "runtime/launcher/internal.h"
#include "runtime/launcher/pool_wire.h"

namespace mvm::runtime {

using namespace internal;  // NOLINT(google-build-using-namespace)

namespace {

constexpr auto kMaxBackoff = std::chrono::seconds(60);

/// What stops a pool: SIGINT, SIGTERM and SIGHUP.
sigset_t StopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  return signals;
}

/// The pool process: a main thread that serves the socket and watches the ready sandboxes, and a
/// filler thread that starts sandboxes (a microVM boot takes seconds) whenever ready + booting is
/// below the size.
class PoolProcess {
 public:
  PoolProcess(const LauncherOptions& options, const AdmittedPlan& plan, std::string_view plan_bytes,
              const StartOptions& start, const PoolOptions& pool, audit::Log& audit)
      : options_(options),
        plan_(plan),
        plan_bytes_(plan_bytes),
        start_(start),
        pool_(pool),
        audit_(audit) {
    options_.verbose = false;
    start_.name.clear();
    start_.detached = false;
    start_.use_pool = false;
    start_.pool = pool.name;
  }

  ErrorOr<Ok> Run(const std::string& key);

 private:
  struct Ready {
    Sandbox sandbox;
    Clock::time_point since;
    std::string acceleration;
  };

  void Fill();
  /// One sandbox for the pool: booted, or restored from the pool's snapshot (taken first, from a
  /// booted sandbox, when there is none yet).
  ErrorOr<Sandbox> StartOne(audit::Log& log, PhaseTimings& timings);
  void Say(const std::string& line);
  void Wake();
  nlohmann::json Handle(const nlohmann::json& request, const ucred& peer, int passed_fd,
                        bool& stop);
  /// The claimer's plan admitted again by this pool's trust (without touching replay state), its
  /// key equal to this pool's, and `lock_fd` the claimer's lock of `name`; else an Error and
  /// `reason`, the refusal's name.
  ErrorOr<AdmittedPlan> CheckClaimer(const nlohmann::json& request, const std::string& name,
                                     int lock_fd, std::string& reason);
  nlohmann::json Claim(const nlohmann::json& request, const ucred& peer, int lock_fd);
  void DestroyDead(const std::string& name);

  LauncherOptions options_;
  const AdmittedPlan& plan_;
  std::string plan_bytes_;
  StartOptions start_;
  PoolOptions pool_;
  audit::Log& audit_;
  std::string key_;  ///< PoolKey of the pool's own plan and start options
  int wake_fd_ = -1;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Ready> ready_;
  uint32_t booting_ = 0;
  bool stopping_ = false;
  std::string end_reason_;  ///< set by the filler when the plan stopped verifying
  ErrorKind end_kind_ = ErrorKind::kEnvironment;  ///< what end_reason_ means to RunPool's caller
  uint64_t claimed_ = 0;
  uint64_t failed_ = 0;
  std::string last_error_;
  /// PoolOptions::from_snapshot: the snapshot the pool restores (filler thread only).
  std::optional<FullSnapshotInfo> snapshot_;

  /// pidfds of handed-over sandboxes whose processes are this process's children: reaped when
  /// they end (main thread only).
  std::vector<int> handed_over_;
};

void PoolProcess::Say(const std::string& line) {
  std::string text = "mvmctl pool " + pool_.name + ": " + line + "\n";
  (void)!::write(pool_.out_fd, text.data(), text.size());
}

void PoolProcess::Wake() {
  uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
}

void PoolProcess::Fill() {
  // A Log is not shared between threads; appends from two Logs are serialised by the log's flock.
  auto session = OpenAudit(options_.state);
  int failures = 0;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || ready_.size() + booting_ < pool_.size; });
    if (stopping_) {
      return;
    }
    ++booting_;
    lock.unlock();
    plan::SystemClock clock;
    auto verified = plan::VerifyPlan(plan_bytes_, options_.trusted, clock);
    std::optional<ErrorOr<Sandbox>> started;
    PhaseTimings timings;
    auto t0 = Clock::now();
    if (verified && session) {
      started.emplace(StartOne(*(*session)->log, timings));
    }
    double start_ms = MillisSince(t0);
    lock.lock();
    --booting_;
    if (!session) {
      end_reason_ = "cannot open the audit log: " + session.error().message;
      Wake();
      return;
    }
    if (!verified) {
      end_reason_ = "the plan no longer verifies (" + verified.error().message + ")";
      end_kind_ = ErrorKind::kPlanStoppedVerifying;
      Wake();
      return;
    }
    if (*started) {
      std::string name = (**started).record().name;
      ready_.push_back(Ready{std::move(**started), Clock::now(), timings.acceleration});
      failures = 0;
      char line[160];
      std::snprintf(line, sizeof line, "%s ready (started in %.0f ms%s%s), %zu of %u ready",
                    name.c_str(), start_ms, timings.acceleration.empty() ? "" : ", ",
                    timings.acceleration.c_str(), ready_.size(), pool_.size);
      Say(line);
      Wake();
      continue;
    }
    ++failed_;
    ++failures;
    last_error_ = started->error().message;
    auto backoff = std::min<std::chrono::seconds>(kMaxBackoff,
                                                  std::chrono::seconds(1 << std::min(failures, 6)));
    Say("start failed (retrying in " + std::to_string(backoff.count()) + " s): " + last_error_);
    cv_.wait_for(lock, backoff, [&] { return stopping_; });
  }
}

ErrorOr<Sandbox> PoolProcess::StartOne(audit::Log& log, PhaseTimings& timings) {
  if (!pool_.from_snapshot) {
    return Start(options_, plan_, start_, log, &timings);
  }
  if (!snapshot_) {
    auto booted = Start(options_, plan_, start_, log, &timings);
    if (!booted) {
      return booted.error();
    }
    const std::string name = booted->record().name;
    // A label holds at most 64 characters, a pool name 63.
    auto taken = TakeFullSnapshot(options_, name, "pool-" + pool_.name.substr(0, 59),
                                  /*encrypt=*/false, log);
    // The booted sandbox served as the snapshot's source; its agent connection went with the
    // drain, so the pool keeps restored ones only.
    (void)Destroy(options_, *booted, log, "the pool's snapshot source");
    if (!taken) {
      return Error{"cannot take the pool's snapshot: " + taken.error().message};
    }
    snapshot_ = std::move(*taken);
    Say("snapshot " + snapshot_->label + " of " + name + " taken; refills restore it");
  }
  auto opened = OpenFullSnapshot(options_.state, snapshot_->sandbox, snapshot_->label);
  if (!opened) {
    return opened.error();
  }
  RestoreTimings restored;
  auto sandbox = StartFromFullSnapshot(options_, *opened, plan_, start_, log, &restored);
  if (sandbox) {
    timings.acceleration = opened->info.acceleration;
  }
  return sandbox;
}

void PoolProcess::DestroyDead(const std::string& name) {
  std::optional<Sandbox> dead;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = std::find_if(ready_.begin(), ready_.end(),
                           [&](const Ready& r) { return r.sandbox.record().name == name; });
    if (it == ready_.end()) {
      return;
    }
    dead.emplace(std::move(it->sandbox));
    ready_.erase(it);
  }
  cv_.notify_all();
  Say(name + " ended while waiting in the pool; starting another");
  (void)Destroy(options_, *dead, audit_, "ended in the pool");
}

ErrorOr<AdmittedPlan> PoolProcess::CheckClaimer(const nlohmann::json& request,
                                                const std::string& name, int lock_fd,
                                                std::string& reason) {
  auto refuse = [&](std::string_view why, std::string message) -> Error {
    reason = why;
    return Error{std::move(message)};
  };
  // The claimer's plan, checked as Admit checks it: a claim is a start, and the pool is the only
  // party the claimer cannot skip.
  if (!request.contains("plan") || !request["plan"].is_string()) {
    return refuse("no-plan", "a claim needs the claimer's signed plan file (`plan`)");
  }
  auto checked = VerifyForLauncher(options_, request["plan"].get<std::string>());
  if (auto* refusal = std::get_if<PlanRefusal>(&checked)) {
    return refuse(refusal->reason, refusal->message);
  }
  AdmittedPlan theirs{std::move(std::get<plan::VerifiedPlan>(checked)), "", "", {}};
  const plan::v1::ExecutionPlan& p = theirs.verified.plan;
  if (auto refusal = CheckPolicy(options_, p)) {
    return refuse(refusal->reason, refusal->message);
  }
  if (auto refusal = CheckSecrets(options_, theirs.verified, theirs.secrets)) {
    return refuse(refusal->reason, refusal->message);
  }
  StartOptions start;
  try {
    for (const auto& file : request.value("app_files", nlohmann::json::array())) {
      start.app_files.emplace_back(file.at(0).get<std::string>(),
                                   fs::path(file.at(1).get<std::string>()));
    }
    start.project_root = request.value("project_root", "");
  } catch (const nlohmann::json::exception& e) {
    return refuse("bad-request",
                  std::string("a claim's `app_files` or `project_root` are garbled: ") + e.what());
  }
  // PoolKey reads these files whole, on the thread that serves the socket: a fifo or a device
  // would stall the pool.
  for (const auto& [guest, host] : start.app_files) {
    std::error_code ec;
    if (!fs::is_regular_file(host, ec)) {
      return refuse("bad-request", "a claim's app file `" + host.string() + "` is not a file");
    }
  }
  auto key = PoolKey(options_, theirs, start);
  if (!key || *key != key_) {
    return refuse("key-mismatch",
                  "the claimer's plan of workload `" + p.workload().id() +
                      "` is not interchangeable with this pool's (another plan, files, volumes or "
                      "backend" +
                      (key ? std::string(")") : "; " + key.error().message + ")"));
  }
  // Replay: the claimer's Admit recorded its plan (or found it recorded). The pool only reads that
  // record and requires the claimed plan to be the last one admitted for its workload, so a plan
  // that skipped admission, or an older one that admission would call a replay, claims nothing;
  // and a claimer that lost a race with a newer admission boots its own sandbox.
  plan::ReplayState replay(options_.state.Replay());
  auto last = replay.Last(p.workload().id());
  if (!last) {
    return refuse("replay-state", last.error().message);
  }
  if (!*last || (*last)->epoch != p.epoch() ||
      (*last)->payload_digest != theirs.verified.payload_digest) {
    return refuse("not-admitted",
                  "the claimer's plan (epoch " + std::to_string(p.epoch()) +
                      ") is not the last plan admitted for workload `" + p.workload().id() +
                      "`; claims go through `mvmctl run` or `mvmctl up`, which admit first");
  }
  // The name: the claimer passes the fd of its lock on it (SandboxLock), and the pool checks that
  // it is that lock file and that no one else holds it, so the rename below cannot race a start
  // or a stop of that name. Taking the lock itself instead would make the claimer give it up
  // between its own checks and the claim.
  fs::path lock_path = options_.state.Sandboxes() / (name + ".lock");
  struct stat held {};
  struct stat named {};
  if (lock_fd < 0 || ::fstat(lock_fd, &held) != 0 || ::lstat(lock_path.c_str(), &named) != 0 ||
      held.st_dev != named.st_dev || held.st_ino != named.st_ino ||
      ::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    return refuse("lock-not-held", "a claim of `" + name +
                                       "` must pass the claimer's lock of that name along "
                                       "(`" +
                                       lock_path.string() + "`, held by no one else)");
  }
  return theirs;
}

nlohmann::json PoolProcess::Claim(const nlohmann::json& request, const ucred& peer, int lock_fd) {
  auto fail = [](const std::string& message) {
    return nlohmann::json{{"ok", false}, {"error", message}};
  };
  std::string name = request.value("name", nlohmann::json()).is_string()
                         ? request["name"].get<std::string>()
                         : std::string();
  std::string reason = "bad-request";
  ErrorOr<AdmittedPlan> admitted = Error{"a claim needs a valid sandbox `name`"};
  if (IsSandboxName(name)) {
    admitted = CheckClaimer(request, name, lock_fd, reason);
  }
  if (!admitted) {
    // Refused before anything changed; audited here, where no claimer can skip it.
    (void)audit_.Append("refuse", {{"stage", "claim"},
                                   {"reason", reason},
                                   {"message", admitted.error().message},
                                   {"pool", pool_.name},
                                   {"sandbox", IsSandboxName(name) ? name : std::string()},
                                   {"claimer_pid", peer.pid},
                                   {"claimer_uid", peer.uid}});
    Say("refused a claim by pid " + std::to_string(peer.pid) + ": " + admitted.error().message);
    return {{"ok", false}, {"refused", true}, {"error", "refused: " + admitted.error().message}};
  }
  const plan::v1::ExecutionPlan& theirs = admitted->verified.plan;
  bool detached = request.value("detached", false);
  while (true) {
    std::unique_lock<std::mutex> lock(mu_);
    if (ready_.empty()) {
      return {{"ok", false}, {"empty", true}, {"booting", booting_}};
    }
    Ready taken = std::move(ready_.front());
    ready_.pop_front();
    lock.unlock();
    // The filler is woken once the claim is answered (Run's loop), not here: its Start forks a
    // watchdog, and a fork while this thread allocates can leave the child's allocator locked
    // under ASan (clang 14's allocator is not held across fork), so the two are kept apart.
    SandboxRecord& record = SandboxAccess::Record(taken.sandbox);
    if (!IsRunning(record)) {
      (void)Destroy(options_, taken.sandbox, audit_, "ended in the pool");
      continue;
    }
    std::string pooled_as = record.name;
    auto give_back = [&] {
      std::lock_guard<std::mutex> relock(mu_);
      ready_.push_front(std::move(taken));
    };
    if (name != pooled_as &&
        ::renameat2(AT_FDCWD, options_.state.Sandbox(pooled_as).c_str(), AT_FDCWD,
                    options_.state.Sandbox(name).c_str(), RENAME_NOREPLACE) != 0) {
      std::string why = os::ErrnoText(errno);
      give_back();
      return fail("cannot give the sandbox the name `" + name + "`: " + why);
    }
    SandboxRecord unclaimed = record;
    SandboxRecord claimed = record;
    claimed.name = name;
    claimed.instance = pooled_as;
    claimed.pool.clear();
    claimed.detached = detached;
    claimed.owner_pid = peer.pid;
    claimed.owner_uid = peer.uid;
    bool retokened = false;  // its egress helper knows the claimer's tokens: it cannot go back
    auto undo = [&] {
      if (name != pooled_as) {
        (void)::rename(options_.state.Sandbox(name).c_str(),
                       options_.state.Sandbox(pooled_as).c_str());
      }
      (void)WriteRecord(options_.state, unclaimed);
      if (retokened) {
        (void)Destroy(options_, taken.sandbox, audit_, "a claim of it failed");
        return;
      }
      give_back();
    };
    // Fresh tokens for the claimer: the pool's helper knew the ones minted when it booted.
    retokened = !claimed.secret_tokens.empty();  // even when the restart fails half-way
    if (auto restarted = SandboxAccess::RetokenForClaim(taken.sandbox, options_, name, claimed);
        !restarted) {
      undo();
      return fail("cannot restart the claimed sandbox's egress helper: " +
                  restarted.error().message);
    }
    if (auto written = WriteRecord(options_.state, claimed); !written) {
      undo();
      return fail(written.error().message);
    }
    // The one record of the claim, written by the pool before it lets go: a claim that cannot be
    // audited does not happen.
    auto audited = audit_.Append("claim", {{"sandbox", name},
                                           {"pool", pool_.name},
                                           {"pooled_as", pooled_as},
                                           {"workload", theirs.workload().id()},
                                           {"payload_digest", admitted->verified.payload_digest},
                                           {"epoch", theirs.epoch()},
                                           {"backend", options_.backend},
                                           {"detached", detached},
                                           {"claimer_pid", peer.pid},
                                           {"claimer_uid", peer.uid}});
    if (!audited) {
      undo();
      return fail("cannot audit the claim: " + audited.error().message);
    }
    AuditSecretReleases(audit_, name, *admitted, pool_.name);
    record = claimed;
    int pidfd = SandboxAccess::HandOver(taken.sandbox);
    if (pidfd >= 0) {
      handed_over_.push_back(pidfd);
    }
    double waited = std::chrono::duration<double, std::milli>(Clock::now() - taken.since).count();
    {
      std::lock_guard<std::mutex> relock(mu_);
      ++claimed_;
    }
    Say(pooled_as + " claimed as " + name + " by pid " + std::to_string(peer.pid));
    return {{"ok", true},
            {"name", name},
            {"pooled_as", pooled_as},
            {"pool", pool_.name},
            {"audit_id", *audited},
            {"acceleration", taken.acceleration},
            {"ready_for_ms", waited}};
  }
}

nlohmann::json PoolProcess::Handle(const nlohmann::json& request, const ucred& peer, int passed_fd,
                                   bool& stop) {
  std::string op = request.value("op", "");
  if (op == "claim") {
    return Claim(request, peer, passed_fd);
  }
  if (op == "status") {
    std::lock_guard<std::mutex> lock(mu_);
    nlohmann::json names = nlohmann::json::array();
    for (const Ready& r : ready_) {
      names.push_back(r.sandbox.record().name);
    }
    return {{"ok", true},
            {"size", pool_.size},
            {"ready", ready_.size()},
            {"booting", booting_},
            {"claimed", claimed_},
            {"failed", failed_},
            {"last_error", last_error_},
            {"sandboxes", names}};
  }
  if (op == "stop") {
    stop = true;
    return {{"ok", true}};
  }
  return {{"ok", false}, {"error", "unknown op `" + op + "`; use claim, status or stop"}};
}

ErrorOr<Ok> PoolProcess::Run(const std::string& key) {
  key_ = key;
  // Our own copy of the output fd: a container start briefly points fd 2 at the agent's log.
  pool_.out_fd = ::fcntl(pool_.out_fd, F_DUPFD_CLOEXEC, 3);
  std::error_code ec;
  fs::create_directories(options_.state.Pools(), ec);
  fs::permissions(options_.state.Pools(), fs::perms::owner_all, ec);
  fs::path lock_path = PoolFile(options_.state, pool_.name, ".lock");
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) {
    return Error{"cannot open `" + lock_path.string() + "`: " + os::ErrnoText(errno)};
  }
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd);
    return Error{"pool `" + pool_.name + "` is already running; `mvmctl pool stop " + pool_.name +
                 "` stops it, or pick another --name"};
  }
  fs::path socket_path = PoolFile(options_.state, pool_.name, ".sock");
  if (socket_path.native().size() >= sizeof(sockaddr_un::sun_path)) {
    ::close(lock_fd);
    return Error{"the socket path `" + socket_path.string() +
                 "` is too long for a unix socket; use a shorter --state-dir or pool name"};
  }
  // A dead pool's socket is replaced: the lock says none runs.
  auto listening = agent::ListenUnix(socket_path.string());
  if (!listening) {
    ::close(lock_fd);
    return Error{"cannot listen on `" + socket_path.string() + "`: " + listening.error().message};
  }
  int listen_fd = listening->Release();
  const plan::v1::ExecutionPlan& p = plan_.verified.plan;
  PoolRecord record;
  record.name = pool_.name;
  record.key = key;
  record.workload_id = p.workload().id();
  record.payload_digest = plan_.verified.payload_digest;
  record.backend = options_.backend;
  record.size = pool_.size;
  record.pid = ::getpid();
  record.pid_start_time = ProcessStartTime(record.pid);
  record.created_at = os::NowUtcText(os::UtcForm::kRfc3339);
  fs::path record_path = PoolFile(options_.state, pool_.name, ".json");
  auto cleanup_files = [&] {
    ::unlink(socket_path.c_str());
    ::unlink(record_path.c_str());
    ::close(listen_fd);
    ::close(lock_fd);
  };
  if (auto written =
          os::WriteFileAtomically(record_path, ToJson(record).dump(2) + "\n", os::kPrivateFile);
      !written) {
    cleanup_files();
    return written.error();
  }
  (void)audit_.Append("pool-start", {{"pool", pool_.name},
                                     {"workload", record.workload_id},
                                     {"payload_digest", record.payload_digest},
                                     {"backend", record.backend},
                                     {"size", record.size},
                                     {"key", key}});
  sigset_t stop_signals = StopSignals();
  int signal_fd = ::signalfd(-1, &stop_signals, SFD_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (signal_fd < 0 || wake_fd_ < 0) {
    cleanup_files();
    return Error{"cannot create the pool's signal or wake-up fd: " + os::ErrnoText(errno)};
  }
  if (pool_.on_listening) {
    pool_.on_listening(record);
  }
  std::thread filler([this] { Fill(); });

  std::string reason;
  while (reason.empty()) {
    std::vector<pollfd> fds = {
        {signal_fd, POLLIN, 0}, {listen_fd, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    std::vector<std::string> ready_names;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const Ready& r : ready_) {
        fds.push_back({SandboxAccess::Pidfd(r.sandbox), POLLIN, 0});
        ready_names.push_back(r.sandbox.record().name);
      }
    }
    size_t handed_from = fds.size();
    for (int fd : handed_over_) {
      fds.push_back({fd, POLLIN, 0});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      reason = "poll failed: " + os::ErrnoText(errno);
      break;
    }
    if (fds[0].revents & POLLIN) {
      reason = "stopped by signal";
      break;
    }
    if (fds[2].revents & POLLIN) {
      uint64_t n;
      (void)!::read(wake_fd_, &n, sizeof n);
      std::lock_guard<std::mutex> lock(mu_);
      if (!end_reason_.empty()) {
        reason = end_reason_;
        break;
      }
    }
    for (size_t i = 3; i < handed_from; ++i) {
      if (fds[i].revents != 0) {
        DestroyDead(ready_names[i - 3]);
      }
    }
    for (size_t i = handed_from; i < fds.size(); ++i) {
      if (fds[i].revents != 0) {
        siginfo_t info{};
        (void)::waitid(P_PIDFD, static_cast<id_t>(fds[i].fd), &info, WEXITED | WNOHANG);
        ::close(fds[i].fd);
        handed_over_.erase(std::find(handed_over_.begin(), handed_over_.end(), fds[i].fd));
      }
    }
    if (fds[1].revents & POLLIN) {
      int client = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) {
        continue;
      }
      ucred peer{};
      socklen_t len = sizeof peer;
      (void)::getsockopt(client, SOL_SOCKET, SO_PEERCRED, &peer, &len);
      bool stop = false;
      int passed_fd = -1;
      auto request = ReadJsonLine(client, &passed_fd);
      nlohmann::json reply =
          request ? Handle(*request, peer, passed_fd, stop)
                  : nlohmann::json{{"ok", false}, {"error", request.error().message}};
      (void)WriteAll(client, reply.dump() + "\n");
      ::close(client);
      cv_.notify_all();  // a claim may have made room for the filler
      if (passed_fd >= 0) {
        ::close(passed_fd);  // the claimer's lock stays held by its own fd
      }
      if (stop) {
        reason = "mvmctl pool stop";
      }
    }
  }

  Say("stopping (" + reason + ")");
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  filler.join();  // waits out a start in progress: a boot cannot be interrupted half-way
  std::deque<Ready> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    left.swap(ready_);
  }
  for (Ready& r : left) {
    (void)Destroy(options_, r.sandbox, audit_, "pool stopped");
  }
  if (snapshot_) {
    (void)RemoveFullSnapshot(options_.state, snapshot_->sandbox, snapshot_->label, audit_);
  }
  for (int fd : handed_over_) {
    ::close(fd);  // claimed sandboxes outlive the pool; init reaps them
  }
  ::close(signal_fd);
  ::close(wake_fd_);
  cleanup_files();
  (void)audit_.Append("pool-stop",
                      {{"pool", pool_.name}, {"reason", reason}, {"claimed", claimed_}});
  Say("stopped; " + std::to_string(claimed_) + " sandbox" + (claimed_ == 1 ? "" : "es") +
      " claimed");
  ::close(pool_.out_fd);
  if (!end_reason_.empty() && reason == end_reason_) {
    return MakeError(end_kind_, reason);
  }
  return Ok{};
}

}  // namespace

void BlockPoolStopSignals() {
  sigset_t signals = StopSignals();
  sigprocmask(SIG_BLOCK, &signals, nullptr);
}

ErrorOr<Ok> RunPool(const LauncherOptions& options, const AdmittedPlan& plan,
                    std::string_view plan_bytes, const StartOptions& start, const PoolOptions& pool,
                    audit::Log& audit) {
  if (!IsSandboxName(pool.name)) {
    return Error{"`" + pool.name +
                 "` is not a valid pool name: use lowercase letters, digits and '-', at most 63, "
                 "starting with a letter or digit"};
  }
  if (pool.size == 0) {
    return Error{"a pool needs a size of at least 1"};
  }
  if (pool.from_snapshot) {
    auto backend = backends::Find(options.backend);
    if (!backend) {
      return backend.error();
    }
    if (!(*backend)->capabilities().full_snapshots) {
      return MakeError(ErrorKind::kUsage,
                       "--from-snapshot needs a backend with full snapshots (qemu-microvm); the " +
                           options.backend + " backend boots every sandbox of a pool");
    }
  }
  auto key = PoolKey(options, plan, start);
  if (!key) {
    return key.error();
  }
  PoolProcess process(options, plan, plan_bytes, start, pool, audit);
  return process.Run(*key);
}

}  // namespace mvm::runtime
