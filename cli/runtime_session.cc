#include "cli/runtime_session.h"

#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "backend-emit/plan/replay.h"
#include "backend-emit/plan/rootfs_digest.h"
#include "backend-emit/plan/time.h"
#include "cli/commands.h"
#include "cli/debian_resolve.h"
#include "cli/oci_resolve.h"
#include "cli/plan_emit.h"
#include "cli/terminal_progress.h"

namespace mvm::cli {

namespace fs = std::filesystem;

std::vector<FlagSpec> RuntimeFlags() {
  return {{"state-dir", true},
          {"v", false},
          {"backend", true},
          {"trust-dir", true},
          {"trust", true, true}};
}

ErrorOr<RuntimeSession> OpenRuntime(const Args& args, bool with_trust, std::string_view command) {
  RuntimeSession session;
  session.options.state = runtime::ResolveStateDir(args.Get("state-dir"));
  session.options.verbose = args.Has("v");
  session.options.backend =
      args.Get("backend", std::string(runtime::backends::All().front()->name()));
  if (auto backend = runtime::backends::Find(session.options.backend); !backend) {
    return backend.error();
  }
  session.options.note = [command = std::string(command)](std::string_view line) {
    std::fprintf(stderr, "mvmctl %s: %.*s\n", command.c_str(), static_cast<int>(line.size()),
                 line.data());
  };
  // Progress is for a person at a terminal: never in a pipe or a log, never in JSON output.
  if (::isatty(STDERR_FILENO) == 1 && args.Get("format", "human") != "json") {
    auto progress =
        std::make_shared<TerminalProgress>("mvmctl " + std::string(command), STDERR_FILENO);
    session.options.note = [progress](std::string_view line) { progress->Line(line); };
    session.options.progress = [progress](std::string_view what) { progress->Step(what); };
    session.options.terminal_note =
        [progress, said = std::make_shared<std::set<std::string>>()](std::string_view line) {
          if (said->emplace(line).second) {  // said once, however many sandboxes start
            progress->Line(line);
          }
        };
  }
  if (auto ok = runtime::LocateRuntimeFiles(session.options); !ok) {
    return ok.error();
  }
  if (with_trust) {
    if (auto ok = runtime::LoadTrust(session.options, args.Get("trust-dir"), args.Paths("trust"));
        !ok) {
      return ok.error();
    }
  }
  auto audit = runtime::OpenAudit(session.options.state);
  if (!audit) {
    return audit.error();
  }
  session.audit = std::move(*audit);
  return session;
}

namespace {

bool IsPlanPath(const std::string& path) { return path.ends_with(".json"); }

}  // namespace

ErrorOr<runtime::BuilderBackendChoice> BuilderBackendFromArgs(
    const Args& args, const runtime::LauncherOptions& options) {
  std::string requested = args.Get("builder-backend", "");
  if (requested.empty()) {
    const char* env = std::getenv(runtime::kBuilderBackendEnv);
    requested = env != nullptr ? env : "";
  }
  auto chosen = runtime::ChooseBuilderBackend(options, requested);
  if (!chosen) {
    return MakeError(ErrorKind::kUsage, chosen.error().message);
  }
  return chosen;
}

void NoteUnreadStdin(std::string_view command) {
  struct stat st {};
  if (fstat(STDIN_FILENO, &st) != 0) {
    return;
  }
  bool unread = false;
  if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
    int waiting = 0;
    unread = ioctl(STDIN_FILENO, FIONREAD, &waiting) == 0 && waiting > 0;
  } else if (S_ISREG(st.st_mode)) {
    const off_t at = lseek(STDIN_FILENO, 0, SEEK_CUR);
    unread = at >= 0 && at < st.st_size;
  }
  if (unread) {
    std::fprintf(stderr,
                 "mvmctl %.*s: note: stdin was not passed to the command; add -i to pass it\n",
                 static_cast<int>(command.size()), command.data());
  }
}

ErrorOr<std::string> SignWithDevKey(
    ir::Module& one, RuntimeSession& session, std::string_view command, std::string_view profile,
    int64_t validity_seconds,
    const std::map<std::string, std::vector<plan::ProjectFile>>& project_files) {
  // An OCI image is pulled now, before signing, so that the plan pins what a tag resolved to.
  if (ir::v1::Image* image = one.proto.mutable_workloads(0)->mutable_image();
      image->kind() == "oci") {
    auto pinned = PullDeclaredImage(*image, session.options.state.root, command);
    if (!pinned) {
      return pinned.error();
    }
    image->set_digest(*pinned);
  }

  auto key = runtime::EnsureKey(session.options.state.Keys(), "dev");
  if (!key) {
    return key.error();
  }
  // The dev key may have been made just now; trust it like LoadTrust would have.
  if (session.options.dev_key_id.empty()) {
    session.options.dev_key_id = key->KeyId();
    session.options.trusted.push_back(
        {key->KeyId(), key->public_key(), session.options.state.Keys() / "dev.pub"});
  }
  plan::SystemClock clock;
  PlanSettings settings;
  settings.profile = std::string(profile);
  int64_t now = clock.NowUnixSeconds();
  // A plan made to run right now needs only a short validity window, so a copy that leaks out of
  // the state directory is soon worthless; a warm pool asks for longer.
  settings.not_before = now - 60;
  settings.expires_at = now + validity_seconds;
  settings.epoch = static_cast<uint32_t>(now);
  // The epoch is the signing second; a different plan of the same workload admitted earlier in that
  // second (another `run` of an edited file, a pool's longer-lived plan) would make this one a
  // replay, so step past it. Epochs only have to grow.
  plan::ReplayState replay(session.options.state.Replay());
  if (auto last = replay.Last(one.proto.workloads(0).id());
      last && *last && (*last)->epoch >= settings.epoch) {
    settings.epoch = (*last)->epoch + 1;
  }
  settings.key = std::move(*key);
  auto plans = MakePlans(one, settings, project_files);
  if (!plans) {
    return plans.error();
  }
  // A Debian image is resolved and built now, so that the plan pins the package set it runs.
  if (const ir::v1::Image& image = one.proto.workloads(0).image(); image.kind() == "debian") {
    auto pinned = BuildDeclaredDebianImage(image, session, command);
    if (!pinned) {
      return pinned.error();
    }
    return plan::WithRootfsDigest((*plans)[0].payload, *pinned, &*settings.key);
  }
  return std::move((*plans)[0].file);
}

