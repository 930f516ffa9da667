#include "cli/commands.h"

#include <algorithm>
#include <cstdio>

#include "cli/org_policy_file.h"
#include "cli/plan_emit.h"
#include "cli/runtime_session.h"
#include "ir/support/check.h"
#include "ir/support/suggest.h"
#include "runtime/backends/backend.h"

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

int ExitCodeOf(ErrorKind kind) { return ErrorKindInfoOf(kind).exit_code; }

int Fail(std::string_view command, const Error& error) {
  std::fprintf(stderr, "mvmctl %.*s: error: %s\n", static_cast<int>(command.size()), command.data(),
               error.message.c_str());
  if (error.kind == ErrorKind::kUsage) {
    std::fprintf(stderr, "run `mvmctl %.*s --help` for usage\n", static_cast<int>(command.size()),
                 command.data());
  }
  return ExitCodeOf(error.kind);
}

int RunExitCodeOf(ErrorKind kind) {
  int code = ExitCodeOf(kind);
  return code == kExitUsage || code == kExitInputErrors ? code
                                                        : ExitCodeOf(ErrorKind::kRuntimeFailed);
}

int FailRun(std::string_view command, const Error& error) {
  (void)Fail(command, error);
  return RunExitCodeOf(error.kind);
}

namespace {

/// True (after printing `usage`) when argv asks for help.
bool WantsHelp(const std::vector<std::string>& argv, std::string_view usage) {
  for (const std::string& a : argv) {
    if (a == "--") {
      break;
    }
    if (a == "--help" || a == "-h") {
      // The backends are listed from the registry, so a new one needs no help text edited.
      std::string text(usage);
      constexpr std::string_view kBackends = "{backends}\n";
      if (size_t at = text.find(kBackends); at != std::string::npos) {
        text.replace(at, kBackends.size(), runtime::backends::HelpList(26));
      }
      std::fwrite(text.data(), 1, text.size(), stdout);
      return true;
    }
  }
  return false;
}

using Flags = std::vector<FlagSpec>;

Flags Join(std::initializer_list<Flags> parts) {
  Flags all;
  for (const Flags& part : parts) {
    all.insert(all.end(), part.begin(), part.end());
  }
  return all;
}

bool LooksLikeFile(std::string_view arg) {
  for (std::string_view ext : {".py", ".ts", ".tsx", ".json"}) {
    if (arg.ends_with(ext)) {
      return true;
    }
  }
  return false;
}

// `run` and `exec` pass what follows `--` to the sandbox, so an unknown flag there is most likely
// that command's own flag, put before `--` (`mvmctl exec box python3 -c ...`): say where it goes,
// unless it came before any command word and is close to one of ours (a typo).
std::string UsageMessage(const Command& command, const ArgsError& error) {
  if (error.unknown_flag.empty() || (command.name != "run" && command.name != "exec")) {
    return error.message;
  }
  const std::vector<std::string>& before = error.positionals_before;
  // exec's first word is the sandbox; run's is its FILE or PLAN, when it looks like one.
  size_t leading =
      command.name == "exec" ? 1 : (!before.empty() && LooksLikeFile(before[0]) ? 1 : 0);
  bool misplaced = before.size() > leading;
  if (!misplaced && error.suggestion) {
    return error.message;
  }
  std::string example = "mvmctl " + std::string(command.name);
  for (size_t i = 0; i < std::min(leading, before.size()); ++i) {
    example += " " + before[i];
  }
  if (command.name == "exec" && before.empty()) {
    example += " NAME";
  }
  example += " --";
  for (size_t i = leading; i < before.size(); ++i) {
    example += " " + before[i];
  }
  if (!misplaced && !(command.name == "run" && leading == 1)) {
    example += " CMD";
  }
  example += " " + error.unknown_flag + " ...";
  std::string what =
      command.name == "run" && leading == 1 ? "the entrypoint's arguments" : "the command";
  return "unknown flag `" + error.unknown_flag + "`; put " + what + " after `--`: `" + example +
         "`";
}

}  // namespace

int RunCommand(const Command& command, const std::vector<std::string>& argv) {
  if (WantsHelp(argv, command.usage)) {
    return kExitOk;
  }
  if (!command.flags) {
    Args args;
    args.positional = argv;
    return command.run(args);
  }
  ArgsError error;
  auto args = ParseArgs(argv, *command.flags, error);
  if (!args) {
    return Fail(command.name, MakeError(ErrorKind::kUsage, UsageMessage(command, error)));
  }
  return command.run(*args);
}

