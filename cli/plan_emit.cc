// The plan half of `mvmctl compile`: flag handling and lowering to envelopes. The work itself is in
// backend-emit/plan; this file only turns flags into its options.

#include "cli/plan_emit.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <system_error>

#include "backend-emit/nix/templates.h"
#include "backend-emit/plan/envelope.h"
#include "backend-emit/plan/lower.h"
#include "backend-emit/plan/payload.h"
#include "cli/state_dir.h"

namespace mvm::cli {
namespace fs = std::filesystem;

namespace {

constexpr int64_t kDefaultValiditySeconds = 24 * 3600;
// A launcher whose clock runs a little behind the signer's must still accept a fresh plan.
constexpr int64_t kClockSkewSeconds = 60;

Error Usage(std::string message) { return MakeError(ErrorKind::kUsage, std::move(message)); }

}  // namespace

std::vector<FlagSpec> PlanFlags() {
  return {{"sign", true},
          {"expires-in", true},
          {"expires-at", true},
          {"not-before", true},
          {"epoch", true}};
}

std::optional<Error> ReadPlanSettings(const Args& args, passes::Profile profile,
                                      const plan::Clock& clock, PlanSettings& out) {
  out.profile = profile == passes::Profile::kProduction ? "production" : "dev";
  const int64_t now = clock.NowUnixSeconds();

  if (args.Has("expires-in") && args.Has("expires-at")) {
    return Usage("give `--expires-in` or `--expires-at`, not both");
  }
  if (args.Has("expires-at")) {
    auto at = plan::ParseRfc3339(args.Get("expires-at"));
    if (!at) {
      return Usage("`--expires-at`: " + at.error().message);
    }
    out.expires_at = *at;
    if (out.expires_at <= now) {
      std::fprintf(stderr,
                   "mvmctl compile: warning: `--expires-at %s` is in the past; every verifier "
                   "will refuse the plan as expired\n",
                   args.Get("expires-at").c_str());
    }
  } else {
    int64_t validity = kDefaultValiditySeconds;
    if (args.Has("expires-in")) {
      auto d = plan::ParseDuration(args.Get("expires-in"));
      if (!d) {
        return Usage("`--expires-in`: " + d.error().message);
      }
      validity = *d;
    }
    out.expires_at = now + validity;
  }

  if (args.Has("not-before")) {
    auto nb = plan::ParseRfc3339(args.Get("not-before"));
    if (!nb) {
      return Usage("`--not-before`: " + nb.error().message);
    }
    out.not_before = *nb;
    if (out.not_before >= out.expires_at) {
      return Usage("`--not-before " + args.Get("not-before") +
                   "` is not before the plan's expiry; the plan would never be valid");
    }
  } else {
    out.not_before = now - kClockSkewSeconds;
    // An explicit past expiry (for tests of expired plans) still needs a window that opens before
    // it closes.
    if (out.not_before >= out.expires_at) {
      out.not_before = out.expires_at - kDefaultValiditySeconds;
    }
  }
  for (int64_t t : {out.not_before, out.expires_at}) {
    if (auto text = plan::FormatTimestamp(t); !text) {
      return Usage(text.error().message);
    }
  }

  if (args.Has("epoch")) {
    std::string text = args.Get("epoch");
    uint32_t epoch = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), epoch);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
      return Usage("`--epoch " + text + "`: expected a whole number from 0 to 4294967295");
    }
    out.epoch = epoch;
  } else {
    // Unix time fits a uint32 until 2106; the epoch only has to grow from one compile to the next.
    out.epoch =
        static_cast<uint32_t>(std::clamp<int64_t>(now, 0, std::numeric_limits<uint32_t>::max()));
  }

  if (args.Has("sign")) {
    auto key = plan::LoadSecretKey(args.Get("sign"));
    if (!key) {
      return key.error();
    }
    out.key = std::move(*key);
  }
  return std::nullopt;
}

