// `mvmctl build`: run each workload's Nix build request in the builder sandbox and record the
// imported rootfs's NAR hash as the plan's artifact digest. The work is in runtime/launcher/builder
// (the sandbox), backend-emit/nix (importing and hashing) and backend-emit/plan (re-signing the
// plan with the digest); this file wires flags, files and progress output to it.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <tuple>

#include "backend-emit/nix/artifacts.h"
#include "backend-emit/nix/build.h"
#include "backend-emit/nix/builders.h"
#include "backend-emit/plan/rootfs_digest.h"
#include "backend-emit/plan/time.h"
#include "backend-emit/plan/verify.h"
#include "cli/commands.h"
#include "cli/debian_resolve.h"
#include "cli/oci_resolve.h"
#include "cli/output_files.h"
#include "cli/plan_emit.h"
#include "cli/runtime_session.h"
#include "cli/state_dir.h"
#include "runtime/launcher/builder.h"

namespace mvm::cli {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kPlanSuffix = ".plan.json";

/// `argv` as one line a shell would run the same way (for `-v`).
std::string ShellLine(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) {
    bool plain = !a.empty() && a.find_first_not_of(
                                   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVW"
                                   "XYZ0123456789-_./:=#+@,%") == std::string::npos;
    std::string quoted = "'";
    for (char c : a) {
      quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    }
    out += (out.empty() ? "" : " ") + (plain ? a : quoted + "'");
  }
  return out;
}

/// The builder's sizing and the build's time limit from the flags.
std::optional<Error> ReadBuilderFlags(const Args& args, runtime::BuilderSettings& settings,
                                      uint32_t& timeout_seconds) {
  for (auto [flag, out, low, high] :
       {std::tuple{"build-timeout", &timeout_seconds, 1u, 86400u},
        std::tuple{"builder-memory-mb", &settings.memory_mb, 256u, 1048576u},
        std::tuple{"builder-store-mb", &settings.store_mb, 64u, 16777216u}}) {
    if (!args.Has(flag)) {
      continue;
    }
    const std::string text = args.Get(flag);
    char* end = nullptr;
    unsigned long value = std::strtoul(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || value < low || value > high) {
      return MakeError(ErrorKind::kUsage, "`--" + std::string(flag) + " " + text +
                                              "`: give a whole number from " + std::to_string(low) +
                                              " to " + std::to_string(high));
    }
    *out = static_cast<uint32_t>(value);
  }
  return std::nullopt;
}

/// The backend of a builder started for this build (BuilderBackendFromArgs). The warm builder,
/// when it runs, takes the build whatever its backend, so then nothing is probed.
std::optional<Error> ChooseBackend(const Args& args, RuntimeSession& session,
                                   runtime::BuilderSettings& settings) {
  if (auto warm = runtime::ReadRecord(session.options.state, runtime::kWarmBuilder);
      warm && runtime::IsRunning(*warm)) {
    return std::nullopt;
  }
  auto chosen = BuilderBackendFromArgs(args, session.options);
  if (!chosen) {
    return chosen.error();
  }
  settings.backend = chosen->backend;
  if (args.Has("v")) {
    std::fprintf(stderr, "mvmctl build: builder backend %s (%s)\n", chosen->backend.c_str(),
                 chosen->reason.c_str());
  }
  return std::nullopt;
}

/// Nix's log, streamed to stderr line by line.
void PrintNixLog(std::string_view line) {
  std::fprintf(stderr, "[nix] %.*s\n", static_cast<int>(line.size()), line.data());
}

/// What both build paths start from: `job` for `request` with its log going to stderr, the
/// builder flags read into `settings` and `job`, the runtime opened and the builder's backend
/// chosen.
ErrorOr<RuntimeSession> OpenBuilderJob(const Args& args, const nix::NixBuildRequest& request,
                                       runtime::BuilderJob& job,
                                       runtime::BuilderSettings& settings) {
  job.request = request;
  job.on_log = PrintNixLog;
  if (auto bad = ReadBuilderFlags(args, settings, job.timeout_seconds)) {
    return *bad;
  }
  auto session = OpenRuntime(args, /*with_trust=*/false, "build");
  if (!session) {
    return session.error();
  }
  if (auto bad = ChooseBackend(args, *session, settings)) {
    return *bad;
  }
  return session;
}

