// The policy pass: what the network policy and the chosen profile allow, as opposed to what the
// declaration language allows (validate). Secrets may only go to hosts the network policy allows,
// in every profile; the production profile adds pinned images, explicit timeouts, microVM
// isolation, read-only local mounts inside the project, and writes that outlive the run only to
// encrypted volumes.

#include <filesystem>
#include <string>
#include <string_view>

#include "passes/host.h"
#include "passes/image_ref.h"
#include "passes/pass.h"

namespace mvm::passes {
namespace {

using ir::v1::Workload;

std::string Pointer(std::string_view base, int index) {
  return std::string(base) + "/" + std::to_string(index);
}

bool NetworkAllows(const Workload& w, std::string_view host) {
  if (!w.has_network()) {
    return false;
  }
  for (const ir::v1::NetworkRule& rule : w.network().rules()) {
    if ((rule.protocol() == "https" || rule.protocol() == "http") &&
        HostAllows(rule.host(), host)) {
      return true;
    }
  }
  return false;
}

void CheckSecretHosts(const ir::Module& module, int index, DiagnosticSink& sink) {
  const Workload& w = module.proto.workloads(index);
  for (int i = 0; i < w.secrets_size(); ++i) {
    const ir::v1::Secret& secret = w.secrets(i);
    for (int h = 0; h < secret.hosts_size(); ++h) {
      const std::string& host = secret.hosts(h);
      // validate already reported a malformed host; "not allowed" on top of it would be noise.
      if (!HostError(host).empty() || NetworkAllows(w, host)) {
        continue;
      }
      Diagnostic& d = sink.Emit<DiagnosticKind::kSecretHostNotAllowed>(
          module.Loc(index, Pointer(Pointer("/secrets", i) + "/hosts", h)), secret.env(), host);
      if (!w.has_network()) {
        d.hint =
            "the workload has no network at all; add `network=NetworkPolicy.deny_by_default()"
            ".allow_https(\"" +
            host + "\")`, or remove the host";
      }
    }
  }
}

// An OCI image the production profile refuses: one that parses but names no digest. A reference
// that does not parse is validate's `invalid-image-ref` already.
bool IsMutableOciImage(const ir::v1::Image& image) {
  if (image.kind() != "oci" || !image.digest().empty()) {
    return false;
  }
  ImageRefResult parsed = ParseImageRef(image.kind(), image.ref());
  return parsed.ok() && parsed.ref.digest.empty();
}

// The project directory a local volume must stay inside, as written (never made absolute: no
// filesystem access, and diagnostics must not depend on the working directory).
std::filesystem::path ProjectRoot(const PassOptions& options, const Workload& w) {
  if (!options.project_root.empty()) {
    return options.project_root;
  }
  std::filesystem::path dir = std::filesystem::path(w.source().file()).parent_path();
  return dir.empty() ? std::filesystem::path(".") : dir;
}

// Lexical containment: `..` is resolved textually and symlinks are not followed, since the pass may
// not touch the filesystem (the launcher re-checks the real path when it mounts). An absolute
// source under a relative root cannot be proven inside, so it counts as outside.
bool EscapesRoot(const std::filesystem::path& root, std::string_view source) {
  std::filesystem::path normal_root = root.lexically_normal();
  std::filesystem::path resolved = (normal_root / std::string(source)).lexically_normal();
  std::filesystem::path relative = resolved.lexically_relative(normal_root);
  return relative.empty() || *relative.begin() == "..";
}

void CheckProduction(const ir::Module& module, int index, const PassOptions& options,
                     DiagnosticSink& sink) {
  const Workload& w = module.proto.workloads(index);
  if (w.has_image() && IsMutableOciImage(w.image())) {
    sink.Emit<DiagnosticKind::kMutableImageTag>(module.Loc(index, "/image"),
                                                "oci:" + w.image().ref());
  }
  // Entrypoint timeouts bound single commands; only the workload's bounds the whole sandbox.
  if (!w.has_timeout_seconds()) {
    sink.Emit<DiagnosticKind::kMissingTimeout>(ir::FromProto(w.source()), w.id());
  }
  if (w.isolation() == "container") {
    sink.Emit<DiagnosticKind::kWeakIsolation>(module.Loc(index, "/isolation"), w.id());
  }
  std::filesystem::path root = ProjectRoot(options, w);
  for (int i = 0; i < w.volumes_size(); ++i) {
    const ir::v1::Volume& volume = w.volumes(i);
    std::string base = Pointer("/volumes", i);
    // What a production workload writes that outlives the run must be sealed on disk: an object
    // store's bytes are as safe as the server keeps them, an encrypted volume's are ciphertext.
    if (volume.kind() == "object" && volume.mode() == "rw") {
      Diagnostic& d = sink.Emit<DiagnosticKind::kUnsafeMount>(
          module.Loc(index, base + "/mode"), volume.source(),
          "the production profile writes data that outlives the run only to `Volume.encrypted` "
          "volumes, and object storage is not encrypted by mvm");
      d.hint =
          "mount the object volume read-only (`mode=\"ro\"`, the default) and write to a "
          "`Volume.encrypted(...)` volume";
    }
    if (volume.kind() != "local") {
      continue;
    }
    // An undeclared mode lowers to `ro`, so only an explicit `rw` is refused.
    if (volume.mode() == "rw") {
      sink.Emit<DiagnosticKind::kUnsafeMount>(
          module.Loc(index, base + "/mode"), volume.source(),
          "read-write host mounts are not allowed in the production profile");
    }
    if (EscapesRoot(root, volume.source())) {
      sink.Emit<DiagnosticKind::kUnsafeMount>(module.Loc(index, base + "/source"), volume.source(),
                                              "`" + volume.source() +
                                                  "` resolves outside the project directory `" +
                                                  root.string() + "`");
    }
  }
}

}  // namespace

void RunPolicy(ir::Module& module, PassContext& context) {
  for (int i = 0; i < module.proto.workloads_size(); ++i) {
    CheckSecretHosts(module, i, context.sink);
    // The dev profile lets `container` isolation through: the runtime warns and audits at launch,
    // where it knows which backend actually runs the workload.
    if (context.options.profile == Profile::kProduction) {
      CheckProduction(module, i, context.options, context.sink);
    }
  }
}

}  // namespace mvm::passes
