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
  oci::ImageStore store(options.state.Images());
  oci::PullOptions pull_options;
  pull_options.progress = [&](std::string_view line) {
    if (options.note) {
      options.note(line);
    }
  };
  pull_options.events = [&](std::string_view event,
                            const std::vector<std::pair<std::string, std::string>>& fields) {
    nlohmann::json record = nlohmann::json::object();
    for (const auto& [k, v] : fields) {
      record[k] = v;
    }
    (void)audit.Append(event, record);
  };
  auto found = store.Find(artifact.digest());
  if (!found) {
    return found.error();
  }
  std::optional<oci::StoredImage> image = std::move(*found);
  if (image) {
    pull_options.events("image-cache-hit",
                        {{"image", ref->ToString()}, {"manifest", image->manifest_digest}});
  } else {
    oci::RegistryOptions registry_options;
    registry_options.progress = pull_options.progress;
    if (const char* ca = std::getenv("SSL_CERT_FILE"); ca != nullptr && ca[0] != '\0') {
      registry_options.ca_file = ca;
    }
    auto registry = oci::Registry::Open(ref->registry, registry_options);
    if (!registry) {
      return registry.error();
    }
    oci::Reference pinned = *ref;
    pinned.digest = artifact.digest();
    auto pulled = oci::Pull(store, *registry, pinned, pull_options);
    if (!pulled) {
      return pulled.error();
    }
    image = std::move(pulled->image);
  }
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
