// `mvmctl pool start|ls|stop`: warm pools of ready sandboxes (runtime/launcher/pool.h).

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/runtime_session.h"
#include "runtime/launcher/pool.h"

namespace mvm::cli {

namespace {

constexpr uint32_t kMaxPoolSize = 64;
constexpr auto kStopTimeout = std::chrono::seconds(120);

nlohmann::json Describe(const runtime::PoolRecord& r, const std::string& audit_id) {
  return {{"name", r.name},       {"workload", r.workload_id},
          {"backend", r.backend}, {"size", r.size},
          {"pid", r.pid},         {"key", r.key},
          {"audit_id", audit_id}};
}

std::string HumanLine(const runtime::PoolRecord& r) {
  return "pool " + r.name + " is up (workload " + r.workload_id + ", backend " + r.backend +
         ", size " + std::to_string(r.size) + ", pid " + std::to_string(r.pid) + ")";
}

/// A usage error naming the first flag of `args` that `verb` does not take, or empty.
std::string UnexpectedFlag(const Args& args, std::string_view verb,
                           std::initializer_list<std::string_view> allowed) {
  for (const auto& [flag, values] : args.flags) {
    if (std::find(allowed.begin(), allowed.end(), flag) == allowed.end()) {
      return "`pool " + std::string(verb) + "` does not take --" + flag;
    }
  }
  return "";
}

int Start(Args* args) {
  if (args->positional.size() != 1) {
    return Fail(
        "pool",
        MakeError(ErrorKind::kUsage,
                  "give one source file or plan: `mvmctl pool start FILE|PLAN --name POOL`"));
  }
  if (!args->Has("name")) {
    return Fail("pool", MakeError(ErrorKind::kUsage,
                                  "`--name POOL` is required: `pool ls` and `pool stop` use it"));
  }
  std::string name = args->Get("name");
  if (!runtime::IsSandboxName(name)) {
    return Fail(
        "pool",
        MakeError(ErrorKind::kUsage,
                  "`" + name +
                      "` is not a valid pool name: use lowercase letters, digits and '-', at most "
                      "63, starting with a letter or digit"));
  }
  uint32_t size = 1;
  if (args->Has("size")) {
    std::string text = args->Get("size");
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), size);
    if (ec != std::errc() || end != text.data() + text.size() || size == 0 || size > kMaxPoolSize) {
      return Fail("pool", MakeError(ErrorKind::kUsage, "--size takes a whole number from 1 to " +
                                                           std::to_string(kMaxPoolSize) +
                                                           ", not `" + text + "`"));
    }
  }
  std::string format = args->Get("format", "human");
  if (format != "human" && format != "json") {
    return Fail("pool", MakeError(ErrorKind::kUsage,
                                  "unknown format `" + format + "`; use `human` or `json`"));
  }
  bool json = format == "json";
  auto session = OpenRuntime(*args, /*with_trust=*/true, "pool");
  if (!session) {
    return FailRun("pool", session.error());
  }
  int exit_code = 0;
  // A pool outlives a `run`: a source file's dev-signed plan is valid for a day, as `compile`'s are
  // by default. A plan file keeps its own window.
  auto input = ReadPlanInput(*args, *session, "pool", exit_code, 24 * 3600);
  if (!input) {
    return exit_code;
  }
  auto admitted = runtime::Admit(session->options, input->bytes, session->log(), nullptr);
  if (!admitted) {
    return FailRun("pool", admitted.error());
  }
  runtime::StartOptions start;
  start.app_files = input->app_files;
  start.project_root = input->project_root;
  start.blobs = input->blobs;
  runtime::PoolOptions pool;
  pool.name = name;
  pool.size = size;
  pool.from_snapshot = args->Has("from-snapshot");

  runtime::BlockPoolStopSignals();

  if (!args->Has("detach")) {
    pool.out_fd = 2;
    pool.on_listening = [&](const runtime::PoolRecord& r) {
      std::printf("%s\n", json ? Describe(r, admitted->audit_id).dump().c_str()
                               : (HumanLine(r) + "; Ctrl-C stops it").c_str());
      std::fflush(stdout);
    };
    auto ran =
        runtime::RunPool(session->options, *admitted, input->bytes, start, pool, session->log());
    if (!ran) {
      return FailRun("pool", ran.error());
    }
    return kExitOk;
  }

  auto daemon = runtime::StartPoolDaemon(session->options, *admitted, start, pool, "mvmctl pool");
  if (!daemon) {
    return FailRun("pool", daemon.error());
  }
  if (json) {
    std::printf("%s\n", Describe(*daemon, admitted->audit_id).dump().c_str());
  } else {
    std::printf("%s, detached; log %s\n", HumanLine(*daemon).c_str(),
                runtime::PoolLogPath(session->options.state, name).c_str());
  }
  return kExitOk;
}

