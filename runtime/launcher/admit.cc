// Admission: the trust a launcher reads (trust directory, keys), the audit session, and the checks
// that decide whether a plan runs here: signature and validity (VerifyForLauncher), what the
// backend can enforce (CheckPolicy), replay (Admit). A warm pool re-runs the first two on a claim.

#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <variant>

#include "backend-emit/plan/keys.h"
#include "backend-emit/plan/replay.h"
#include "backend-emit/plan/time.h"
#include "runtime/launcher/internal.h"
#include "runtime/launcher/launcher.h"
#include "runtime/secrets/secrets.h"

namespace mvm::runtime {

using namespace internal;  // NOLINT(google-build-using-namespace)

namespace {

/// The backends that hold isolation="microvm", as `--backend` names them ("a|b").
std::string MicrovmBackendNames() {
  std::string names;
  for (const backends::Backend* backend : backends::All()) {
    if (backend->capabilities().microvm_isolation) {
      names += (names.empty() ? "" : "|") + std::string(backend->name());
    }
  }
  return names;
}

}  // namespace

ErrorOr<Ok> LoadTrust(LauncherOptions& options, const fs::path& trust_dir,
                      const std::vector<fs::path>& extra) {
  fs::path dir = trust_dir;
  if (dir.empty()) {
    auto found = plan::DefaultTrustDir();
    if (!found) {
      return found.error();
    }
    dir = *found;
  }
  if (fs::exists(dir)) {
    auto keys = plan::LoadTrustDir(dir);
    if (!keys) {
      return keys.error();
    }
    options.trusted = std::move(*keys);
  }
  auto named = plan::LoadKeyFiles(extra);
  if (!named) {
    return named.error();
  }
  options.trusted.insert(options.trusted.end(), named->begin(), named->end());
  fs::path dev = options.state.Keys() / "dev.pub";
  if (fs::exists(dev)) {
    auto key = plan::LoadPublicKey(dev);
    if (!key) {
      return key.error();
    }
    options.dev_key_id = key->KeyId();
    options.trusted.push_back({options.dev_key_id, *key, dev});
  }
  return Ok{};
}

ErrorOr<plan::SecretKey> EnsureKey(const fs::path& dir, std::string_view name) {
  fs::path path = dir / (std::string(name) + ".key");
  if (fs::exists(path)) {
    return plan::LoadSecretKey(path);
  }
  plan::SecretKey key = plan::SecretKey::Generate();
  auto saved = plan::SaveKeyPair(key, dir, name);
  if (!saved) {
    // Another process may have made it first; then theirs is the key.
    if (fs::exists(path)) {
      return plan::LoadSecretKey(path);
    }
    return saved.error();
  }
  return key;
}

ErrorOr<std::unique_ptr<AuditSession>> OpenAudit(const StateDir& state) {
  auto key = EnsureKey(state.Keys(), "launcher");
  if (!key) {
    return key.error();
  }
  auto session = std::make_unique<AuditSession>();
  session->key = std::make_unique<plan::SecretKey>(std::move(*key));
  auto log = audit::Log::Open(state.AuditLog(), session->key.get());
  if (!log) {
    return log.error();
  }
  session->log.emplace(std::move(*log));
  return session;
}

std::variant<plan::VerifiedPlan, internal::PlanRefusal> internal::VerifyForLauncher(
    const LauncherOptions& options, std::string_view plan_bytes) {
  plan::SystemClock clock;
  auto verified = plan::VerifyPlan(plan_bytes, options.trusted, clock);
  if (!verified) {
    return PlanRefusal{"verify", std::string(plan::RefusalName(verified.error().reason)),
                       verified.error().message};
  }
  const plan::v1::ExecutionPlan& p = verified->plan;
  if (!options.dev_key_id.empty() && verified->key_id == options.dev_key_id &&
      p.profile() != "dev") {
    return PlanRefusal{"verify", "dev-key",
                       "the plan is signed with the local dev key, which may only sign dev-profile "
                       "plans; sign `" +
                           p.profile() + "` plans with a key in the trust store"};
  }
  return std::move(*verified);
}

std::optional<internal::PlanRefusal> internal::CheckPolicy(const LauncherOptions& options,
                                                           const plan::v1::ExecutionPlan& p) {
  // What this backend cannot enforce it refuses, before the epoch is spent on a plan that cannot
  // run.
  auto backend = backends::Find(options.backend);
  if (!backend) {
    return PlanRefusal{"policy", "unknown-backend", backend.error().message};
  }
  const backends::Capabilities caps = (*backend)->capabilities();
  for (const plan::v1::Mount& m : p.mounts()) {
    // Launching without a declared volume would run the workload against storage it did not
    // declare. Encrypted and object volumes are FUSE mounts the backend must be able to share.
    if ((m.kind() == "encrypted" || m.kind() == "object") && !caps.fuse_volume_owner) {
      const std::string declared = m.kind() == "encrypted" ? "Volume.encrypted" : "Volume.object";
      return PlanRefusal{"policy", "volume-not-mounted",
                         "workload `" + p.workload().id() + "` declares `" + declared + "(\"" +
                             m.source() + "\")` at `" + m.target() + "`, and the " +
                             options.backend + " backend does not mount " + m.kind() +
                             " volumes here (the qemu-microvm backend needs root for it; "
                             "docs/volumes.md); run mvmctl as root or with `--backend container`, "
                             "or remove the volume from `volumes=`"};
    }
  }
  if (!caps.egress && AllowsEgress(p)) {
    return PlanRefusal{"policy", "egress-unsupported",
                       "workload `" + p.workload().id() + "` may reach " +
                           DescribeNetwork(p.network()) + ", but the " + options.backend +
                           " backend cannot enforce a network policy yet, so it only runs "
                           "workloads without network access; run it with `--backend container`, "
                           "or remove `network=` to run it here"};
  }
  if (!caps.egress && p.secrets_size() > 0) {
    return PlanRefusal{"policy", "secrets-unsupported",
                       "workload `" + p.workload().id() + "` uses secret `" + p.secrets(0).name() +
                           "`, which only the egress proxy hands on, and the " + options.backend +
                           " backend cannot run it; run it with `--backend container`"};
  }
  if (!caps.read_write_volumes_refusal.empty()) {
    for (const plan::v1::Mount& m : p.mounts()) {
      if (m.kind() != "memory" && m.mode() == "rw") {
        return PlanRefusal{"policy", "mounts-unsupported",
                           "workload `" + p.workload().id() + "` mounts `" + m.source() + "` at `" +
                               m.target() + "` read-write, " + caps.read_write_volumes_refusal};
      }
    }
  }
  if (p.lifecycle().isolation() == "microvm" && !caps.microvm_isolation && p.profile() != "dev") {
    return PlanRefusal{"policy", "weak-isolation",
                       "workload `" + p.workload().id() +
                           "` asks for microVM isolation and its plan is `" + p.profile() +
                           "`-profile; the " + options.backend +
                           " backend is weaker and only runs dev-profile plans of microVM "
                           "workloads; run it with --backend " +
                           MicrovmBackendNames()};
  }
  for (const plan::v1::Artifact& a : p.artifacts()) {
    if (a.role() != "rootfs") {
      continue;
    }
    if (a.kind() == "oci" && a.digest().empty()) {
      return PlanRefusal{"policy", "not-pinned",
                         "image `oci:" + a.ref() +
                             "` is not pinned to a digest, and a plan runs only what it pins: "
                             "`mvmctl build` (or `mvmctl run FILE`) resolves the tag and records "
                             "the digest, or write `@sha256:…` in the declaration"};
    }
    if (a.kind() == "debian" && a.digest().empty()) {
      return PlanRefusal{"policy", "not-pinned",
                         "image `debian:" + a.ref() +
                             "` has no resolved package set, and a plan runs only what it pins: "
                             "`mvmctl build` (or `mvmctl run FILE`) resolves the packages, builds "
                             "the image and records the package set's digest in the plan"};
    }
    if (a.kind() == "nix" && a.digest().empty()) {
      return PlanRefusal{"policy", "not-built",
                         "image `nix:" + a.ref() +
                             "` has not been built: run `mvmctl build` on the plan or source "
                             "file first, which records the built rootfs's digest in the plan"};
    }
  }
  return std::nullopt;
}

std::optional<internal::PlanRefusal> internal::CheckSecrets(const LauncherOptions& options,
                                                            const plan::VerifiedPlan& verified,
                                                            std::vector<SecretRelease>& released) {
  const plan::v1::ExecutionPlan& p = verified.plan;
  const std::string& workload = p.workload().id();
  auto refusal = [&](const plan::v1::SecretGrant& s, const std::string& reason,
                     const std::string& why) {
    return PlanRefusal{"secrets", reason,
                       "workload `" + workload + "` may not have secret `" + s.name() + "` (" +
                           s.env() + "): " + why};
  };
  if (p.secrets_size() == 0) {
    return std::nullopt;
  }
  auto store = secrets::Store::Open(options.state.Secrets());
  if (!store) {
    return refusal(p.secrets(0), "store", store.error().message);
  }
  // Whether an https rule covers every name `host` stands for: an exact name by a rule that covers
  // it; `*.s` only by a wildcard rule for `s` itself or for a domain above it.
  auto covered = [&p](const std::string& host) {
    return std::any_of(
        p.network().rules().begin(), p.network().rules().end(), [&](const plan::v1::EgressRule& r) {
          if (r.protocol() != "https") {
            return false;
          }
          if (!host.starts_with("*.")) {
            return egress::HostPatternCovers(r.host(), host);
          }
          return r.host() == host || (r.host().starts_with("*.") &&
                                      egress::HostPatternCovers(r.host(), host.substr(2)));
        });
  };
  for (const plan::v1::SecretGrant& s : p.secrets()) {
    if (auto problem = secrets::NameProblem(s.name())) {
      return refusal(s, "bad-name", *problem);
    }
    if (s.hosts_size() == 0) {
      return refusal(s, "no-hosts",
                     "it names no host to send it to, so the proxy would never use it; give it "
                     "`hosts=[...]`");
    }
    for (const std::string& host : s.hosts()) {
      // The compiler checks this too; a plan is a signed file that need not come from it.
      if (!covered(host)) {
        return refusal(s, "host-not-allowed",
                       "its host `" + host + "` is not allowed by an https rule of the plan");
      }
    }
    auto info = store->Info(s.name());
    if (!info) {
      return refusal(s, "missing",
                     info.error().message + "; store it with `mvmctl secret set " + s.name() + "`");
    }
    std::string basis = "dev-profile";
    if (p.profile() != "dev") {
      auto granted = std::find_if(info->grants.begin(), info->grants.end(), [&](const auto& g) {
        return g.workload == workload && (g.signer.empty() || g.signer == verified.key_id);
      });
      if (granted == info->grants.end()) {
        return refusal(s, "not-granted",
                       "a `" + p.profile() +
                           "`-profile plan gets a secret only by an explicit grant; run `mvmctl "
                           "secret grant " +
                           s.name() + " --workload " + workload + " --signer " + verified.key_id +
                           "`");
      }
      basis = "grant";
    }
    released.push_back({s.env(), s.name(), {s.hosts().begin(), s.hosts().end()}, basis});
  }
  return std::nullopt;
}

void internal::AuditSecretReleases(audit::Log& audit, const std::string& sandbox,
                                   const AdmittedPlan& admitted, const std::string& pool) {
  for (const SecretRelease& s : admitted.secrets) {
    nlohmann::json fields = {{"sandbox", sandbox},
                             {"workload", admitted.verified.plan.workload().id()},
                             {"secret", s.name},
                             {"env", s.env},
                             {"hosts", s.hosts},
                             {"basis", s.basis},
                             {"key_id", admitted.verified.key_id}};
    if (!pool.empty()) {
      fields["pool"] = pool;
    }
    (void)audit.Append("secret-release", fields);
  }
}

ErrorOr<AdmittedPlan> Admit(const LauncherOptions& options, std::string_view plan_bytes,
                            audit::Log& audit, PhaseTimings* timings) {
  auto start = Clock::now();
  // The records of admission are one step: written together with its outcome, in one sync.
  std::vector<audit::Log::Event> records;
  auto refuse = [&](const internal::PlanRefusal& r) -> Error {
    records.push_back(
        {"refuse", {{"stage", r.stage}, {"reason", r.reason}, {"message", r.message}}});
    auto ids = audit.AppendAll(records);
    // The id leads from an error a program caught (the SDKs parse it) to the record.
    return MakeError(ErrorKind::kPlanRefused,
                     "refused: " + r.message + (ids ? " (audit id " + ids->back() + ")" : ""));
  };
  auto checked = internal::VerifyForLauncher(options, plan_bytes);
  if (auto* refusal = std::get_if<internal::PlanRefusal>(&checked)) {
    return refuse(*refusal);
  }
  auto verified = std::get_if<plan::VerifiedPlan>(&checked);
  const plan::v1::ExecutionPlan& p = verified->plan;
  records.push_back({"verify",
                     {{"workload", p.workload().id()},
                      {"key_id", verified->key_id},
                      {"payload_digest", verified->payload_digest},
                      {"epoch", p.epoch()}}});
  if (auto refusal = internal::CheckPolicy(options, p)) {
    return refuse(*refusal);
  }
  auto backend = backends::Find(options.backend);
  if (p.lifecycle().isolation() == "microvm" && backend &&
      !(*backend)->capabilities().microvm_isolation) {
    std::string warning = "warning: workload `" + p.workload().id() +
                          "` asks for isolation=\"microvm\" but runs on the " + options.backend +
                          " backend, which is weaker (dev profile only) [weak-isolation]";
    if (options.note) {
      options.note(warning);
    }
    records.push_back(
        {"weak-isolation", {{"workload", p.workload().id()}, {"backend", options.backend}}});
  }

  std::vector<SecretRelease> released;
  if (auto refusal = internal::CheckSecrets(options, *verified, released)) {
    return refuse(*refusal);
  }

  plan::ReplayState replay(options.state.Replay());
  auto admission = replay.Admit(*verified);
  if (!admission) {
    (void)audit.AppendAll(records);
    return admission.error();
  }
  if (!*admission) {
    return refuse({"admit", "replayed", admission->error().message});
  }
  records.push_back({"admit",
                     {{"workload", p.workload().id()},
                      {"epoch", p.epoch()},
                      {"payload_digest", verified->payload_digest},
                      {"profile", p.profile()},
                      {"backend", options.backend}}});
  auto ids = audit.AppendAll(records);
  if (!ids) {
    return ids.error();
  }
  if (timings != nullptr) {
    timings->verify_ms = MillisSince(start);
  }
  return AdmittedPlan{std::move(*verified), ids->back(), std::string(plan_bytes),
                      std::move(released)};
}

}  // namespace mvm::runtime
