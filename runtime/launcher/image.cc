// `oci:` root filesystems: the image cache lookup, the pull when the image is not there, and the
// re-hash that makes a changed tree a refusal rather than a sandbox.

#include <cstdlib>

#include "runtime/launcher/internal.h"
#include "runtime/oci/pull.h"
#include "runtime/oci/registry.h"
#include "runtime/oci/store.h"
#include "runtime/oci/user.h"
#include "runtime/rootfs/rootfs.h"

namespace mvm::runtime::internal {

ErrorOr<ResolvedRootfs> ResolveOciRootfs(const LauncherOptions& options,
                                         const plan::v1::Artifact& artifact, audit::Log& audit) {
  const std::string shown = "oci:" + artifact.ref();
  if (!oci::IsSha256Digest(artifact.digest())) {
    return Error{"image `" + shown +
                 "` is not pinned to a digest, and a plan runs only what it pins; compile it "
                 "with `mvmctl build` or `mvmctl run FILE`, which resolve the tag and record the "
                 "digest, or write `@sha256:…` in the declaration"};
  }
  auto ref = oci::SplitReference(artifact.ref());
  if (!ref) {
    return ref.error();
  }
  oci::Reference pinned = *ref;
  pinned.digest = artifact.digest();
  ProgressStep step(options.progress, "pulling image " + shown);
  auto pulled = PullImage(options.state, pinned, audit, [&](std::string_view line) {
    if (options.note) {
      options.note(line);
    }
  });
  if (!pulled) {
    return pulled.error();
  }
  const oci::StoredImage* image = &pulled->image;
  oci::ImageStore store(options.state.Images());
  // Checked before every start: the digest taken at unpacking proves what was unpacked, and only
  // this proves what is about to be mounted (ImageStore::CheckTree says how a re-hash is skipped).
  if (auto intact = store.CheckTree(*image); !intact) {
    (void)audit.Append("image-verify", {{"image", ref->ToString()},
                                        {"manifest", image->manifest_digest},
                                        {"ok", false},
                                        {"problem", intact.error().message}});
    return Error{"the cached tree of `" + shown + "` " + intact.error().message +
                 ": something changed it; `mvmctl image rm " + image->manifest_digest +
                 "` and run again to pull it afresh"};
  }
  SandboxRecord::Image facts;
  facts.digest = image->manifest_digest;
  facts.env = image->config.env;
  facts.working_dir = image->config.working_dir;
  facts.user = image->config.user;
  facts.entrypoint = image->config.entrypoint;
  facts.cmd = image->config.cmd;
  auto user = oci::ResolveImageUser(image->rootfs, image->config.user);
  if (!user) {
    return Error{"`" + shown + "`: " + user.error().message};
  }
  if (*user) {
    facts.uid = (*user)->uid;
    facts.gid = (*user)->gid;
  }
  return ResolvedRootfs{image->rootfs, image->tree_digest, std::move(facts)};
}

}  // namespace mvm::runtime::internal

namespace mvm::runtime {

oci::EventFn ImageAuditEvents(audit::Log& log) {
  return [&log](std::string_view event,
                const std::vector<std::pair<std::string, std::string>>& fields) {
    nlohmann::json record = nlohmann::json::object();
    for (const auto& [k, v] : fields) {
      record[k] = v;
    }
    (void)log.Append(event, record);
  };
}

ErrorOr<oci::Pulled> PullImage(const StateDir& state, const oci::Reference& ref, audit::Log& log,
                               const oci::ProgressFn& progress,
                               oci::RegistryOptions registry_options) {
  oci::PullOptions options;
  options.progress = progress;
  options.events = ImageAuditEvents(log);
  registry_options.progress = progress;
  if (const char* ca = std::getenv("SSL_CERT_FILE");
      registry_options.ca_file.empty() && ca != nullptr && ca[0] != '\0') {
    registry_options.ca_file = ca;
  }
  oci::ImageStore store(state.Images());
  return oci::Pull(store, ref, std::move(registry_options), options);
}

}  // namespace mvm::runtime