const std::vector<Command>& AllCommands() {
  static const std::vector<Command> kCommands = {
      {"check", "parse declarations and run the passes; print diagnostics, write nothing",
       R"(usage: mvmctl check PATH... [options]

Reads mvm declarations in Python (.py) and TypeScript (.ts, .tsx) files statically (nothing is
imported or run), checks them and prints diagnostics. Directories are searched for source files.
When a file has no errors, the project files its workloads would ship (`files=`) are listed from
its directory too (not read), so a link out of the project or a pattern matching nothing shows here.

options:
  --profile dev|production   rules to apply (default dev)
  --format human|json|sarif  diagnostics format (json and sarif go to stdout)
  --project-root DIR         directory local volumes must stay inside (production profile)
  --policy FILE              organisation policy (mvm-policy.json) that tightens the profile
  --from-ir                  inputs are Workload IR JSON files (e.g. from SDK record mode)
  --passes LIST              pass pipeline (default validate,policy,org-policy,normalize)
  --phase frontend|passes    stop after this stage
  --max-files N              most project files one workload may ship (default 1000)
  --max-files-mb N           most MiB of project files one workload may ship (default 64)

exit status: 0 no errors (warnings allowed), 1 errors found, 2 usage error (also a malformed
--policy file), 3 environment failure
)",
       CheckFlags(), RunCheck},
      {"compile", "compile declarations to Workload IR files and ExecutionPlans",
       R"(usage: mvmctl compile FILE... [-o DIR] [--emit ir,plan,nix] [--sign KEY] [options]

Compiles declarations to one canonical Workload IR file (DIR/<id>.ir.json, RFC 8785 JSON) and one
ExecutionPlan (DIR/<id>.plan.json, a DSSE envelope) per workload, and with `--emit nix` a Nix build
request (DIR/<id>.nix.json) per workload with a `nix:` image or a template the shipped flake
builds. Plans are signed with --sign; without it a plan has no signatures and every verifier
refuses it as unsigned. Each plan lists the project files its workload ships to /app (`files=`,
by default the declaring file's directory tree less what .gitignore excludes) with their SHA-256,
and their contents go to DIR/<id>.bundle/sha256/<hex>: copy the bundle with the plan. Nothing is
written when any error is found.

options:
  -o DIR                     output directory (default mvm-out)
  --emit LIST                what to write: `ir`, `plan`, `nix` (default ir,plan)
  --sign KEY                 sign plans with this secret key file (from `mvmctl key gen`); makes
                             `production` the default profile
  --expires-in N(s|m|h|d)    plans expire this long after now (default 24h)
  --expires-at RFC3339       plans expire at this time (a past time is allowed, with a warning)
  --not-before RFC3339       plans are not valid before this time (default: a minute ago)
  --epoch N                  plan epoch, 0..4294967295 (default: the current Unix time); a
                             launcher refuses an epoch lower than the last it admitted
  --dump ir|plan|nix         print the whole module's canonical IR, or each plan's canonical
                             payload, or each Nix build request, to stdout instead of writing
                             files
  --phase frontend|passes|emit  stop after this stage (with --dump, for golden tests)
  --profile dev|production   rules to apply (default dev, or production with --sign)
  --policy FILE              organisation policy (mvm-policy.json) that tightens the profile
  --format human|json|sarif  diagnostics format
  --project-root DIR         directory local volumes must stay inside (production profile)
  --max-files N              most project files one plan may ship (default 1000)
  --max-files-mb N           most MiB of project files one plan may ship (default 64)
  --from-ir                  inputs are Workload IR JSON files (e.g. from SDK record mode)
  --passes LIST              pass pipeline (default validate,policy,org-policy,normalize)
  --state-dir DIR            Nix requests build into the local store DIR/nix (default
                             $XDG_STATE_HOME/mvm, else ~/.local/state/mvm)
  --templates-dir DIR        the template flake's directory (default $MVM_TEMPLATES_DIR, else the
                             one shipped with mvmctl)

exit status: 0 success, 1 errors found, 2 usage error, 3 environment failure (I/O, unusable key)
)",
       Join({CompilerFlags(),
             {{"o", true}, {"emit", true}, {"dump", true}},
             PlanFlags(),
             FileLimitFlags(),
             NixFlags()}),
       RunCompile},
      {"build", "build workloads' root filesystems with Nix and record their digests in the plans",
       R"(usage: mvmctl build FILE... [-o DIR] [--sign KEY] [--state-dir DIR] [-v] [options]
       mvmctl build PLAN [-o DIR] [--sign KEY] [--state-dir DIR] [--builders SPEC] [-v]

Runs each workload's Nix build request in the builder sandbox (docs/nix.md#the-builder-sandbox):
evaluation and build happen there, never on the host, offline, with Debian's nix-bin (the host's
/usr read-only in a container; a Debian root of its own in a microVM) and a store of its own
(STATE-DIR/builder/store.img). The host copies the
built tree into STATE-DIR/artifacts/trees and computes its NAR hash itself; that hash becomes the
plan's artifact digest, and STATE-DIR/artifacts/<hex>.json records where the tree is, for the
launcher. Uses the warm builder when `mvmctl builder start` keeps one, else starts one for the
build and removes it after. Nix's log is streamed prefixed with `[nix]`.

FILE...  compiles like `mvmctl compile` (same flags), builds, and writes DIR/<id>.plan.json with
         the digests and DIR/<id>.nix.json (DIR: -o, default mvm-out).
