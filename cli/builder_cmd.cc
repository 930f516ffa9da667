// `mvmctl builder start|status|stop`: the warm builder sandbox that `mvmctl build` uses when it
// runs (runtime/launcher/builder.h).

#include <sys/statvfs.h>

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/runtime_session.h"
#include "runtime/launcher/builder.h"

namespace mvm::cli {

namespace {

constexpr std::string_view kWarm = runtime::kWarmBuilder;

int Start(const Args& args, RuntimeSession& session) {
  runtime::BuilderSettings settings;
  for (auto [flag, out] : {std::pair{"builder-memory-mb", &settings.memory_mb},
                           std::pair{"builder-store-mb", &settings.store_mb}}) {
    if (args.Has(flag)) {
      const std::string text = args.Get(flag);
      char* end = nullptr;
      unsigned long value = std::strtoul(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0' || value < 64 || value > 16777216) {
        return Fail("builder", MakeError(ErrorKind::kUsage,
                                         "`--" + std::string(flag) + " " + text +
                                             "`: give a whole number of MB from 64 to 16777216"));
      }
      *out = static_cast<uint32_t>(value);
    }
  }
  if (auto running = runtime::Attach(session.options, kWarm); running) {
    std::fprintf(stderr,
                 "mvmctl builder: the warm builder is already running (pid %d, backend %s)\n",
                 running->record.pid, running->record.backend.c_str());
    return kExitOk;
  }
  auto chosen = BuilderBackendFromArgs(args, session.options);
  if (!chosen) {
    return Fail("builder", chosen.error());
  }
  settings.backend = chosen->backend;
  if (args.Has("v")) {
    std::fprintf(stderr, "mvmctl builder: backend %s (%s)\n", chosen->backend.c_str(),
                 chosen->reason.c_str());
  }
  // Before the lock: the microVM builder's root may need a Debian build, which takes it.
  if (auto prepared = runtime::PrepareBuilder(session.options, settings, session.log());
      !prepared) {
    return Fail("builder", MakeError(ErrorKind::kEnvironment,
                                     "cannot start the warm builder: " + prepared.error().message));
  }
  auto lock = runtime::BuilderLock::Acquire(session.options.state);
  if (!lock) {
    return Fail("builder", lock.error());
  }
  auto started = runtime::StartBuilder(session.options, settings, std::string(kWarm),
                                       /*detached=*/true, session.log());
  if (!started) {
    (void)runtime::UnmountBuilderStore(session.options.state);
    return Fail("builder", MakeError(ErrorKind::kEnvironment,
                                     "cannot start the warm builder: " + started.error().message));
  }
  started->Release();
  std::fprintf(stderr, "mvmctl builder: started the warm builder `%s` (pid %d, backend %s)\n",
               std::string(kWarm).c_str(), started->record().pid, settings.backend.c_str());
  return kExitOk;
}

int Status(const Args& args, RuntimeSession& session) {
  const runtime::BuilderPaths paths = runtime::BuilderPathsFor(session.options.state);
  auto record = runtime::ReadRecord(session.options.state, kWarm);
  const bool running = record && runtime::IsRunning(*record);
  nlohmann::json j = {{"running", running}, {"store", paths.store.string()}};
  struct statvfs vfs {};
  if (running && ::statvfs(paths.store.c_str(), &vfs) == 0) {
    j["store_used_mb"] = (vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize >> 20;
    j["store_size_mb"] = vfs.f_blocks * vfs.f_frsize >> 20;
  }
  if (running) {
    j["pid"] = record->pid;
    j["backend"] = record->backend;
    j["created_at"] = record->created_at;
  }
  // What a builder started now would run on: the probe's answer, so that the default is a fact
  // of this host that can be checked, not a constant.
  auto chosen = BuilderBackendFromArgs(args, session.options);
  if (!chosen) {
    return Fail("builder", chosen.error());
  }
  j["new_builder_backend"] = chosen->backend;
  j["new_builder_backend_reason"] = chosen->reason;
  j["new_builder_backend_asked"] = chosen->asked;
  if (args.Get("format", "human") == "json") {
    std::printf("%s\n", j.dump().c_str());
    return kExitOk;
  }
  std::printf("new builders: backend %s%s%s\n", chosen->backend.c_str(),
              chosen->asked ? ", " : " by default: ", chosen->reason.c_str());
  if (!running) {
    std::printf("warm builder: not running (`mvmctl builder start` starts it)\n");
    return kExitOk;
  }
  std::printf("warm builder: running, pid %d, backend %s, since %s\n", record->pid,
              record->backend.c_str(), record->created_at.c_str());
  if (j.contains("store_used_mb")) {
    std::printf("store: %s, %llu of %llu MB used\n", paths.store.c_str(),
                static_cast<unsigned long long>(j["store_used_mb"].get<uint64_t>()),
                static_cast<unsigned long long>(j["store_size_mb"].get<uint64_t>()));
  }
  return kExitOk;
}

int Stop(RuntimeSession& session) {
  auto record = runtime::ReadRecord(session.options.state, kWarm);
  if (!record || !runtime::IsRunning(*record)) {
    return Fail("builder", MakeError(ErrorKind::kEnvironment, "the warm builder is not running"));
  }
  auto lock = runtime::BuilderLock::Acquire(session.options.state);
  if (!lock) {
    return Fail("builder", lock.error());
  }
  auto stopped = runtime::StopByName(session.options, kWarm, /*remove_state=*/true, session.log(),
                                     "mvmctl builder stop");
  auto unmounted = runtime::UnmountBuilderStore(session.options.state);
  (void)session.log().Append(
      "builder-stop", {{"sandbox", std::string(kWarm)}, {"ok", stopped.ok() && unmounted.ok()}});
  if (!stopped) {
    return Fail("builder", stopped.error());
  }
  if (!unmounted) {
    return Fail("builder", unmounted.error());
  }
  std::fprintf(stderr, "mvmctl builder: stopped the warm builder\n");
  return kExitOk;
}

}  // namespace

int RunBuilder(Args& args) {
  if (args.positional.size() != 1) {
    return Fail("builder", MakeError(ErrorKind::kUsage, "give one of `start`, `status`, `stop`"));
  }
  const std::string verb = args.positional.front();
  if (verb != "start" && verb != "status" && verb != "stop") {
    return Fail("builder", MakeError(ErrorKind::kUsage, "unknown verb `" + verb +
                                                            "`; give `start`, `status` or `stop`"));
  }
  auto session = OpenRuntime(args, /*with_trust=*/false, "builder");
  if (!session) {
    return Fail("builder", session.error());
  }
  if (verb == "start") {
    return Start(args, *session);
  }
  if (verb == "status") {
    return Status(args, *session);
  }
  return Stop(*session);
}

}  // namespace mvm::cli