ErrorOr<std::vector<PlanFile>> MakePlans(
    const ir::Module& module, const PlanSettings& settings,
    const std::map<std::string, std::vector<plan::ProjectFile>>& project_files) {
  std::vector<PlanFile> files;
  plan::PlanOptions options;
  options.compiler_version = MVM_VERSION;
  options.profile = settings.profile;
  options.key_id = settings.key ? settings.key->KeyId() : "";
  options.not_before = settings.not_before;
  options.expires_at = settings.expires_at;
  options.epoch = settings.epoch;
  for (const ir::v1::Workload& checked : module.proto.workloads()) {
    ir::v1::Workload w = checked;
    if (auto project = project_files.find(w.id()); project != project_files.end()) {
      plan::AddProjectFiles(project->second, w);
    }
    auto lowered = plan::LowerToPlan(w, options);
    if (!lowered) {
      return lowered.error();
    }
    std::string payload = plan::PlanToCanonicalJson(*lowered);
    plan::Envelope envelope = plan::MakeEnvelope(payload, settings.key ? &*settings.key : nullptr);
    files.push_back({w.id(), std::move(payload), plan::SerializeEnvelope(envelope)});
  }
  return files;
}

std::vector<FlagSpec> FileLimitFlags() { return {{"max-files", true}, {"max-files-mb", true}}; }

ErrorOr<plan::FileLimits> ReadFileLimits(const Args& args) {
  plan::FileLimits limits;
  for (auto [flag, bound] :
       {std::pair{"max-files", uint64_t{1000000}}, std::pair{"max-files-mb", uint64_t{1} << 20}}) {
    if (!args.Has(flag)) {
      continue;
    }
    const std::string text = args.Get(flag);
    char* end = nullptr;
    errno = 0;
    unsigned long long n = std::strtoull(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno != 0 || n == 0 || n > bound || text[0] == '-') {
      return MakeError(ErrorKind::kUsage, "`--" + std::string(flag) +
                                              "` takes a whole number from 1 to " +
                                              std::to_string(bound) + ", not `" + text + "`");
    }
    if (std::string_view(flag) == "max-files") {
      limits.max_files = static_cast<uint32_t>(n);
    } else {
      limits.max_bytes = static_cast<uint64_t>(n) << 20;
    }
  }
  return limits;
}

std::vector<FlagSpec> NixFlags() { return {{"templates-dir", true}, {"state-dir", true}}; }

NixSettings ReadNixSettings(const Args& args) {
  return {nix::ResolveTemplatesDir(args.Get("templates-dir")), StateDirFrom(args) / "nix"};
}

ErrorOr<std::vector<NixRequestFile>> MakeNixRequests(const ir::Module& module,
                                                     const NixSettings& settings) {
  std::vector<NixRequestFile> files;
  std::error_code ec;
  const fs::path cwd = fs::current_path(ec);
  if (ec) {
    return Error{"cannot tell the current directory: " + ec.message()};
  }
  for (const ir::v1::Workload& w : module.proto.workloads()) {
    nix::RequestOptions options;
    options.base_dir = w.source().file().empty()
                           ? cwd
                           : (cwd / w.source().file()).lexically_normal().parent_path();
    options.templates_dir = settings.templates_dir;
    options.store = settings.store;
    nix::LoweredRequest lowered = nix::LowerNixBuildRequest(w.id(), w.image(), options);
    NixRequestFile file{w.id(), std::move(lowered.request), "", std::move(lowered.not_built)};
    if (file.request) {
      if (w.image().kind() == "template" &&
          !fs::is_regular_file(settings.templates_dir / "flake.nix", ec)) {
        return Error{"cannot find mvm's template flake: `" +
                     (settings.templates_dir / "flake.nix").string() +
                     "` does not exist; give `--templates-dir DIR` or set MVM_TEMPLATES_DIR to "
                     "the directory holding it"};
      }
      file.json = nix::RequestToCanonicalJson(*file.request);
    }
    files.push_back(std::move(file));
  }
  return files;
}

}  // namespace mvm::cli
