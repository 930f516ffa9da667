#include "cli/commands.h"

#include <cstdio>

#include "ir/support/check.h"

namespace mvm::cli {

std::vector<FlagSpec> CompilerFlags() {
  return {{"profile", true},  {"format", true},  {"project-root", true},
          {"passes", true},   {"phase", true},   {"from-ir", false}};
}

bool ApplyCompilerFlags(const Args& args, CompileRequest& request, DiagnosticFormat& format,
                        std::string& error) {
  std::string profile = args.Get("profile", "dev");
  if (profile == "dev") {
    request.pass_options.profile = passes::Profile::kDev;
  } else if (profile == "production") {
    request.pass_options.profile = passes::Profile::kProduction;
  } else {
    error = "unknown profile `" + profile + "`; use `dev` or `production`";
    return false;
  }
  std::string f = args.Get("format", "human");
  if (f == "human") {
    format = DiagnosticFormat::kHuman;
  } else if (f == "json") {
    format = DiagnosticFormat::kJson;
  } else if (f == "sarif") {
    format = DiagnosticFormat::kSarif;
  } else {
    error = "unknown format `" + f + "`; use `human`, `json` or `sarif`";
    return false;
  }
  request.pass_options.project_root = args.Get("project-root");
  if (args.Has("passes")) {
    request.pipeline = args.Get("passes");
  }
  std::string phase = args.Get("phase", "passes");
  if (phase == "frontend") {
    request.phase = Phase::kFrontend;
  } else if (phase == "passes") {
    request.phase = Phase::kPasses;
  } else if (phase == "emit") {
    error = "`--phase=emit` needs the plan emitter, which is not built yet; use `frontend` or `passes`";
    return false;
  } else {
    error = "unknown phase `" + phase + "`; use `frontend` or `passes`";
    return false;
  }
  request.from_ir = args.Has("from-ir");
  request.paths = args.positional;
  if (request.paths.empty()) {
    error = "no input files; give source files or directories";
    return false;
  }
  return true;
}

int Fail(std::string_view command, std::string_view message, int exit_code) {
  std::fprintf(stderr, "mvmctl %.*s: error: %.*s\n", static_cast<int>(command.size()), command.data(),
               static_cast<int>(message.size()), message.data());
  if (exit_code == kExitUsage) {
    std::fprintf(stderr, "run `mvmctl %.*s --help` for usage\n", static_cast<int>(command.size()),
                 command.data());
  }
  return exit_code;
}

bool WantsHelp(const std::vector<std::string>& argv, std::string_view usage) {
  for (const std::string& a : argv) {
    if (a == "--") {
      break;
    }
    if (a == "--help" || a == "-h") {
      std::fwrite(usage.data(), 1, usage.size(), stdout);
      return true;
    }
  }
  return false;
}

const std::vector<Command>& AllCommands() {
  static const std::vector<Command> kCommands = {
      {"check", "parse declarations and run the passes; print diagnostics, write nothing",
       R"(usage: mvmctl check PATH... [options]

Reads mvm declarations in Python (.py) and TypeScript (.ts, .tsx) files statically (nothing is
imported or run), checks them and prints diagnostics. Directories are searched for source files.

options:
  --profile dev|production   rules to apply (default dev)
  --format human|json|sarif  diagnostics format (json and sarif go to stdout)
  --project-root DIR         directory local volumes must stay inside (production profile)
  --from-ir                  inputs are Workload IR JSON files (e.g. from SDK record mode)
  --passes LIST              pass pipeline (default validate,policy,normalize)
  --phase frontend|passes    stop after this stage

exit status: 0 no errors (warnings allowed), 1 errors found, 2 usage error, 3 environment failure
)",
       RunCheck},
      {"compile", "compile declarations to Workload IR files",
       R"(usage: mvmctl compile FILE... [-o DIR] [--emit ir] [--dump ir] [options]

Compiles declarations to one canonical Workload IR file per workload: DIR/<id>.ir.json
(RFC 8785 JSON). Nothing is written when any error is found.

options:
  -o DIR                     output directory (default mvm-out)
  --emit ir                  what to write (plans and Nix build requests are not built yet)
  --dump ir                  print the whole module's canonical IR to stdout instead of writing files
  --phase frontend|passes    stop after this stage (with --dump, for golden tests)
  --profile dev|production   rules to apply (default dev)
  --format human|json|sarif  diagnostics format
  --project-root DIR         directory local volumes must stay inside (production profile)
  --from-ir                  inputs are Workload IR JSON files (e.g. from SDK record mode)
  --passes LIST              pass pipeline (default validate,policy,normalize)

exit status: 0 success, 1 errors found, 2 usage error, 3 environment failure
)",
       RunCompile},
      {"ir", "show Workload IR in canonical form",
       R"(usage: mvmctl ir show FILE.py|FILE.ts
       mvmctl ir canon FILE.ir.json
       mvmctl ir digest FILE.ir.json

show    compile a source file (no passes) and print its canonical IR
canon   read IR JSON and print it in canonical (RFC 8785) form
digest  print the IR digest (SHA-256 of the canonical form without source locations)
)",
       RunIr},
  };
  return kCommands;
}

const Command& FindCommand(std::string_view name) {
  for (const Command& c : AllCommands()) {
    if (c.name == name) {
      return c;
    }
  }
  MVM_CHECK(false && "unknown command");
  return AllCommands().front();
}

}  // namespace mvm::cli