/// `--builders`: the flake is evaluated in the builder sandbox, its derivation's closure comes back
/// as data and is imported as content-addressed paths only, and this host's Nix builds the `.drv`
/// on the remote builders only (`--max-jobs 0`): it never evaluates the flake
/// (docs/nix.md#remote-builders). Records the built tree and returns its digest. `pinned`: the
/// digest the output must have, or empty; a different output is refused before it is recorded.
std::optional<Error> BuildOnRemoteBuilders(const Args& args, const nix::NixBuildRequest& request,
                                           const std::string& pinned, std::string& digest) {
  auto nix_path = nix::FindNix();
  if (!nix_path) {
    return nix_path.error();
  }
  std::fprintf(stderr, "mvmctl build: building %s on remote builders: %s#%s\n",
               request.workload_id.c_str(), request.flake_ref.c_str(), request.attr.c_str());
  runtime::BuilderJob job;
  runtime::BuilderSettings settings;
  auto session = OpenBuilderJob(args, request, job, settings);
  if (!session) {
    return session.error();
  }
  auto start = std::chrono::steady_clock::now();
  auto evaluated = runtime::EvaluateInBuilder(session->options, settings, job, session->log());
  if (!evaluated) {
    return WithKind(evaluated.error(), ErrorKind::kEnvironment);
  }
  std::fprintf(stderr, "mvmctl build: evaluated %s in %s builder %s: %s\n",
               request.workload_id.c_str(), evaluated->warm ? "the warm" : "a new",
               evaluated->sandbox.c_str(), evaluated->drv_path.c_str());
  auto imported =
      nix::ImportDerivations(*nix_path, evaluated->export_dir, request.store, evaluated->drv_path);
  std::error_code ec;
  fs::remove_all(evaluated->export_dir, ec);
  if (!imported) {
    return WithKind(imported.error(), ErrorKind::kEnvironment);
  }
  const nix::NixBuildRequest remote = nix::DerivationRequest(request, evaluated->drv_path);
  if (args.Has("v")) {
    std::fprintf(stderr, "mvmctl build: running %s\n", ShellLine(remote.argv).c_str());
  }
  nix::BuildProgress progress;
  progress.on_log = PrintNixLog;
  auto built = nix::RunNixBuild(*nix_path, remote, progress);
  if (!built) {
    Error failed = built.error();
    failed.message += nix::RemoteBuildHint(failed.message);
    return failed;
  }
  if (!pinned.empty() && pinned != built->nar_hash) {
    return MakeError(ErrorKind::kEnvironment,
                     "the remote builders' output has digest " + built->nar_hash + ", not the " +
                         pinned + " the plan pins; pass --repin to record the new one");
  }
  auto now = plan::FormatTimestamp(plan::SystemClock().NowUnixSeconds());
  if (!now) {
    return now.error();
  }
  nix::BuiltArtifact artifact{built->nar_hash,   built->store_path, request.store,
                              request.flake_ref, request.attr,      *now,
                              built->tree};
  auto recorded = nix::RecordBuiltArtifact(StateDirFrom(args), artifact);
  if (!recorded) {
    return recorded.error();
  }
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  std::fprintf(stderr, "mvmctl build: built %s: %s (%s) in %.1fs\n", request.workload_id.c_str(),
               built->store_path.c_str(), built->nar_hash.c_str(),
               static_cast<double>(took.count()) / 1000.0);
  if (args.Has("v")) {
    std::fprintf(stderr, "mvmctl build: recorded %s\n", recorded->string().c_str());
  }
  digest = built->nar_hash;
  return std::nullopt;
}

