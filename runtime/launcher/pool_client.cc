// The pool's clients: listing and querying pools, stopping one, and claiming a ready sandbox for a
// `run` or `up` (the pool process itself is pool.cc).

#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "backend-emit/plan/payload.h"
#include "backend-emit/plan/replay.h"
#include "backend-emit/plan/time.h"
#include "ir/digest.h"
#include "ir/support/os/errno_text.h"
#include "runtime/launcher/internal.h"
#include "runtime/launcher/pool.h"
#include "runtime/launcher/pool_wire.h"

namespace mvm::runtime {

using namespace internal;  // NOLINT(google-build-using-namespace)

bool IsPoolRunning(const PoolRecord& pool) {
  return pool.pid > 0 && pool.pid_start_time != 0 &&
         ProcessStartTime(pool.pid) == pool.pid_start_time;
}

std::vector<PoolRecord> ListPools(const StateDir& state, std::vector<std::string>& problems) {
  std::vector<PoolRecord> out;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(state.Pools(), ec)) {
    if (e.path().extension() != ".json") {
      continue;
    }
    auto r = ReadPoolRecord(e.path());
    if (r) {
      out.push_back(std::move(*r));
    } else {
      problems.push_back(r.error().message);
    }
  }
  std::sort(out.begin(), out.end(),
            [](const PoolRecord& a, const PoolRecord& b) { return a.name < b.name; });
  return out;
}

ErrorOr<std::string> PoolKey(const LauncherOptions& options, const AdmittedPlan& plan,
                             const StartOptions& start) {
  plan::v1::ExecutionPlan p = plan.verified.plan;
  // What does not change the sandbox: when the plan is valid, its place in the epoch order, who
  // signed it. The claimer's own admission checks those.
  p.clear_not_before();
  p.clear_expires_at();
  p.clear_epoch();
  p.clear_key_id();
  p.clear_compiler_version();
  nlohmann::json material = {{"plan", ir::Sha256Hex(plan::PlanToCanonicalJson(p))},
                             {"backend", options.backend}};
  // The agent file by identity rather than content: hashing megabytes would cost every claim more
  // than the claim itself; a rebuilt agent is a new file.
  struct stat st {};
  if (::stat(options.agent_binary.c_str(), &st) != 0) {
    return Error{"cannot stat the guest agent `" + options.agent_binary.string() +
                 "`: " + os::ErrnoText(errno)};
  }
  material["agent"] = {options.agent_binary.string(),
                       st.st_dev,
                       st.st_ino,
                       st.st_size,
                       st.st_mtim.tv_sec,
                       st.st_mtim.tv_nsec};
  nlohmann::json files = nlohmann::json::array();
  for (const auto& [guest, host] : start.app_files) {
    std::ifstream in(host, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      return Error{"cannot read `" + host.string() + "`"};
    }
    files.push_back({guest, ir::Sha256Hex(bytes)});
  }
  material["app_files"] = files;
  if (!start.app_files.empty()) {
    material["sdk"] = options.python_sdk.string();
  }
  nlohmann::json volumes = nlohmann::json::array();
  for (const plan::v1::Mount& m : p.mounts()) {
    if (m.kind() == "memory") {
      continue;
    }
    if (m.kind() == "encrypted") {
      // A store is mounted by one sandbox at a time, and a pool's sandboxes all wait at once.
      return Error{"workload `" + p.workload().id() + "` declares `Volume.encrypted(\"" +
                   m.source() +
                   "\")`, and a warm pool cannot hold encrypted volumes (a store is "
                   "mounted by one sandbox at a time); run the workload without a pool"};
    }
    if (m.kind() == "object") {
      // Each sandbox's s3fs holds the credentials; a pool would keep them mounted while idle.
      return Error{"workload `" + p.workload().id() + "` declares `Volume.object(\"" + m.source() +
                   "\")`, and a warm pool cannot hold object volumes (each is mounted for the "
                   "sandbox that uses it); run the workload without a pool"};
    }
    auto source = volumes::ResolveLocalSource(m.source(), start.project_root);
    if (!source) {
      return source.error();
    }
    volumes.push_back({m.target(), source->string()});
  }
  material["volumes"] = volumes;
  return "sha256:" + ir::Sha256Hex(material.dump());
}

ErrorOr<PoolStatus> QueryPool(const StateDir& state, std::string_view name) {
  auto reply = Request(state, name, {{"op", "status"}});
  if (!reply) {
    return reply.error();
  }
  try {
    PoolStatus s;
    s.size = reply->at("size").get<uint32_t>();
    s.ready = reply->at("ready").get<uint32_t>();
    s.booting = reply->at("booting").get<uint32_t>();
    s.claimed = reply->at("claimed").get<uint64_t>();
    s.failed = reply->at("failed").get<uint64_t>();
    s.last_error = reply->at("last_error").get<std::string>();
    s.sandboxes = reply->at("sandboxes").get<std::vector<std::string>>();
    return s;
  } catch (const nlohmann::json::exception& e) {
    return Error{"pool `" + std::string(name) + "` answered oddly: " + e.what()};
  }
}