int List(Args* args) {
  if (auto bad = UnexpectedFlag(*args, "ls", {"state-dir", "format"}); !bad.empty()) {
    return Fail("pool", MakeError(ErrorKind::kUsage, bad));
  }
  if (!args->positional.empty()) {
    return Fail("pool", MakeError(ErrorKind::kUsage, "`pool ls` takes no arguments"));
  }
  std::string format = args->Get("format", "human");
  if (format != "human" && format != "json") {
    return Fail("pool", MakeError(ErrorKind::kUsage,
                                  "unknown format `" + format + "`; use `human` or `json`"));
  }
  runtime::StateDir state = runtime::ResolveStateDir(args->Get("state-dir"));
  std::vector<std::string> problems;
  auto pools = runtime::ListPools(state, problems);
  for (const std::string& p : problems) {
    std::fprintf(stderr, "mvmctl pool: warning: %s\n", p.c_str());
  }
  nlohmann::json list = nlohmann::json::array();
  if (format == "human") {
    std::printf("%-20s %-20s %-12s %-5s %-5s %-7s %-7s %-6s %s\n", "POOL", "WORKLOAD", "BACKEND",
                "SIZE", "READY", "BOOTING", "CLAIMED", "FAILED", "STATUS");
  }
  for (const runtime::PoolRecord& r : pools) {
    std::optional<runtime::PoolStatus> status;
    std::string problem;
    if (runtime::IsPoolRunning(r)) {
      if (auto s = runtime::QueryPool(state, r.name)) {
        status = std::move(*s);
      } else {
        problem = s.error().message;
      }
    } else {
      problem = "gone (its process ended without cleaning up; `mvmctl pool stop " + r.name +
                "` removes the record)";
    }
    if (format == "json") {
      nlohmann::json j = {{"name", r.name},
                          {"workload", r.workload_id},
                          {"backend", r.backend},
                          {"size", r.size},
                          {"pid", r.pid},
                          {"key", r.key},
                          {"created_at", r.created_at},
                          {"running", status.has_value()}};
      if (status) {
        j["ready"] = status->ready;
        j["booting"] = status->booting;
        j["claimed"] = status->claimed;
        j["failed"] = status->failed;
        j["last_error"] = status->last_error;
        j["sandboxes"] = status->sandboxes;
      } else {
        j["problem"] = problem;
      }
      list.push_back(std::move(j));
      continue;
    }
    auto num = [&](auto v) { return status ? std::to_string(v) : std::string("-"); };
    std::printf("%-20s %-20s %-12s %-5u %-5s %-7s %-7s %-6s %s\n", r.name.c_str(),
                r.workload_id.c_str(), r.backend.c_str(), r.size,
                num(status ? status->ready : 0).c_str(), num(status ? status->booting : 0).c_str(),
                num(status ? status->claimed : 0).c_str(), num(status ? status->failed : 0).c_str(),
                status ? (status->last_error.empty()
                              ? "running"
                              : ("running; last failure: " + status->last_error).c_str())
                       : problem.c_str());
  }
  if (format == "json") {
    std::printf("%s\n", nlohmann::json{{"pools", list}}.dump().c_str());
  }
  return kExitOk;
}

int Stop(Args* args) {
  if (auto bad = UnexpectedFlag(*args, "stop", {"state-dir"}); !bad.empty()) {
    return Fail("pool", MakeError(ErrorKind::kUsage, bad));
  }
  if (args->positional.empty()) {
    return Fail("pool",
                MakeError(ErrorKind::kUsage, "name the pools to stop: `mvmctl pool stop POOL...`"));
  }
  runtime::StateDir state = runtime::ResolveStateDir(args->Get("state-dir"));
  int status = kExitOk;
  for (const std::string& name : args->positional) {
    if (!runtime::IsSandboxName(name)) {
      status = Fail("pool", MakeError(ErrorKind::kUsage, "`" + name + "` is not a pool name"));
      continue;
    }
    auto stopped = runtime::StopPool(state, name, kStopTimeout);
    if (!stopped) {
      status = Fail("pool", WithDefaultKind(stopped.error(), ErrorKind::kRuntimeFailed));
    }
  }
  return status;
}

}  // namespace

int RunPool(Args& args) {
  if (args.positional.empty()) {
    return Fail("pool",
                MakeError(ErrorKind::kUsage, "expected `pool start`, `pool ls` or `pool stop`"));
  }
  std::string verb = args.positional.front();
  args.positional.erase(args.positional.begin());
  if (verb == "start") {
    return Start(&args);
  }
  if (verb == "ls") {
    return List(&args);
  }
  if (verb == "stop") {
    return Stop(&args);
  }
  return Fail("pool",
              MakeError(ErrorKind::kUsage, "unknown `pool " + verb + "`; use start, ls or stop"));
}

}  // namespace mvm::cli
