// `mvmctl compile`: source (or IR) to canonical IR files, ExecutionPlans and Nix build requests,
// one per workload.

#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "cli/output_files.h"
#include "cli/plan_emit.h"
#include "ir/json.h"

namespace mvm::cli {
namespace fs = std::filesystem;

namespace {

/// What `--emit` asks for.
struct EmitSet {
  bool ir = false;
  bool plan = false;
  bool nix = false;
};

/// Parses `--emit ir,plan,nix`; false with `error` set on an unknown item.
bool ParseEmit(std::string_view text, EmitSet& out, std::string& error) {
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string_view item =
        text.substr(start, comma == std::string_view::npos ? text.size() - start : comma - start);
    if (item == "ir") {
      out.ir = true;
    } else if (item == "plan") {
      out.plan = true;
    } else if (item == "nix") {
      out.nix = true;
    } else {
      error =
          "unknown `--emit` item `" + std::string(item) + "`; use a list of `ir`, `plan` and `nix`";
      return false;
    }
    if (comma == std::string_view::npos) {
      break;
    }
    start = comma + 1;
  }
  return true;
}

/// Writes DIR/<id>.ir.json: a module holding that one workload.
ErrorOr<fs::path> WriteIr(const fs::path& out_dir, const ir::v1::Workload& workload) {
  ir::Module single;
  *single.proto.add_workloads() = workload;
  single.locs.emplace_back();
  fs::path path = out_dir / (workload.id() + ".ir.json");
  if (auto written = WriteFileAtomically(path, ir::ToCanonicalJson(single)); !written) {
    return written.error();
  }
  return path;
}

}  // namespace