ErrorOr<Ok> StopPool(const StateDir& state, std::string_view name,
                     std::chrono::milliseconds timeout) {
  auto record = ReadPoolRecord(PoolFile(state, name, ".json"));
  if (!record) {
    return MakeError(ErrorKind::kNoSuchPool, "no pool named `" + std::string(name) +
                                                 "` (state dir `" + state.root.string() +
                                                 "`); `mvmctl pool ls` lists them");
  }
  if (!IsPoolRunning(*record)) {
    std::error_code ec;
    fs::remove(PoolFile(state, name, ".json"), ec);
    fs::remove(PoolFile(state, name, ".sock"), ec);
    return Ok{};
  }
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, record->pid, 0));
  auto reply = Request(state, name, {{"op", "stop"}});
  if (!reply && pidfd >= 0 && IsPoolRunning(*record)) {
    (void)::syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, nullptr, 0);
  }
  if (pidfd < 0) {
    return Ok{};  // gone already
  }
  pollfd p{pidfd, POLLIN, 0};
  int ready;
  do {
    ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
  } while (ready < 0 && errno == EINTR);
  ::close(pidfd);
  if (ready <= 0) {
    return Error{"pool `" + std::string(name) + "` (pid " + std::to_string(record->pid) +
                 ") is still stopping after " + std::to_string(timeout.count() / 1000) +
                 " s; it finishes the boot in progress first"};
  }
  return Ok{};
}

ErrorOr<std::optional<Sandbox>> ClaimFromPool(const LauncherOptions& options,
                                              const AdmittedPlan& plan, const StartOptions& start,
                                              const std::string& name, PhaseTimings* timings) {
  auto t0 = Clock::now();
  const plan::v1::ExecutionPlan& p = plan.verified.plan;
  std::vector<std::string> problems;
  std::vector<PoolRecord> pools;
  for (PoolRecord& pool : ListPools(options.state, problems)) {
    if (pool.backend == options.backend && pool.workload_id == p.workload().id() &&
        IsPoolRunning(pool)) {
      pools.push_back(std::move(pool));
    }
  }
  if (pools.empty()) {
    return std::optional<Sandbox>{};
  }
  auto key = PoolKey(options, plan, start);
  if (!key) {
    return std::optional<Sandbox>{};  // the cold start reports the same problem
  }
  std::erase_if(pools, [&](const PoolRecord& pool) { return pool.key != *key; });
  if (pools.empty()) {
    if (options.verbose && options.note) {
      options.note("a pool holds workload `" + p.workload().id() +
                   "` but for another plan, files or volumes; starting a new sandbox");
    }
    return std::optional<Sandbox>{};
  }
  auto lock = LockNameForNewSandbox(options.state, name);
  if (!lock) {
    return lock.error();
  }
  std::pair<int, pid_t> watchdog{-1, -1};
  if (!start.detached) {
    auto started = StartWatchdog(options.state, name);
    if (!started) {
      return started.error();
    }
    watchdog = *started;
  }
  // What the pool needs to check the claim itself: the plan file and the start options that enter
  // PoolKey. The lock of `name` goes along (SCM_RIGHTS), as the pool renames onto that name.
  nlohmann::json app_files = nlohmann::json::array();
  for (const auto& [guest, host] : start.app_files) {
    app_files.push_back({guest, host.string()});
  }
  nlohmann::json request = {{"op", "claim"},
                            {"name", name},
                            {"detached", start.detached},
                            {"plan", plan.bytes},
                            {"app_files", app_files},
                            {"project_root", start.project_root.string()}};
  nlohmann::json reply;
  const PoolRecord* from = nullptr;
  for (const PoolRecord& pool : pools) {
    auto answer = Request(options.state, pool.name, request, lock->fd());
    if (answer && answer->value("ok", false)) {
      reply = std::move(*answer);
      from = &pool;
      break;
    }
    if (options.verbose && options.note) {
      std::string why = !answer                         ? answer.error().message
                        : answer->value("empty", false) ? "no sandbox ready yet"
                                                        : answer->value("error", "refused");
      options.note("pool `" + pool.name + "`: " + why);
    }
  }
  if (from == nullptr) {
    DisarmWatchdog(watchdog.first, watchdog.second);
    return std::optional<Sandbox>{};
  }
  std::string pooled_as = reply.value("pooled_as", "");
  auto lost = [&](const std::string& why) -> Error {
    // The watchdog, not disarmed, removes what is left of it.
    if (watchdog.first >= 0) {
      ::close(watchdog.first);
    }
    return Error{"the sandbox claimed from pool `" + from->name + "` (" + pooled_as +
                 ") was lost during the hand-over: " + why};
  };
  auto record = ReadRecord(options.state, name);
  if (!record) {
    return lost(record.error().message);
  }
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, record->pid, 0));
  if (pidfd < 0 || !IsRunning(*record)) {
    if (pidfd >= 0) {
      ::close(pidfd);
    }
    return lost("its process has ended");
  }
  auto client = agent::Client::Connect(options.state.AgentSocket(name), std::chrono::seconds(5));
  if (!client) {
    ::close(pidfd);
    SignalRecord(*record, SIGKILL);
    return lost("its guest agent does not answer: " + client.error().message);
  }
  Sandbox sandbox = SandboxAccess::Adopt(std::move(*record), pidfd, std::move(*client), watchdog);
  double claim_ms = MillisSince(t0);
  std::string acceleration = reply.value("acceleration", "");
  // The claim's audit record is the pool's (PoolProcess::Claim), written before it let go.
  if (timings != nullptr) {
    timings->pool = from->name;
    timings->claim_ms = claim_ms;
    timings->acceleration = acceleration;
  }
  if (options.verbose && options.note) {
    char line[256];
    std::snprintf(line, sizeof line,
                  "claimed a ready sandbox from pool `%s` in %.1f ms (booted as %s, ready for "
                  "%.1f s%s%s)",
                  from->name.c_str(), claim_ms, pooled_as.c_str(),
                  reply.value("ready_for_ms", 0.0) / 1000.0, acceleration.empty() ? "" : ", ",
                  acceleration.c_str());
    options.note(line);
  }
  return std::optional<Sandbox>(std::move(sandbox));
}

}  // namespace mvm::runtime