std::optional<PlanInput> ReadPlanInput(const Args& args, RuntimeSession& session,
                                       std::string_view command, int& exit_code,
                                       int64_t validity_seconds) {
  const std::string& path = args.positional[0];
  PlanInput input;
  // IR files end in `.json` too, so only the flag tells them from plans.
  bool from_ir = args.Has("from-ir");
  if (IsPlanPath(path) && !from_ir) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      exit_code = FailRun(command, Error{"cannot read plan `" + path + "`"});
      return std::nullopt;
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    input.bytes = buffer.str();
    input.project_root =
        args.Has("project-root") ? fs::path(args.Get("project-root")) : fs::current_path();
    // Beside the plan, wherever it was copied to, unless told otherwise.
    input.blobs.bundle_dir =
        fs::absolute(args.Has("bundle") ? fs::path(args.Get("bundle")) : plan::BundleDirFor(path));
    return input;
  }

  CompileRequest request;
  request.paths = {path};
  request.from_ir = from_ir;
  std::string profile = args.Get("profile", "dev");
  if (profile == "production") {
    request.pass_options.profile = passes::Profile::kProduction;
  } else if (profile != "dev") {
    exit_code = Fail(command, MakeError(ErrorKind::kUsage, "unknown profile `" + profile +
                                                               "`; use `dev` or `production`"));
    return std::nullopt;
  }
  input.project_root = args.Has("project-root") ? fs::path(args.Get("project-root"))
                                                : fs::absolute(path).parent_path();
  request.pass_options.project_root = input.project_root.string();
  request.resolve_files = true;
  auto limits = ReadFileLimits(args);
  if (!limits) {
    exit_code = Fail(command, limits.error());
    return std::nullopt;
  }
  request.file_limits = *limits;
  auto compilation = Compile(request);
  if (!compilation) {
    exit_code = Fail(command, compilation.error());
    return std::nullopt;
  }
  PrintDiagnostics(*compilation, DiagnosticFormat::kHuman);
  if (compilation->has_errors()) {
    exit_code = kExitInputErrors;
    return std::nullopt;
  }
  ir::Module& module = compilation->module;
  std::string wanted = args.Get("workload");
  std::string ids;
  int chosen = -1;
  for (int i = 0; i < module.proto.workloads_size(); ++i) {
    const std::string& id = module.proto.workloads(i).id();
    ids += (ids.empty() ? "`" : ", `") + id + "`";
    if (wanted.empty() ? i == 0 : id == wanted) {
      chosen = i;
    }
  }
  if (module.proto.workloads_size() == 0) {
    exit_code =
        Fail(command, MakeError(ErrorKind::kInvalidInput, "`" + path + "` declares no workload"));
    return std::nullopt;
  }
  if (chosen < 0) {
    exit_code = Fail(command, MakeError(ErrorKind::kUsage, "`" + path + "` has no workload `" +
                                                               wanted + "`; it has " + ids));
    return std::nullopt;
  }
  if (wanted.empty() && module.proto.workloads_size() > 1) {
    exit_code =
        Fail(command, MakeError(ErrorKind::kUsage, "`" + path + "` declares several workloads (" +
                                                       ids + "); choose one with --workload ID"));
    return std::nullopt;
  }
  ir::Module one;
  one.proto.set_schema_version(module.proto.schema_version());
  *one.proto.add_workloads() = module.proto.workloads(chosen);
  auto signed_plan =
      SignWithDevKey(one, session, command, profile, validity_seconds, compilation->project_files);
  if (!signed_plan) {
    exit_code = FailRun(command, signed_plan.error());
    return std::nullopt;
  }
  input.bytes = std::move(*signed_plan);
  if (auto files = compilation->project_files.find(one.proto.workloads(0).id());
      files != compilation->project_files.end()) {
    input.blobs = plan::SourceOf(files->second);
  }
  return input;
}

nlohmann::json PortsJson(const runtime::SandboxRecord& record) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& p : record.ports) {
    out.push_back({{"guest", p.guest_port}, {"host", p.host_port}, {"address", p.host_address}});
  }
  return out;
}

std::string DescribePorts(const runtime::SandboxRecord& record) {
  std::string out;
  for (const auto& p : record.ports) {
    out += (out.empty() ? "" : ", ") + p.host_address + ":" + std::to_string(p.host_port) + "->" +
           std::to_string(p.guest_port);
  }
  return out.empty() ? "-" : out;
}

}  // namespace mvm::cli