PLAN     a `<id>.plan.json`: builds the request in `<id>.nix.json` beside it when there is one,
         else the one its image implies, and writes `<id>.plan.json` again (in -o DIR, default
         the plan's directory). The validity window and epoch are kept; the signature cannot be,
         so the plan is written unsigned unless --sign is given.

`oci:` images and templates the flake does not build (python-3.11, made by the runtime with
mmdebstrap) have nothing to build and are left as they are. See docs/nix.md.

options:
  -o DIR                     output directory (see above)
  --sign KEY                 sign the plans written with this secret key file
  --state-dir DIR            state directory (default $XDG_STATE_HOME/mvm, else
                             ~/.local/state/mvm)
  --templates-dir DIR        the template flake's directory (default $MVM_TEMPLATES_DIR, else the
                             one shipped with mvmctl)
  -v                         print the request's nix command and where the build was recorded
  --builders SPEC|@FILE      build on these Nix remote builders only, never on this host: machines
                             as in Nix's machines file (`ssh-ng://user@host x86_64-linux KEY 1 1
                             - - HOSTKEY`), separated by `;`; only ssh:// and ssh-ng:// URIs. The
                             flake is still evaluated in the builder sandbox; this host's nix
                             gets only its derivation
  --builder-backend B        a new builder's backend: container, qemu-microvm or auto (default
                             $MVM_BUILDER_BACKEND, else auto: the microVM where KVM boots a
                             guest, else the container; `builder status` says which and why)
  --build-timeout SECONDS    the builder's nix ends after this long (default 1800)
  --builder-memory-mb N      a new builder's memory limit (default 2048)
  --builder-store-mb N       the store image's size when first made (default 8192)
  PLAN only: --repin         record a new digest when the plan pins another; without it a build
                             whose output differs from the plan's pinned digest is refused
  FILE only: the compiler flags of `mvmctl compile` (--profile, --policy, --from-ir, --format,
  --passes, --phase, --project-root, --max-files, --max-files-mb) and its plan flags
  (--expires-in, --expires-at, --not-before, --epoch); the project files' bundle is written
  beside each plan as `mvmctl compile` writes it

exit status: 0 success, 1 errors found (or a malformed plan or request), 2 usage error,
3 environment failure (nix missing or failing, the builder failing or timing out, an output that
differs from the pinned digest, I/O, unusable key)
)",
       Join({CompilerFlags(),
             {{"o", true},
              {"v", false},
              {"builder-backend", true},
              {"build-timeout", true},
              {"builder-memory-mb", true},
              {"builder-store-mb", true},
              {"repin", false},
              {"builders", true}},
             PlanFlags(),
             FileLimitFlags(),
             NixFlags()}),
       RunBuild},
      {"builder", "keep the builder sandbox that `build` uses ready, or stop it",
       R"(usage: mvmctl builder start [--builder-backend B] [--builder-memory-mb N]
                            [--builder-store-mb N] [--state-dir DIR] [-v]
       mvmctl builder status [--builder-backend B] [--format human|json] [--state-dir DIR]
       mvmctl builder stop [--state-dir DIR]

start   starts the warm builder, a detached sandbox called `mvm-builder` with its store
        (STATE-DIR/builder/store.img, mounted at STATE-DIR/builder/store) ready, so that
        `mvmctl build` runs in it instead of starting a builder for each build. It sees the
        host's /usr read-only (a microVM: a Debian root of its own with nix-bin), its own store at
        /nix, flake sources copied to /src read-only and a tmpfs at /build; no state directory,
        keys, secrets, home directory or network. --builder-backend: container, qemu-microvm or
        auto (default $MVM_BUILDER_BACKEND, else auto: the microVM where KVM boots a guest, else
        the container).
status  whether it runs, with its backend, pid, store and the store's use (`df`), and the
        backend a new builder would get and why (the KVM probe's result).
stop    stops it and unmounts its store; the store image stays for the next start.

Starts, builds, imports and stops are audited (builder-start, builder-build, builder-import,
builder-stop; builder-evaluate for `build --builders`). See docs/nix.md#the-builder-sandbox.

exit status: 0 ok, 2 usage error, 3 environment failure (cannot start, nothing to stop)
)",
       // Not RuntimeFlags(): the builder admits no plan, so it takes no trust flags.
       Flags{{"state-dir", true},
             {"v", false},
             {"builder-backend", true},
             {"format", true},
             {"builder-memory-mb", true},
             {"builder-store-mb", true}},
       RunBuilder},
      {"ir", "show Workload IR in canonical form",
       R"(usage: mvmctl ir show FILE.py|FILE.ts
       mvmctl ir canon FILE.ir.json
       mvmctl ir digest FILE.ir.json

Prints Workload IR, the JSON the frontends and SDK record modes write, on stdout:

show    compile a source file (no passes) and print its canonical IR
canon   read IR JSON strictly (an unknown field, a wrong type or another schema_version is an
        error) and print it in canonical (RFC 8785) form
digest  print the IR digest (SHA-256 of the canonical form without source locations); digest the
        output of `mvmctl compile` for the digest a plan records

options:
  --format human|json   format of the diagnostics printed when the input has errors

exit status: 0 ok, 1 the input has errors (printed), 2 usage error, 3 environment failure (I/O)
)",
       Flags{{"format", true}}, RunIr},
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
       Flags{{"out", true}, {"name", true}, {"trust-dir", true}}, RunKey},
      {"secret", "store secret values on the host, encrypted, and grant them to workloads",
       R"(usage: mvmctl secret set NAME [--from-file FILE] [--state-dir DIR]
       mvmctl secret ls [--format human|json] [--state-dir DIR]
       mvmctl secret rm NAME [--state-dir DIR]
       mvmctl secret grant NAME --workload ID [--signer KEYID] [--state-dir DIR]
       mvmctl secret revoke NAME --workload ID [--signer KEYID] [--state-dir DIR]

The secret store is STATE-DIR/secrets: each value encrypted (XChaCha20-Poly1305) under the key
file STATE-DIR/secrets/key (mode 0600, made on first use). Values stay on the host: a sandbox gets
a token instead, which its egress proxy replaces with the value on the way to the secret's hosts.

set     store NAME, or replace its value (its grants and creation time are kept). The value is
        read from --from-file FILE, else from stdin (a terminal is asked for it with echo off),
        never from the command line, so it stays out of shell history and `ps`. One trailing
        newline is dropped; the value must be 1 to 16384 bytes of printable ASCII.
ls      names, creation times and grants, never values. --format json prints
        {"secrets":[{"name","created","grants":[{"workload","signer"}]}]} (signer "" is any
        trusted key).
rm      remove NAME and its grants
grant   allow workload ID (and only when its plan is signed by KEYID, with --signer) to receive
        NAME; the production profile releases a secret only to a granted workload
revoke  remove that grant

NAME is 1 to 128 of `A-Za-z0-9._-`, starting with a letter or digit. set, rm, grant and revoke
are recorded in the audit log (secret-set, secret-rm, secret-grant, secret-revoke), by name.

options:
  --state-dir DIR   state directory (default $XDG_STATE_HOME/mvm, else ~/.local/state/mvm)

exit status: 0 ok, 1 the value cannot be a secret, 2 usage error (also a bad name, workload id or
key id, or a grant that exists or does not), 3 environment failure (I/O, unusable key file) or no
such secret
)",
       Flags{{"state-dir", true},
             {"from-file", true},
             {"format", true},
             {"workload", true},
             {"signer", true}},
       RunSecret},
      {"image", "pull, load, list, verify and remove OCI images in the local cache",
       R"(usage: mvmctl image pull REF [--auth-file FILE] [--ca-file FILE] [--quiet] [--state-dir DIR]
       mvmctl image load FILE [--name REF] [--quiet] [--state-dir DIR]
       mvmctl image ls [--format human|json] [--state-dir DIR]
       mvmctl image inspect IMAGE [--state-dir DIR]
       mvmctl image verify [IMAGE] [--state-dir DIR]
       mvmctl image rm IMAGE... [--state-dir DIR]
       mvmctl image prune [--state-dir DIR]

The image cache is STATE-DIR/images: each image unpacked once, keyed by its manifest digest, with
the digest of its tree; `oci:` workloads run from it (docs/images.md).

pull     resolve REF (`[oci:]REGISTRY/REPO[:TAG][@sha256:DIGEST]`; no registry means Docker Hub) to
         a digest, choose the linux/amd64 manifest of an index, download every blob while checking
         its SHA-256, unpack the layers and store the image. Prints the digest and the pinned
         reference to declare. Credentials come from a Docker-style config.json (--auth-file, else
         $MVM_REGISTRY_AUTH, $REGISTRY_AUTH_FILE, $DOCKER_CONFIG/config.json, ~/.docker/config.json);
         TLS trusts the system store plus --ca-file (else $SSL_CERT_FILE). Plain HTTP only for a
         registry on a loopback address.
load     store the images of an OCI image layout (a directory, or a tar of one) or a `docker save`
         archive, checking every blob against its digest; --name REF names a file's one image
inspect  print an image's digests, names, size, platform and configuration as JSON
verify   re-hash the stored manifest, configuration and tree of IMAGE (or of every image)
rm       remove images (refused while a running sandbox uses one)
prune    remove images without a name and leftovers of interrupted pulls

IMAGE is a digest (manifest or index; `sha256:` optional), a unique prefix of at least 12 hex
digits, or a reference the cache has a name for. pull, load, verify, rm and prune are recorded in
the audit log (image-resolve, image-fetch, image-cache-hit, image-materialize, image-verify,
image-delete).

options:
  --state-dir DIR   state directory (default $XDG_STATE_HOME/mvm, else ~/.local/state/mvm)

exit status: 0 ok, 2 usage error, 3 environment failure (registry, network, I/O, a refused or
corrupt image, no such image), 4 verify found a changed image
)",
       Flags{{"state-dir", true},
             {"auth-file", true},
             {"ca-file", true},
             {"name", true},
             {"format", true},
             {"quiet", false}},
       RunImage},
      {"plan", "verify, inspect and compare ExecutionPlans",
       R"(usage: mvmctl plan verify PLAN [--trust PUB]... [--trust-dir DIR]
       mvmctl plan inspect PLAN [--format human|json]
       mvmctl plan diff OLD NEW [--format human|json] [--fail-on-widen] [--fail-on-change]

verify   check the plan's signature against the trusted keys (the --trust files plus the keys in
         --trust-dir; with neither, the trust store), its envelope bytes, payload and validity
         window. Prints the reason when refused. Records nothing.
inspect  summarise a plan: image, entrypoint and service commands, env, files, resources, egress,
         secrets (names and hosts), mounts, ports, expiry, signing key, epoch. Does not check the
         signature. --format json prints the payload as signed.
diff     list the changes from OLD to NEW: what runs (image, entrypoint and service commands, env,
         files) and what it may do (egress, DNS, secrets and their hosts, mounts, ports, resources,
         timeout, isolation, profile), and the expiry. Commands are shown as shell words with
         control and non-ASCII bytes as \xHH; env values are shown except for names that look like
         credentials (TOKEN, SECRET, PASSWORD, API_KEY, AUTH, ...). Does not check signatures.

options:
  --trust PUB          (verify) also trust this public key file (repeatable)
  --trust-dir DIR      (verify) trust store (default $XDG_CONFIG_HOME/mvm/trust)
  --format human|json  (inspect, diff) output format (default human)
  --fail-on-widen      (diff) exit 1 when NEW may do anything OLD may not
  --fail-on-change     (diff) exit 1 when NEW differs from OLD in anything but its expiry: another
                       command, env value, file or image is a change even when it widens nothing

exit status: 0 ok, 1 widened or changed (diff --fail-on-widen / --fail-on-change) or a malformed
plan (inspect, diff), 2 usage error, 3 environment failure (I/O, bad key file), 4 verification
refused
)",
       Flags{{"trust", true, /*repeatable=*/true},
             {"trust-dir", true},
             {"format", true},
             {"fail-on-widen", false},
             {"fail-on-change", false}},
       RunPlan},
      {"audit", "check the launcher's hash-chained, signed audit log",
       R"(usage: mvmctl audit verify [LOG] [--state-dir DIR] [--trust PUB]...

Checks the audit log the launcher appends to (default LOG: <state-dir>/audit.jsonl): every record's
hash, the chain of hashes from the first record to the last, the seq numbers and times, each
checkpoint's signature, and the signed head file LOG.head that shows whether records were cut from
the end. Prints the first bad line and what is wrong with it.

Signatures must be by a --trust key, else by <state-dir>/keys/launcher.pub when it exists. With
neither, any key the log names is accepted and its id printed, and a log written without a key
(no checkpoints, no head file) verifies on its chain alone.

options:
  --state-dir DIR   launcher state directory (default $XDG_STATE_HOME/mvm, else
                    ~/.local/state/mvm)
  --trust PUB       a public key file the signatures must verify under (repeatable)

exit status: 0 the log is intact, 2 usage error, 3 environment failure (no log, unreadable log or
key file), 4 the log is broken (edited, reordered, truncated, or signed by an untrusted key)
)",
       Flags{{"state-dir", true}, {"trust", true, /*repeatable=*/true}}, RunAudit},
      {"run", "compile (a source file), sign, verify and run a workload in a sandbox",
       R"(usage: mvmctl run FILE|PLAN [--entrypoint NAME] [--workload ID] [-i] [-t] [options] [-- ARGS...]
       mvmctl run [--image REF] [-e NAME=VALUE]... [--timeout S] [--network POLICY] [-i] [-t] [options] -- CMD ARGS...

Runs one entrypoint of a workload in a fresh sandbox, streams its output, removes the sandbox and
exits with the entrypoint's status. A source file is compiled (dev profile unless --profile) and its
plan signed with the local dev key (<state-dir>/keys/dev.key, made on first use); a plan file
(*.json) must be signed by a key in the trust store. Either way the plan is verified and admitted
(epoch, replay) before anything starts, and every step is recorded in the audit log. When a
running warm pool (`mvmctl pool`) holds a ready sandbox for the same plan, files and volumes, that
sandbox is claimed instead of booting one.

Without FILE|PLAN, CMD ARGS... is a one-shot command: a workload `oneshot` whose only entrypoint
runs it is written from the options below, checked by the same passes as a source file and run
like one.

options:
  --image REF           one-shot: its image (default template:python-3.11), e.g. oci:alpine:3.20
  -e NAME=VALUE         one-shot: an environment variable (repeatable)
  --timeout S           one-shot: kill it after S seconds (exit 124; default 300)
  --network POLICY      one-shot: `none` (the default) or a list such as `dns,https:pypi.org`
  -i                    stream this command's stdin to the entrypoint (default: it gets none)
  -t                    run the entrypoint on a terminal in the sandbox (`-it` for a shell): this
                        terminal turns raw while it runs (^C goes to the command), and TERM and the
                        window size go along; stdin must be a terminal
  --entrypoint NAME     entrypoint to run (default: the first declared)
  --workload ID         workload to run when the file declares several
  --name NAME           sandbox name (default: <workload>-<random>)
  --no-pool             boot a new sandbox even when a warm pool holds one for this plan
  --raw                 write the workload's output unchanged even to a terminal (by default a
                        terminal gets control characters escaped as \xHH)
  --profile dev|production   rules for compiling a source file (default dev)
  --project-root DIR    local volume sources are relative to this (default: the file's directory)
  --bundle DIR          PLAN: the project files' bundle (default: PLAN's name with .bundle for
                        .plan.json, as `mvmctl compile` writes it); every file is checked against
                        the plan's signed SHA-256 before the sandbox starts
  --max-files N, --max-files-mb N   FILE: bounds of the project files shipped (default 1000, 64)
  --backend NAME        sandbox backend, one of (the first is the default):
{backends}
  --state-dir DIR       state (default $XDG_STATE_HOME/mvm, else ~/.local/state/mvm)
  --trust-dir DIR       trust store (default $XDG_CONFIG_HOME/mvm/trust)
  --trust PUB           also trust this public key (repeatable)
  -v                    show backend and per-phase timings

exit status: the entrypoint's own; 124 timeout, 125 mvmctl refused or failed (reason printed),
126 not executable, 127 not found, 128+N killed by signal N (137 also after an out-of-memory kill,
with the reason printed); 1 compile errors, 2 usage error
)",
       Join({RuntimeFlags(),
             {{"entrypoint", true},
              {"workload", true},
              {"name", true},
              {"profile", true},
              {"project-root", true},
              {"bundle", true},
              {"max-files", true},
              {"max-files-mb", true},
              {"no-pool", false},
              {"raw", false},
              {"image", true},
              {"e", true, /*repeatable=*/true},
              {"timeout", true},
              {"network", true},
              {"i", false},
              {"t", false}}}),
       RunRun},
      {"up", "start a sandbox and keep it running",
       R"(usage: mvmctl up FILE|PLAN --name NAME [--detach] [--publish GUEST:HOST]... [--from-ir] [--format human|json] [options]

Verifies, admits and starts a sandbox for the workload and waits until its guest agent answers.
Then it starts every `@service` of the workload (restarted by its `restart=` policy; `mvmctl logs
NAME --service S` shows its output) and publishes every declared port (`ports=`, a service's
`port=`) on the host's 127.0.0.1, at an ephemeral port unless --publish chooses one; `mvmctl ps`
shows where. Without --detach it lives as long as this command: Ctrl-C, SIGTERM or the death of
this process removes it. With --detach it stays until `mvmctl stop` or `mvmctl destroy`.

options: as for `run` (--workload, --profile, --project-root, --bundle, --max-files,
--max-files-mb, --backend, --no-pool, --state-dir, --trust-dir, --trust, -v), and
  --publish GUEST:HOST  publish declared guest port GUEST on 127.0.0.1:HOST (repeatable); a HOST
                        another process holds is an error before anything starts
  --format json         print {"name","workload","pid","detached","audit_id","ports","services"}
  --from-ir             FILE is Workload IR JSON (what the SDKs write), compiled like source

exit status: 0 up (detached) or stopped cleanly, 1 compile errors, 2 usage error, 125 refused or
failed
)",
       Join({RuntimeFlags(),
             {{"name", true},
              {"detach", false},
              {"workload", true},
              {"profile", true},
              {"project-root", true},
              {"bundle", true},
              {"max-files", true},
              {"max-files-mb", true},
              {"format", true},
              {"from-ir", false},
              {"publish", true, true},
              {"no-pool", false}}}),
       RunUp},
      {"exec", "run a command in a running sandbox",
       R"(usage: mvmctl exec NAME [--timeout S] [-i] [-t] [-e NAME=VALUE]... [--cwd DIR] [--format json] [--raw] -- CMD...

Runs CMD in the sandbox through its guest agent, streaming its output. -i streams this command's
stdin to it; -t runs it on a terminal in the sandbox (`exec -it NAME -- sh` for a shell): this
terminal turns raw while it runs, so ^C and ^D go to CMD, TERM and the window size go along, and
stdin must be a terminal (not with --format json); -e adds an environment variable; --timeout kills
it and every process it started (setsid included) after S seconds. --format json prints
{"stdout","stderr","exit_code","timed_out","audit_id","message"?}. On a terminal, control
characters in the output are escaped as \xHH; --raw writes it unchanged. --state-dir DIR and -v
as for `run`; --backend, --trust-dir and --trust are accepted but unused (the sandbox has its own).

exit status: CMD's own; 124 timeout, 125 mvmctl failed, 126/127 not executable/found, 128+N killed
by signal N
)",
       Join({RuntimeFlags(),
             {{"timeout", true},
              {"i", false},
              {"t", false},
              {"e", true, /*repeatable=*/true},
              {"cwd", true},
              {"format", true},
              {"raw", false}}}),
       RunExec},
      {"ps", "list sandboxes",
       R"(usage: mvmctl ps [--state-dir DIR] [--format human|json] [-v]

Lists the sandboxes in the state directory, sorted by name: workload, status (running, paused or
stopped), PID, backend, creation time and the ports `up` published (127.0.0.1:HOST->GUEST). A
record that cannot be read is reported as a warning.

options:
  --format human|json   json prints {"sandboxes":[{"name","workload","status","pid","backend",
                        "detached","created_at","network","ports",...}]}
  -v                    also each sandbox's rootfs digest, network policy in force, secrets (names),
                        services and helper processes (the JSON always has them)
  --state-dir DIR       state directory (default $XDG_STATE_HOME/mvm, else ~/.local/state/mvm)

exit status: 0 ok, 2 usage error
)",
       Flags{{"state-dir", true}, {"format", true}, {"v", false}}, RunPs},
      {"logs", "print a sandbox's output log",
       R"(usage: mvmctl logs NAME [--service S] [-f] [--raw] [--show-tokens] [--state-dir DIR]

Prints what the sandbox's commands wrote, as its agent keeps it (the last MiB). --service S prints
only service S's output and its start, exit and restart lines (the last 256 KiB of it). -f follows
it until the sandbox stops. On a terminal, control characters are escaped as \xHH; --raw writes the log
unchanged. Secret tokens are cut to their `mvmtok-` prefix unless --show-tokens. Then, on stderr,
what the sandbox's network policy refused it (`egress: ... denied ...`), from the audit log.

options:
  --service S       the log of service S only (`mvmctl ps -v` lists them)
  -f                follow the log until the sandbox stops
  --raw             write the log unchanged, even to a terminal
  --show-tokens     print secret tokens whole
  --state-dir DIR   state directory (default $XDG_STATE_HOME/mvm, else ~/.local/state/mvm)

exit status: 0 ok, 2 usage error, 3 no such running sandbox or agent unreachable
)",
       Flags{{"state-dir", true},
             {"service", true},
             {"f", false},
             {"raw", false},
             {"show-tokens", false}},
       RunLogs},
      {"fs", "read, write, list and remove files in a sandbox or an API-only volume",
       R"(usage: mvmctl fs NAME read|write|ls|rm PATH [-r] [--format human|json] [--state-dir DIR]
       mvmctl fs s3://BUCKET/PREFIX read|write|ls|stat|rm PATH --endpoint URL --credentials SECRET
                 [--region R] [-r] [--format human|json] [--state-dir DIR]
       mvmctl fs encrypted:STORE read|write|ls|stat|rm PATH [-r] [--format human|json]
       mvmctl fs s3://BUCKET/PREFIX|encrypted:STORE mv FROM TO [...]

read   print the file to stdout          write  replace the file with stdin
ls     list a directory                  rm     remove a file or empty directory (-r: a tree)
stat   one entry (volumes)               mv     rename FROM to TO (volumes)

Paths are absolute paths inside the sandbox; the agent refuses any that leave it (.., symlinks).
On a terminal, control characters in names and in `read` output are escaped as \xHH.
The text listing of `ls` is for reading: it escapes control characters in names everywhere, so it
cannot be parsed back exactly. `ls --format json` prints {"entries":[{"name","type","mode","size",
"link_target"?},...]} with the exact names; a name that is not UTF-8 also has "name_base64".

With s3://BUCKET/PREFIX instead of NAME, the files are the objects of an object volume (which no
sandbox mounts; docs/volumes.md), reached over the S3 API at --endpoint, signed with the keys the
host secret SECRET holds as `ACCESS_KEY_ID:SECRET_ACCESS_KEY`. PATH is relative to the prefix (`/`
is its root); reads and writes stream, and the operations are audited, aggregated. `ls --format
json` prints {"entries":[{"name","type","size"},...]}, `stat --format json` one such entry.
encrypted:STORE is the API-only encrypted store STORE under the state dir (files sealed one by
one, its key the host secret `volume-STORE`), reached the same way.

exit status: 0 ok, 1 the agent refused (the reason is printed), 2 usage error, 3 environment
failure (no such sandbox, agent unreachable)
)",
       Flags{{"state-dir", true},
             {"r", false},
             {"format", true},
             {"endpoint", true},
             {"credentials", true},
             {"region", true}},
       RunFs},
      {"snapshot", "capture a sandbox's writable state; list, verify and remove snapshots",
       R"(usage: mvmctl snapshot NAME [--label L] [--path P]... [--format human|json] [--state-dir DIR]
       mvmctl snapshot NAME --full [--encrypt] [--label L] [--format human|json] [--state-dir DIR]
       mvmctl snapshot ls [NAME] [--format human|json]
       mvmctl snapshot verify NAME LABEL
       mvmctl snapshot rm NAME LABEL

Copies what the running sandbox NAME holds in its writable memory file systems (/tmp, /dev/shm,
memory volumes) and in each --path into STATE-DIR/snapshots/NAME/LABEL.tar (mode 0600; default
label: the UTC time), with a description beside it, and records its SHA-256 in the audit log. The
root file system is read-only and host-backed volumes stay on the host, so neither is copied. The
workload's processes are paused (SIGSTOP) while the files are read. The same state gives the same
tar, byte for byte. Snapshots hold whatever the workload wrote, secrets included: they stay until
`snapshot rm` (destroy and gc keep them). The signed plan the sandbox was admitted with is kept
beside the tar (LABEL.plan) for `mvmctl restore`. `snapshot take NAME` works for a sandbox named ls,
verify or rm. --format json prints {"name","label","snapshot","sha256","bytes","files","paths","audit_id",…}.

--full (qemu-microvm): saves the whole VM instead, memory and device state, into
STATE-DIR/snapshots/NAME/LABEL.full/, sealed with this host's launcher key; the VM stands still
while it is saved and then continues (clients of its agent lose their connections). `mvmctl
restore` starts copies of it. docs/snapshots.md says what it holds and what a restore checks.
With --encrypt its memory and extras image are sealed at rest with a key of this host's secret
store (they then open only where that store's key is).

exit status: 0 ok, 1 the snapshot failed (the reason is printed), 2 usage error, 3 environment
failure (no such sandbox, agent unreachable), 4 verify found the snapshot changed, replayed or not
sealed by this host
)",
       Flags{{"state-dir", true},
             {"format", true},
             {"full", false},
             {"encrypt", false},
             {"label", true},
             {"path", true, /*repeatable=*/true}},
       RunSnapshot},
      {"pool", "keep sandboxes of a plan booted and ready to claim",
       R"(usage: mvmctl pool start FILE|PLAN --name POOL [--size N] [--detach] [--from-ir]
                         [--from-snapshot] [--format human|json] [options]
       mvmctl pool ls [--format human|json] [--state-dir DIR]
       mvmctl pool stop POOL... [--state-dir DIR]

start  verifies and admits the plan like `up`, then keeps N (default 1, at most 64) sandboxes of it
       booted to agent-ready. `run` and `up` of the same plan (apart from its validity window,
       epoch and signature), on the same backend, with the same files and volume sources, claim a
       ready one instead of booting: it is renamed to the claimer's --name, owned by the claimer,
       and the pool boots a replacement. A claimed sandbox keeps the hostname it booted with, and
       volumes copied in at boot (qemu-microvm read-only volumes) are as of its boot. The plan is
       re-verified before every boot: when it expires the pool stops (a source file's dev-signed
       plan is valid for 24 h). Without --detach the pool lives as long as this command (Ctrl-C,
       SIGTERM, SIGHUP or `pool stop` end it, destroying the unclaimed sandboxes); with --detach it
       runs in the background and logs to STATE-DIR/pools/POOL.log. Options as for `up`
       (--backend, --workload, --profile, --project-root, --state-dir, --trust-dir, --trust, -v).
       --format json prints {"name","workload","backend","size","pid","key","audit_id"} once the
       pool listens. --from-snapshot (qemu-microvm): the pool boots one sandbox, keeps a full
       snapshot of it while it runs (docs/snapshots.md) and fills itself by restoring that
       snapshot, each copy with its own hostname, entropy and clock, instead of booting.
ls     running pools: size, ready, booting, claimed, failed starts and the last failure.
stop   stops pools; waits (up to 120 s) for a boot in progress to finish first.

exit status: 0 ok, 1 compile errors or the pool ended because its plan stopped verifying,
2 usage error, 3 no such pool, 125 refused or failed
)",
       // One parse for every verb (flags may come before it); each verb checks what it takes.
       Join({RuntimeFlags(),
             {{"name", true},
              {"size", true},
              {"detach", false},
              {"from-snapshot", false},
              {"workload", true},
              {"profile", true},
              {"project-root", true},
              {"format", true},
              {"from-ir", false}}}),
       RunPool},
      {"pause", "stop a sandbox's processes where they are, until resume",
       R"(usage: mvmctl pause NAME... [--state-dir DIR]

Stops every process of the running sandbox, its guest agent's included, without telling them
(container: the cgroup freezer, v1 or v2), and returns once all of them are stopped. They keep
their memory, files and connections; the clock goes on. `ps` shows the sandbox as paused. Until
`mvmctl resume`, exec, fs, logs and snapshot refuse it at once (exit 125 for exec, 3 for the
others); stop and destroy work (they resume it first). Pausing a paused sandbox is fine. Audited
as `pause`.

exit status: 0 ok, 2 usage error, 3 a sandbox could not be found, is not running or could not be
paused (the others named are still handled)
)",
       Flags{{"state-dir", true}}, RunPause},
      {"resume", "let a paused sandbox's processes run on",
       R"(usage: mvmctl resume NAME... [--state-dir DIR]

Lets the processes of a paused sandbox run on from where `mvmctl pause` stopped them, and returns
once they do. Resuming a running sandbox is fine. Audited as `resume`.

exit status: 0 ok, 2 usage error, 3 a sandbox could not be found, is not running or could not be
resumed (the others named are still handled)
)",
       Flags{{"state-dir", true}}, RunResume},
      {"restore", "start a new sandbox from a snapshot",
       R"(usage: mvmctl restore NAME LABEL --as NEW [--backend B] [--no-pool] [--publish GUEST:HOST]...
                      [--format human|json] [options]

Starts the new detached sandbox NEW from snapshot LABEL of sandbox NAME (which need not exist any
more) and puts the snapshot's files back into its writable memory file systems, through its guest
agent. First the tar and the signed plan kept beside it are re-hashed against the snapshot's
description, then the plan is admitted again like any plan (a key trusted now, its validity window,
replay: a plan superseded by a newer epoch is refused), and the tar's members are checked again as
capture checked them. Paths the snapshot holds outside the new sandbox's memory file systems are
left out and listed. Runs on the snapshot's backend unless --backend. Like `up`, it claims a ready
sandbox from a warm pool of the same plan unless --no-pool. A snapshot of a sandbox `up` started
with services or ports gets them again, as `up` starts them: the ports bound on the host's
127.0.0.1 before the sandbox starts (ephemeral ports, or those --publish chooses), the services
started once the files are back; audited as `port-publish` and `service-start`. Options as for
`up` (--state-dir, --trust-dir, --trust, -v). --format json prints {"name","workload","pid",
"backend","from","label","sha256","files","directories","symlinks","skipped","audit_id","ports",
"services"}. Audited as `restore`, refusals too.

A full snapshot (`mvmctl snapshot NAME --full`, qemu-microvm) restores the whole VM instead: its
seal (this host's launcher key), every file's digest and its epoch are checked (an older copy put
back is a replay), its plan is admitted again, and qemu starts from the saved memory and devices;
the copy gets its own hostname (NEW), fresh entropy for its kernel's random pool and the host's
time. Restore it under several names to fork it. A full snapshot of a sandbox `up` served has its
services running again with the VM's memory (recorded and audited as `service-resume`) and its
ports published anew as above, --publish included. --format json then prints {"name","workload",
"pid","backend","kind","from","label","verify_ms","agent_ready_ms","refresh_ms","ports",
"services"}.
docs/snapshots.md has the rules.

exit status: 0 ok, 1 no such snapshot, 2 usage error, 3 environment failure, 4 the snapshot or its
plan changed since it was taken, its tar is not one mvm wrote, or a full snapshot's seal does not
verify or is not the current one, 125 the plan was refused or the sandbox failed
)",
       Join({RuntimeFlags(),
             {{"as", true}, {"format", true}, {"no-pool", false}, {"publish", true, true}}}),
       RunRestore},
      {"stop", "stop sandboxes (their record stays)",
       R"(usage: mvmctl stop NAME... [--state-dir DIR]

Asks the guest agent to shut down, kills what is left after 3 s, removes the cgroups (a paused
sandbox is resumed first). `ps` still lists the sandbox as stopped until `destroy` or `gc`. Works
on detached sandboxes and from any process; audited as `stop`.

options:
  --state-dir DIR   state directory (default $XDG_STATE_HOME/mvm, else ~/.local/state/mvm)

exit status: 0 ok, 2 usage error, 3 a sandbox could not be found or stopped (the others named are
still handled)
)",
       Flags{{"state-dir", true}}, RunStop},
      {"destroy", "stop sandboxes and remove everything they left",
       R"(usage: mvmctl destroy NAME... [--state-dir DIR]

Stops each sandbox as `mvmctl stop` does, then removes its directory and record. Works on stopped
sandboxes and on ones whose record is damaged. Snapshots are kept (`mvmctl snapshot rm` removes
them). Audited as `destroy`.

options:
  --state-dir DIR   state directory (default $XDG_STATE_HOME/mvm, else ~/.local/state/mvm)

exit status: 0 ok, 2 usage error, 3 a sandbox could not be found or removed (the others named are
still handled)
)",
       Flags{{"state-dir", true}}, RunDestroy},
      {"gc", "remove stopped sandboxes (and unused Debian images)",
       R"(usage: mvmctl gc [--debian-images] [--state-dir DIR]

Destroys every stopped sandbox in the state directory, as `mvmctl destroy` does, and prints
`removed N stopped sandboxes`. Running and paused sandboxes are left alone; one that cannot be
removed is reported on stderr and skipped.

With --debian-images it then removes every cached `Image.debian` image (`mvmctl templates` lists
them) that no sandbox record and no snapshot refers to, audited as `image-delete`, and prints
`removed N Debian images (M MiB)`. A plan that pins a removed image builds it again on its next
run while the Debian archive still serves those package versions; otherwise it is refused and
must be made again.

options:
  --debian-images   also remove the Debian package images nothing refers to
  --state-dir DIR   state directory (default $XDG_STATE_HOME/mvm, else ~/.local/state/mvm)

exit status: 0 ok (also when a sandbox or image was skipped), 2 usage error, 3 environment failure
)",
       Flags{{"state-dir", true}, {"debian-images", false}}, RunGc},
      {"templates", "list the cached root filesystems: templates and Debian package images",
       R"(usage: mvmctl templates [--format human|json] [--state-dir DIR]

Lists the root filesystems the state directory's cache holds: each built-in template (`template:`
images) with the digest, recipe revision and size of its current tree, and each `Image.debian`
image with its pin (the digest of the resolved package set a plan records), the number of
packages it installs, its size and what refers to it (sandboxes, snapshots). A tree built by
another recipe revision than this mvm's is listed as stale; its next use builds it again. Reads
only. `mvmctl gc --debian-images` removes the Debian images nothing refers to. --format json
prints {"templates":[{"name","built","wanted_revision","digest"?,"bytes"?,"revision"?,"stale"?}],
"debian":[{"pin","tree","revision","stale","trees","packages","bytes","used_by"}]}.

options:
  --format F        human (default) or json
  --state-dir DIR   state directory (default $XDG_STATE_HOME/mvm, else ~/.local/state/mvm)

exit status: 0 ok, 2 usage error
)",
       Flags{{"state-dir", true}, {"format", true}}, RunTemplates},
      {"lsp", "serve the Language Server Protocol over stdio (diagnostics, hover, completion)",
       R"(usage: mvmctl lsp [--stdio]

Speaks LSP (JSON-RPC 2.0 with Content-Length framing) on stdin/stdout for an editor: diagnostics
of open .py/.ts/.tsx documents as they change, hover and completion of option names in
`@workload(...)` / `@entrypoint(...)`, quick fixes for `unknown-option`, `missing-timeout` and
`plaintext-secret`; the document is re-parsed incrementally as it is edited.
Settings: {"mvm": {"profile": "dev"|"production", "policy": "path/to/mvm-policy.json"}}.
See docs/editors.md.

exit status: 0 after `shutdown` then `exit`, 1 when input ended or `exit` came without `shutdown`
)",
       std::nullopt, RunLsp},
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

ErrorOr<std::string> ActionOf(const Args& args, std::span<const std::string_view> actions) {
  std::string listed;
  for (size_t i = 0; i < actions.size(); ++i) {
    listed += std::string(i == 0                    ? ""
                          : i + 1 == actions.size() ? " or "
                                                    : ", ") +
              "`" + std::string(actions[i]) + "`";
  }
  if (args.positional.empty()) {
    return MakeError(ErrorKind::kUsage, "expected an action: " + listed);
  }
  const std::string& action = args.positional[0];
  if (std::find(actions.begin(), actions.end(), action) != actions.end()) {
    return action;
  }
  std::string message = "unknown action `" + action + "`";
  if (auto guess = DidYouMean(action, actions)) {
    message += "; did you mean `" + *guess + "`?";
  } else {
    message += "; use " + listed;
  }
  return MakeError(ErrorKind::kUsage, message);
}

}  // namespace mvm::cli