/// Runs one request in the builder sandbox, records the imported tree under the state dir and
/// returns its digest. `pinned`: the digest the output must have, or empty.
std::optional<Error> BuildOne(const Args& args, const nix::NixBuildRequest& request,
                              const std::string& pinned, std::string& digest) {
  if (std::find(request.argv.begin(), request.argv.end(), "--builders") != request.argv.end()) {
    return BuildOnRemoteBuilders(args, request, pinned, digest);
  }
  if (auto found = nix::FindNix(); !found) {
    return found.error();
  }
  std::fprintf(stderr, "mvmctl build: building %s: %s#%s\n", request.workload_id.c_str(),
               request.flake_ref.c_str(), request.attr.c_str());
  runtime::BuilderJob job;
  job.pinned = pinned;
  runtime::BuilderSettings settings;
  auto session = OpenBuilderJob(args, request, job, settings);
  if (!session) {
    return session.error();
  }
  if (args.Has("v")) {
    std::fprintf(stderr, "mvmctl build: in the builder sandbox: %s\n",
                 ShellLine(request.argv).c_str());
  }
  auto start = std::chrono::steady_clock::now();
  auto built = runtime::BuildInBuilder(session->options, settings, job, session->log());
  if (!built) {
    return WithKind(built.error(), ErrorKind::kEnvironment);
  }
  plan::SystemClock clock;
  auto now = plan::FormatTimestamp(clock.NowUnixSeconds());
  if (!now) {
    return now.error();
  }
  nix::BuiltArtifact artifact{built->imported.nar_hash,
                              built->store_path,
                              runtime::BuilderPathsFor(session->options.state).store.string(),
                              request.flake_ref,
                              request.attr,
                              *now,
                              built->imported.tree};
  auto recorded = nix::RecordBuiltArtifact(session->options.state.root, artifact);
  if (!recorded) {
    return recorded.error();
  }
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  std::fprintf(stderr, "mvmctl build: built %s in %s builder %s: %s (%s) in %.1fs on %s\n",
               request.workload_id.c_str(), built->warm ? "the warm" : "a new",
               built->sandbox.c_str(), built->store_path.c_str(), built->imported.nar_hash.c_str(),
               static_cast<double>(took.count()) / 1000.0, built->backend.c_str());
  if (const auto& refs = built->imported.references; !refs.empty()) {
    std::fprintf(stderr,
                 "mvmctl build: warning: %s refers to %zu other store path(s) (first: %s); the "
                 "sandbox gets only this tree, so those references will dangle there\n",
                 built->store_path.c_str(), refs.size(), refs.front().c_str());
  }
  if (args.Has("v")) {
    std::fprintf(stderr, "mvmctl build: recorded %s\n", recorded->string().c_str());
  }
  digest = built->imported.nar_hash;
  return std::nullopt;
}

void Wrote(const fs::path& path, const plan::SecretKey* key, bool is_plan) {
  std::string note;
  if (is_plan) {
    note = key != nullptr ? " (signed by key " + key->KeyId() + ")" : " (unsigned)";
  }
  std::fprintf(stderr, "wrote %s%s\n", path.string().c_str(), note.c_str());
}

/// `--builders SPEC` or `--builders @FILE` (the machines file read now, so that the request
/// written records the machines its build went to), checked; nullopt without the flag.
ErrorOr<std::optional<std::string>> ReadBuilders(const Args& args) {
  if (!args.Has("builders")) {
    return std::optional<std::string>();
  }
  std::string spec = args.Get("builders");
  if (spec.starts_with('@')) {
    auto text = ReadWholeFile(spec.substr(1));
    if (!text) {
      Error failed = text.error();
      failed.message = "`--builders " + spec + "`: " + failed.message +
                       "; give the machines file's path after `@`, or the machines themselves";
      return failed;
    }
    spec = std::move(*text);
  }
  auto checked = nix::CheckBuilders(spec);
  if (!checked) {
    return checked.error();
  }
  return std::optional<std::string>(std::move(*checked));
}

