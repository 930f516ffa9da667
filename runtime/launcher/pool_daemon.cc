// A warm pool in the background (`mvmctl pool start --detach`): the pool runs in a supervised
// helper (runtime/backends/helper.h), this executable again with kHelperFlag, so that nothing but
// system calls runs between fork and exec in a process that may have threads. The starter hands
// the daemon everything it resolved (launcher options, the admitted plan, start options) as one
// JSON object on fd 3 and hears on fd 4 whether the pool listens.

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "ir/support/os/errno_text.h"
#include "ir/support/os/unique_fd.h"
#include "runtime/backends/helper.h"
#include "runtime/launcher/internal.h"
#include "runtime/launcher/pool.h"
#include "runtime/launcher/pool_wire.h"

namespace mvm::runtime {

using namespace internal;  // NOLINT(google-build-using-namespace)

namespace {

constexpr int kConfigFd = 3;
constexpr int kAnswerFd = 4;

/// Everything up to EOF on `fd`.
std::string ReadToEnd(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) != 0) {
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

nlohmann::json DaemonConfig(const LauncherOptions& options, const AdmittedPlan& plan,
                            const StartOptions& start, const PoolOptions& pool,
                            std::string_view log_tag) {
  nlohmann::json trusted = nlohmann::json::array();
  for (const plan::TrustedKey& k : options.trusted) {
    trusted.push_back(
        {{"key_id", k.key_id}, {"key", k.key.ToFileText()}, {"path", k.path.string()}});
  }
  nlohmann::json app_files = nlohmann::json::array();
  for (const auto& [target, source] : start.app_files) {
    app_files.push_back({target, source.string()});
  }
  return {{"state", options.state.root.string()},
          {"trusted", trusted},
          {"dev_key_id", options.dev_key_id},
          {"agent_binary", options.agent_binary.string()},
          {"egress_binary", options.egress_binary.string()},
          {"python_sdk", options.python_sdk.string()},
          {"backend", options.backend},
          {"verbose", options.verbose},
          {"plan", plan.bytes},
          {"audit_id", plan.audit_id},
          {"app_files", app_files},
          {"project_root", start.project_root.string()},
          {"blobs", plan::ToJson(start.blobs)},
          {"name", pool.name},
          {"size", pool.size},
          {"from_snapshot", pool.from_snapshot},
          {"log_tag", log_tag}};
}

/// The daemon's side: reads its configuration, runs the pool and answers on kAnswerFd once it
/// listens (the record) or failed before that (the error).
int RunDaemon() {
  BlockPoolStopSignals();
  // The sandboxes the pool starts must not inherit the starter's pipes.
  (void)::fcntl(kConfigFd, F_SETFD, FD_CLOEXEC);
  (void)::fcntl(kAnswerFd, F_SETFD, FD_CLOEXEC);
  bool answered = false;
  auto answer = [&](const nlohmann::json& j) {
    if (!answered) {
      (void)WriteAll(kAnswerFd, j.dump() + "\n");
      ::close(kAnswerFd);
      answered = true;
    }
  };
  auto fail = [&](const Error& error) {
    answer({{"error", error.message}});
    return kExitLauncherFailed;
  };
  std::string text = ReadToEnd(kConfigFd);
  ::close(kConfigFd);
  LauncherOptions options;
  AdmittedPlan admitted;
  StartOptions start;
  PoolOptions pool;
  std::string log_tag;
  try {
    nlohmann::json c = nlohmann::json::parse(text);
    options.state.root = c.at("state").get<std::string>();
    for (const nlohmann::json& k : c.at("trusted")) {
      auto key = plan::ParsePublicKey(k.at("key").get<std::string>(), "a trusted key");
      if (!key) {
        return fail(key.error());
      }
      options.trusted.push_back(
          {k.at("key_id").get<std::string>(), *key, k.at("path").get<std::string>()});
    }
    options.dev_key_id = c.at("dev_key_id").get<std::string>();
    options.agent_binary = c.at("agent_binary").get<std::string>();
    options.egress_binary = c.at("egress_binary").get<std::string>();
    options.python_sdk = c.at("python_sdk").get<std::string>();
    options.backend = c.at("backend").get<std::string>();
    options.verbose = c.at("verbose").get<bool>();
    admitted.bytes = c.at("plan").get<std::string>();
    admitted.audit_id = c.at("audit_id").get<std::string>();
    for (const nlohmann::json& f : c.at("app_files")) {
      start.app_files.emplace_back(f.at(0).get<std::string>(), f.at(1).get<std::string>());
    }
    start.project_root = c.at("project_root").get<std::string>();
    start.blobs = plan::BlobSourceFromJson(c.value("blobs", nlohmann::json()));
    pool.name = c.at("name").get<std::string>();
    pool.size = c.at("size").get<uint32_t>();
    pool.from_snapshot = c.at("from_snapshot").get<bool>();
    log_tag = c.at("log_tag").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    return fail(Error{std::string("the pool daemon's configuration is damaged: ") + e.what()});
  }
  options.note = [log_tag](std::string_view line) {
    std::fprintf(stderr, "%s: %.*s\n", log_tag.c_str(), static_cast<int>(line.size()), line.data());
  };
  // The starter admitted these bytes; checking them again costs a signature check and means the
  // daemon never runs a plan it was not handed intact.
  auto verified = VerifyForLauncher(options, admitted.bytes);
  if (auto* refusal = std::get_if<PlanRefusal>(&verified)) {
    return fail(Error{refusal->message});
  }
  admitted.verified = std::move(std::get<plan::VerifiedPlan>(verified));
  // And the secrets it may have, as admission found them (the store may have changed since).
  if (auto refusal = CheckSecrets(options, admitted.verified, admitted.secrets)) {
    return fail(Error{refusal->message});
  }
  // The starter's audit Log is its own: the daemon appends through one of its own.
  auto audit = OpenAudit(options.state);
  if (!audit) {
    return fail(Error{"cannot open the audit log: " + audit.error().message});
  }
  pool.out_fd = 2;
  pool.on_listening = [&](const PoolRecord& r) { answer(ToJson(r)); };
  auto ran = RunPool(options, admitted, admitted.bytes, start, pool, *(*audit)->log);
  if (!ran) {
    std::fprintf(stderr, "%s %s: %s\n", log_tag.c_str(), pool.name.c_str(),
                 ran.error().message.c_str());
    return fail(ran.error());
  }
  return 0;
}

}  // namespace

std::filesystem::path PoolLogPath(const StateDir& state, std::string_view name) {
  return PoolFile(state, name, ".log");
}

ErrorOr<PoolRecord> StartPoolDaemon(const LauncherOptions& options, const AdmittedPlan& plan,
                                    const StartOptions& start, const PoolOptions& pool,
                                    std::string_view log_tag) {
  auto failed = [](std::string message) {
    return MakeError(ErrorKind::kRuntimeFailed, std::move(message));
  };
  std::string config_text;
  try {
    config_text = DaemonConfig(options, plan, start, pool, log_tag).dump();
  } catch (const nlohmann::json::exception& e) {
    // Paths that are not UTF-8 have no JSON form.
    return failed(std::string("cannot hand the pool's settings to its daemon: ") + e.what());
  }
  std::error_code ec;
  fs::create_directories(options.state.Pools(), ec);
  const fs::path log_path = PoolLogPath(options.state, pool.name);
  os::UniqueFd log(::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!log.valid()) {
    return failed("cannot open `" + log_path.string() + "`: " + os::ErrnoText(errno));
  }
  // Socket pairs rather than pipes: WriteAll sends without SIGPIPE when the other side is gone.
  int config[2];
  int answer[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, config) != 0) {
    return failed("cannot create a socket pair: " + os::ErrnoText(errno));
  }
  os::UniqueFd config_read(config[0]);
  os::UniqueFd config_write(config[1]);
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, answer) != 0) {
    return failed("cannot create a socket pair: " + os::ErrnoText(errno));
  }
  os::UniqueFd answer_read(answer[0]);
  os::UniqueFd answer_write(answer[1]);

  backends::HelperSpec spec;
  spec.role = "pool";
  spec.program = "/proc/self/exe";
  spec.argv = {"mvm-pool", std::string(kHelperFlag), "pool"};
  spec.fds = {config_read.get(), answer_write.get()};
  spec.output = log.get();
  spec.dies_with_parent = false;  // a detached pool outlives the command that started it
  spec.own_session = true;
  spec.inherits_environment = true;
  auto helper = backends::StartHelper(spec);
  config_read.Reset();
  answer_write.Reset();
  log.Reset();
  if (!helper) {
    return failed(helper.error().message);
  }
  (void)WriteAll(config_write.get(), config_text);
  config_write.Reset();
  std::string said = ReadToEnd(answer_read.get());
  nlohmann::json j = nlohmann::json::parse(said, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && j.contains("name")) {
    // The record the daemon wrote is where `pool ls` and `pool stop` find it: it must name the
    // helper just started, not a process that reuses its pid.
    auto record = ReadPoolRecord(PoolFile(options.state, pool.name, ".json"));
    if (!record) {
      return failed(record.error().message);
    }
    if (record->pid != helper->record.pid || record->pid_start_time != helper->record.start_time) {
      return failed("pool `" + pool.name + "` is recorded as pid " + std::to_string(record->pid) +
                    ", not its daemon's pid " + std::to_string(helper->record.pid));
    }
    return std::move(*record);
  }
  // The daemon stopped before it listened: reap it, as nothing else will.
  (void)helper->process.Wait(std::chrono::seconds(5));
  if (j.is_object() && j.contains("error") && j["error"].is_string()) {
    return failed(j["error"].get<std::string>());
  }
  return failed("the pool process ended before listening; see `" + log_path.string() + "`");
}

int internal::RunPoolDaemon() { return RunDaemon(); }

}  // namespace mvm::runtime
