#include "cli/commands.h"

#include <cstdio>

#include "cli/org_policy_file.h"
#include "ir/support/check.h"

namespace mvm::cli {

std::vector<FlagSpec> CompilerFlags() {
  return {{"profile", true}, {"format", true},   {"project-root", true}, {"passes", true},
          {"phase", true},   {"from-ir", false}, {"policy", true}};
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
  if (args.Has("policy")) {
    // Read here, before any compiling, so that a broken policy is a usage error naming the field
    // and can never be skipped by accident.
    auto policy = ReadOrgPolicy(args.Get("policy"));
    if (!policy) {
      error = policy.error().message;
      return false;
    }
    request.pass_options.org_policy = std::move(*policy);
  }
  if (args.Has("passes")) {
    request.pipeline = args.Get("passes");
    if (auto pipeline = passes::ParsePipeline(request.pipeline); !pipeline) {
      error = pipeline.error().message;
      return false;
    }
  }
  std::string phase = args.Get("phase", "passes");
  if (phase == "frontend") {
    request.phase = Phase::kFrontend;
  } else if (phase == "passes") {
    request.phase = Phase::kPasses;
  } else if (phase == "emit") {
    // Emitting happens after the passes; `compile --dump plan` is what stops there.
    request.phase = Phase::kPasses;
  } else {
    error = "unknown phase `" + phase + "`; use `frontend`, `passes` or `emit`";
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
  std::fprintf(stderr, "mvmctl %.*s: error: %.*s\n", static_cast<int>(command.size()),
               command.data(), static_cast<int>(message.size()), message.data());
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
  --policy FILE              organisation policy (mvm-policy.json) that tightens the profile
  --from-ir                  inputs are Workload IR JSON files (e.g. from SDK record mode)
  --passes LIST              pass pipeline (default validate,policy,org-policy,normalize)
  --phase frontend|passes    stop after this stage

exit status: 0 no errors (warnings allowed), 1 errors found, 2 usage error (also a malformed
--policy file), 3 environment failure
)",
       RunCheck},
      {"compile", "compile declarations to Workload IR files and ExecutionPlans",
       R"(usage: mvmctl compile FILE... [-o DIR] [--emit ir,plan] [--sign KEY] [options]

Compiles declarations to one canonical Workload IR file (DIR/<id>.ir.json, RFC 8785 JSON) and one
ExecutionPlan (DIR/<id>.plan.json, a DSSE envelope) per workload. Plans are signed with --sign;
without it a plan has no signatures and every verifier refuses it as unsigned. Nothing is written
when any error is found.

options:
  -o DIR                     output directory (default mvm-out)
  --emit LIST                what to write: `ir`, `plan` (default ir,plan; Nix requests: not yet)
  --sign KEY                 sign plans with this secret key file (from `mvmctl key gen`); makes
                             `production` the default profile
  --expires-in N(s|m|h|d)    plans expire this long after now (default 24h)
  --expires-at RFC3339       plans expire at this time (a past time is allowed, with a warning)
  --not-before RFC3339       plans are not valid before this time (default: a minute ago)
  --epoch N                  plan epoch, 0..4294967295 (default: the current Unix time); a
                             launcher refuses an epoch lower than the last it admitted
  --dump ir|plan             print the whole module's canonical IR, or each plan's canonical
                             payload, to stdout instead of writing files
  --phase frontend|passes|emit  stop after this stage (with --dump, for golden tests)
  --profile dev|production   rules to apply (default dev, or production with --sign)
  --policy FILE              organisation policy (mvm-policy.json) that tightens the profile
  --format human|json|sarif  diagnostics format
  --project-root DIR         directory local volumes must stay inside (production profile)
  --from-ir                  inputs are Workload IR JSON files (e.g. from SDK record mode)
  --passes LIST              pass pipeline (default validate,policy,org-policy,normalize)

exit status: 0 success, 1 errors found, 2 usage error, 3 environment failure (I/O, unusable key)
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
      {"key", "manage Ed25519 signing keys and the trust store",
       R"(usage: mvmctl key gen --out DIR [--name NAME]
       mvmctl key trust PUB [--trust-dir DIR]
       mvmctl key untrust KEYID [--trust-dir DIR]
       mvmctl key list [--trust-dir DIR]

gen      write DIR/NAME.key (secret, mode 0600) and DIR/NAME.pub (default NAME: mvm); print the
         key id (first 16 hex digits of SHA-256 of the public key). Never overwrites.
trust    add a public key file to the trust store as <keyid>.pub
untrust  remove the key with this id from the trust store
list     print the trusted key ids and their files

The trust store is $XDG_CONFIG_HOME/mvm/trust (else ~/.config/mvm/trust) unless --trust-dir is
given. Launchers run plans signed by these keys only.

exit status: 0 success, 2 usage error, 3 environment failure (I/O, bad key file, unknown key id)
)",
       RunKey},
      {"plan", "verify, inspect and compare ExecutionPlans",
       R"(usage: mvmctl plan verify PLAN [--trust PUB]... [--trust-dir DIR]
       mvmctl plan inspect PLAN [--format human|json]
       mvmctl plan diff OLD NEW [--format human|json] [--fail-on-widen]

verify   check the plan's signature against the trusted keys (the --trust files plus the keys in
         --trust-dir; with neither, the trust store), its envelope bytes, payload and validity
         window. Prints the reason when refused. Records nothing.
inspect  summarise a plan: image, resources, egress, secrets (names and hosts), mounts, expiry,
         signing key, epoch. Does not check the signature.
diff     list the capability changes from OLD to NEW: egress, DNS, secrets and their hosts,
         mounts, ports, resources, timeout, image, isolation, profile, expiry. --fail-on-widen
         exits 1 when NEW may do anything OLD may not. Does not check signatures.

exit status: 0 ok, 1 widened (diff --fail-on-widen) or a malformed plan (inspect, diff), 2 usage
error, 3 environment failure (I/O, bad key file), 4 verification refused
)",
       RunPlan},
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