/// `mvmctl build FILE...`: compile, build every request, write plans with digests and the requests.
int BuildSources(const Args& args) {
  CompileRequest request;
  DiagnosticFormat format = DiagnosticFormat::kHuman;
  std::string error;
  if (!ApplyCompilerFlags(args, request, format, error)) {
    return Fail("build", MakeError(ErrorKind::kUsage, error));
  }
  if (request.phase != Phase::kPasses) {
    return Fail("build",
                MakeError(ErrorKind::kUsage, "`mvmctl build` needs checked IR; drop `--phase`"));
  }
  // As with compile: signed plans are meant to run elsewhere, so the stricter profile by default.
  if (args.Has("sign") && !args.Has("profile")) {
    request.pass_options.profile = passes::Profile::kProduction;
  }
  auto builders = ReadBuilders(args);
  if (!builders) {
    return Fail("build", builders.error());
  }
  PlanSettings plan_settings;
  plan::SystemClock clock;
  if (auto problem = ReadPlanSettings(args, request.pass_options.profile, clock, plan_settings)) {
    return Fail("build", *problem);
  }
  request.resolve_files = true;
  auto limits = ReadFileLimits(args);
  if (!limits) {
    return Fail("build", limits.error());
  }
  request.file_limits = *limits;
  auto compilation = Compile(request);
  if (!compilation) {
    return FailCompilation("build", compilation.error(), format);
  }
  PrintDiagnostics(*compilation, format);
  if (compilation->has_errors()) {
    return kExitInputErrors;
  }
  const ir::Module& module = compilation->module;
  auto plans = MakePlans(module, plan_settings, compilation->project_files);
  if (!plans) {
    return Fail("build", WithKind(plans.error(), ErrorKind::kUsage));
  }
  auto requests = MakeNixRequests(module, ReadNixSettings(args));
  if (!requests) {
    return Fail("build", requests.error());
  }
  for (NixRequestFile& r : *requests) {
    if (r.request && *builders) {
      if (auto used = nix::UseRemoteBuilders(*r.request, **builders); !used) {
        return Fail("build", used.error());
      }
      r.json = nix::RequestToCanonicalJson(*r.request);
    }
  }

  const fs::path state_dir = StateDirFrom(args);
  const plan::SecretKey* key = plan_settings.key ? &*plan_settings.key : nullptr;
  std::vector<std::string> files(plans->size());
  for (size_t i = 0; i < requests->size(); ++i) {
    const NixRequestFile& r = (*requests)[i];
    files[i] = (*plans)[i].file;
    if (!r.request) {
      const ir::v1::Image& image = module.proto.workloads(static_cast<int>(i)).image();
      if (image.kind() == "oci" || image.kind() == "debian") {
        ErrorOr<std::string> pinned = std::string();
        if (image.kind() == "oci") {
          pinned = PullDeclaredImage(image, state_dir, "build");
        } else if (auto session = OpenRuntime(args, /*with_trust=*/false, "build"); !session) {
          pinned = session.error();
        } else {
          pinned = BuildDeclaredDebianImage(image, *session, "build");
        }
        if (!pinned) {
          return Fail("build", pinned.error());
        }
        auto file = plan::WithRootfsDigest((*plans)[i].payload, *pinned, key);
        if (!file) {
          return Fail("build", file.error());
        }
        files[i] = std::move(*file);
        continue;
      }
      std::fprintf(stderr, "mvmctl build: nothing to build for `%s`: %s\n", r.workload_id.c_str(),
                   r.not_built.c_str());
      continue;
    }
    std::string digest;
    if (auto failed = BuildOne(args, *r.request, "", digest)) {
      return Fail("build", *failed);
    }
    auto file = plan::WithRootfsDigest((*plans)[i].payload, digest, key);
    if (!file) {
      return Fail("build", file.error());
    }
    files[i] = std::move(*file);
  }

  fs::path out_dir = args.Get("o", "mvm-out");
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) {
    return Fail("build", MakeError(ErrorKind::kEnvironment,
                                   "cannot create `" + out_dir.string() + "`: " + ec.message()));
  }
  for (size_t i = 0; i < files.size(); ++i) {
    fs::path path = out_dir / ((*plans)[i].workload_id + ".plan.json");
    if (auto written = WriteFileAtomically(path, files[i]); !written) {
      return Fail("build", written.error());
    }
    Wrote(path, key, true);
    if (auto project = compilation->project_files.find((*plans)[i].workload_id);
        project != compilation->project_files.end() && !project->second.empty()) {
      if (auto written = plan::WriteBundle(project->second, plan::BundleDirFor(path)); !written) {
        return Fail("build", written.error());
      }
    }
    if (const NixRequestFile& r = (*requests)[i]; r.request) {
      fs::path request_path = out_dir / (r.workload_id + ".nix.json");
      if (auto written = WriteFileAtomically(request_path, r.json); !written) {
        return Fail("build", written.error());
      }
      Wrote(request_path, key, false);
    }
  }
  return kExitOk;
}