int RunCompile(Args& args) {
  std::string error;
  CompileRequest request;
  DiagnosticFormat format = DiagnosticFormat::kHuman;
  if (!ApplyCompilerFlags(args, request, format, error)) {
    return Fail("compile", MakeError(ErrorKind::kUsage, error));
  }
  // Signed plans are meant to run somewhere else, so they get the stricter profile unless asked.
  if (args.Has("sign") && !args.Has("profile")) {
    request.pass_options.profile = passes::Profile::kProduction;
  }
  EmitSet emit;
  if (!ParseEmit(args.Get("emit", "ir,plan"), emit, error)) {
    return Fail("compile", MakeError(ErrorKind::kUsage, error));
  }
  std::string dump = args.Get("dump");
  if (!dump.empty() && dump != "ir" && dump != "plan" && dump != "nix") {
    return Fail("compile", MakeError(ErrorKind::kUsage,
                                     "unknown dump `" + dump +
                                         "`; use `--dump ir`, `--dump plan` or `--dump nix`"));
  }
  if (request.phase == Phase::kFrontend && dump != "ir") {
    // Files and plans are only ever made from IR that went through every pass; a stage dump is for
    // looking, not for shipping.
    return Fail(
        "compile",
        MakeError(ErrorKind::kUsage,
                  "`--phase frontend` stops before the checks, so it only goes with `--dump ir`"));
  }
  bool makes_plans = dump.empty() ? emit.plan : dump == "plan";
  if (args.Has("sign") && !makes_plans) {
    return Fail("compile",
                MakeError(ErrorKind::kUsage,
                          "`--sign` signs plans, but none are emitted; add `plan` to `--emit`"));
  }
  PlanSettings plan_settings;
  if (makes_plans) {
    plan::SystemClock clock;
    if (auto problem = ReadPlanSettings(args, request.pass_options.profile, clock, plan_settings)) {
      return Fail("compile", *problem);
    }
  }

  request.resolve_files = makes_plans;
  auto limits = ReadFileLimits(args);
  if (!limits) {
    return Fail("compile", limits.error());
  }
  request.file_limits = *limits;
  auto compilation = Compile(request);
  if (!compilation) {
    return FailCompilation("compile", compilation.error(), format);
  }
  PrintDiagnostics(*compilation, format);
  bool errors = compilation->has_errors();
  const ir::Module& module = compilation->module;
  if (dump == "ir") {
    std::string json = ir::ToCanonicalJson(module) + "\n";
    std::fwrite(json.data(), 1, json.size(), stdout);
    return errors ? kExitInputErrors : kExitOk;
  }
  if (errors) {
    return kExitInputErrors;
  }
  // Every plan and request is made before anything is written, so a failure leaves no partial
  // output.
  std::vector<PlanFile> plans;
  if (makes_plans) {
    auto made = MakePlans(module, plan_settings, compilation->project_files);
    if (!made) {
      return Fail("compile", WithKind(made.error(), ErrorKind::kUsage));
    }
    plans = std::move(*made);
  }
  if (dump == "plan") {
    for (const PlanFile& p : plans) {
      std::string line = p.payload + "\n";
      std::fwrite(line.data(), 1, line.size(), stdout);
    }
    return kExitOk;
  }
  std::vector<NixRequestFile> requests;
  if (dump.empty() ? emit.nix : dump == "nix") {
    auto made = MakeNixRequests(module, ReadNixSettings(args));
    if (!made) {
      return Fail("compile", made.error());
    }
    requests = std::move(*made);
    for (const NixRequestFile& r : requests) {
      if (!r.request && format == DiagnosticFormat::kHuman) {
        std::fprintf(stderr, "mvmctl compile: note: no Nix build request for `%s`: %s\n",
                     r.workload_id.c_str(), r.not_built.c_str());
      }
    }
  }
  if (dump == "nix") {
    for (const NixRequestFile& r : requests) {
      if (r.request) {
        std::string line = r.json + "\n";
        std::fwrite(line.data(), 1, line.size(), stdout);
      }
    }
    return kExitOk;
  }

  fs::path out_dir = args.Get("o", "mvm-out");
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) {
    return Fail("compile", MakeError(ErrorKind::kEnvironment,
                                     "cannot create `" + out_dir.string() + "`: " + ec.message()));
  }
  auto report = [&](const fs::path& path, std::string_view note) {
    if (format == DiagnosticFormat::kHuman) {
      std::fprintf(stderr, "wrote %s%.*s\n", path.string().c_str(), static_cast<int>(note.size()),
                   note.data());
    }
  };
  for (int i = 0; i < module.proto.workloads_size(); ++i) {
    if (emit.ir) {
      auto path = WriteIr(out_dir, module.proto.workloads(i));
      if (!path) {
        return Fail("compile", path.error());
      }
      report(*path, "");
    }
    if (emit.plan) {
      const PlanFile& p = plans[static_cast<size_t>(i)];
      fs::path path = out_dir / (p.workload_id + ".plan.json");
      if (auto written = WriteFileAtomically(path, p.file); !written) {
        return Fail("compile", written.error());
      }
      report(path, plan_settings.key ? " (signed by key " + plan_settings.key->KeyId() + ")"
                                     : std::string(" (unsigned)"));
      if (auto files = compilation->project_files.find(p.workload_id);
          files != compilation->project_files.end() && !files->second.empty()) {
        const fs::path bundle = plan::BundleDirFor(path);
        if (auto written = plan::WriteBundle(files->second, bundle); !written) {
          return Fail("compile", written.error());
        }
        report(bundle, " (" + std::to_string(files->second.size()) + " project file" +
                           (files->second.size() == 1 ? "" : "s") + ")");
      }
    }
    if (emit.nix && requests[static_cast<size_t>(i)].request) {
      const NixRequestFile& r = requests[static_cast<size_t>(i)];
      fs::path path = out_dir / (r.workload_id + ".nix.json");
      if (auto written = WriteFileAtomically(path, r.json); !written) {
        return Fail("compile", written.error());
      }
      report(path, "");
    }
  }
  return kExitOk;
}

}  // namespace mvm::cli