/// The request for `plan`'s rootfs: `<id>.nix.json` beside the plan when there is one (it must be
/// this workload's), else lowered from the plan's image. nullopt with `not_built` set when the
/// image is not built by Nix.
std::optional<Error> PlanRequest(const fs::path& plan_path, const plan::v1::ExecutionPlan& plan,
                                 const Args& args, std::optional<nix::NixBuildRequest>& out,
                                 std::string& not_built) {
  const ir::v1::Workload& w = plan.workload();
  fs::path request_path = plan_path.parent_path() / (w.id() + ".nix.json");
  std::error_code ec;
  if (fs::exists(request_path, ec)) {
    auto text = ReadWholeFile(request_path);
    if (!text) {
      return text.error();
    }
    auto request = nix::ParseRequestJson(*text);
    if (!request) {
      return MakeError(ErrorKind::kInvalidInput,
                       "`" + request_path.string() + "`: " + request.error().message);
    }
    std::string image = w.image().kind() + ":" + w.image().ref();
    if (request->workload_id != w.id() || request->image != image) {
      return MakeError(ErrorKind::kInvalidInput,
                       "`" + request_path.string() + "` is the request for `" +
                           request->workload_id + "` (" + request->image +
                           "), not for the plan's `" + w.id() + "` (" + image + ")");
    }
    out = std::move(*request);
    return std::nullopt;
  }
  NixSettings settings = ReadNixSettings(args);
  nix::RequestOptions options;
  // A plan does not record which file declared the workload, so a relative flake reference has
  // nothing to be relative to (refused below); every other reference needs no base.
  options.base_dir = "/";
  options.templates_dir = settings.templates_dir;
  options.store = settings.store;
  std::string_view declared_flake =
      std::string_view(w.image().ref()).substr(0, w.image().ref().find('#'));
  if (w.image().kind() == "nix" && nix::ResolveFlakeRef(declared_flake, "/") != declared_flake) {
    return MakeError(ErrorKind::kUsage,
                     "image `nix:" + w.image().ref() +
                         "` names a flake relative to the file that declared it, which a plan "
                         "does not record; build the source file (`mvmctl build FILE`), or keep "
                         "the `" +
                         w.id() + ".nix.json` from `mvmctl compile --emit nix` beside the plan");
  }
  nix::LoweredRequest lowered = nix::LowerNixBuildRequest(w.id(), w.image(), options);
  std::string flake = lowered.request ? lowered.request->flake_ref : "";
  if (lowered.request && flake.starts_with("path:") &&
      !fs::is_regular_file(fs::path(flake.substr(5)) / "flake.nix", ec)) {
    return MakeError(ErrorKind::kEnvironment,
                     "cannot find mvm's template flake: `" + flake.substr(5) +
                         "/flake.nix` does not exist; give `--templates-dir DIR` or set "
                         "MVM_TEMPLATES_DIR to the directory holding it");
  }
  out = std::move(lowered.request);
  not_built = std::move(lowered.not_built);
  return std::nullopt;
}

/// `mvmctl build PLAN`: build the plan's request and write the plan again with the digest.
int BuildPlan(const Args& args) {
  for (const FlagSpec& f : CompilerFlags()) {
    if (args.Has(f.name)) {
      return Fail("build", MakeError(ErrorKind::kUsage, "`--" + std::string(f.name) +
                                                            "` is for source files, not plans"));
    }
  }
  for (const FlagSpec& f : PlanFlags()) {
    if (f.name != "sign" && args.Has(f.name)) {
      return Fail(
          "build",
          MakeError(ErrorKind::kUsage,
                    "`--" + std::string(f.name) +
                        "` sets up a new plan; a built plan keeps its validity window and epoch"));
    }
  }
  const fs::path plan_path = args.positional.front();
  auto bytes = ReadWholeFile(plan_path);
  if (!bytes) {
    return Fail("build", bytes.error());
  }
  auto decoded = plan::DecodePlanFile(*bytes);
  if (!decoded) {
    return Fail("build", MakeError(ErrorKind::kInvalidInput,
                                   plan_path.string() + ": " + decoded.error().message));
  }
  std::optional<plan::SecretKey> key;
  if (args.Has("sign")) {
    auto loaded = plan::LoadSecretKey(args.Get("sign"));
    if (!loaded) {
      return Fail("build", loaded.error());
    }
    key = std::move(*loaded);
  }
  auto builders = ReadBuilders(args);
  if (!builders) {
    return Fail("build", builders.error());
  }
  const plan::v1::ExecutionPlan& plan = decoded->plan;
  std::optional<nix::NixBuildRequest> request;
  std::string not_built;
  if (auto failed = PlanRequest(plan_path, plan, args, request, not_built)) {
    return Fail("build", *failed);
  }
  if (request && *builders) {
    if (auto used = nix::UseRemoteBuilders(*request, **builders); !used) {
      return Fail("build", used.error());
    }
  }
  std::string digest;
  if (plan.workload().image().kind() == "debian") {
    std::string recorded;
    for (const plan::v1::Artifact& a : plan.artifacts()) {
      if (a.role() == "rootfs") {
        recorded = a.digest();  // built before: keep exactly that package set
      }
    }
    auto session = OpenRuntime(args, /*with_trust=*/false, "build");
    if (!session) {
      return Fail("build", session.error());
    }
    auto pinned = BuildDeclaredDebianImage(plan.workload().image(), *session, "build", recorded);
    if (!pinned) {
      return Fail("build", pinned.error());
    }
    digest = *pinned;
  } else if (plan.workload().image().kind() == "oci") {
    ir::v1::Image image = plan.workload().image();
    for (const plan::v1::Artifact& a : plan.artifacts()) {
      if (a.role() == "rootfs" && !a.digest().empty()) {
        image.set_digest(a.digest());  // pinned by an earlier build: pull exactly that
        image.set_ref(image.ref().substr(0, image.ref().find('@')) + "@" + a.digest());
      }
    }
    auto pinned = PullDeclaredImage(image, StateDirFrom(args), "build");
    if (!pinned) {
      return Fail("build", pinned.error());
    }
    digest = *pinned;
  } else if (!request) {
    std::fprintf(stderr, "mvmctl build: nothing to build for `%s`: %s\n",
                 plan.workload().id().c_str(), not_built.c_str());
    return kExitOk;
  } else {
    // A digest recorded by an earlier build pins the output: a rebuild that differs is refused
    // unless the user asks for the new digest.
    std::string pinned;
    for (const plan::v1::Artifact& a : plan.artifacts()) {
      if (a.role() == "rootfs" && !args.Has("repin")) {
        pinned = a.digest();
      }
    }
    if (auto failed = BuildOne(args, *request, pinned, digest)) {
      return Fail("build", *failed);
    }
  }
  auto file = plan::WithRootfsDigest(decoded->envelope.payload, digest, key ? &*key : nullptr);
  if (!file) {
    return Fail("build", file.error());
  }
  fs::path out_dir = args.Has("o") ? fs::path(args.Get("o")) : plan_path.parent_path();
  std::error_code ec;
  fs::create_directories(out_dir.empty() ? "." : out_dir, ec);
  if (ec) {
    return Fail("build", MakeError(ErrorKind::kEnvironment,
                                   "cannot create `" + out_dir.string() + "`: " + ec.message()));
  }
  fs::path out = out_dir / (plan.workload().id() + std::string(kPlanSuffix));
  if (auto written = WriteFileAtomically(out, *file); !written) {
    return Fail("build", written.error());
  }
  Wrote(out, key ? &*key : nullptr, true);
  if (!key && !decoded->envelope.signatures.empty()) {
    std::fprintf(stderr,
                 "mvmctl build: warning: the plan was signed by key %s, but its payload now holds "
                 "the built digest, so the plan written is unsigned; give `--sign KEY` to sign "
                 "it\n",
                 decoded->envelope.signatures.front().keyid.c_str());
  }
  return kExitOk;
}

}  // namespace

int RunBuild(Args& args) {
  if (args.positional.empty()) {
    return Fail("build", MakeError(ErrorKind::kUsage,
                                   "give a plan (`<id>.plan.json`) or source files to build"));
  }
  size_t plans = 0;
  for (const std::string& p : args.positional) {
    plans += p.ends_with(kPlanSuffix) ? 1 : 0;
  }
  if (plans == 0) {
    return BuildSources(args);
  }
  if (args.positional.size() != 1) {
    return Fail("build", MakeError(ErrorKind::kUsage,
                                   "give one plan, or source files; not several plans or a mix"));
  }
  return BuildPlan(args);
}

}  // namespace mvm::cli
