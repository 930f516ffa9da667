#ifndef MVM_RUNTIME_OCI_PULL_H_
#define MVM_RUNTIME_OCI_PULL_H_

// Getting an image into the cache: from a registry (Pull) or from a file (Load). Both verify every
// digest before anything is unpacked, and both report what they did through an EventFn, which the
// callers append to the audit log.

#include <filesystem>
#include <string>
#include <vector>

#include "ir/support/error_or.h"
#include "runtime/oci/content.h"
#include "runtime/oci/registry.h"
#include "runtime/oci/store.h"

namespace mvm::runtime::oci {

struct PullOptions {
  std::string os = "linux";
  std::string architecture = "amd64";
  ProgressFn progress;
  EventFn events;
};

/// Result of a Pull or a Load of one image.
struct Pulled {
  StoredImage image;
  std::string resolved_from;  ///< the manifest reference asked for (a tag or a digest)
  /// The digest the registry answered that reference with (an index's or a manifest's): what a
  /// plan pins. Empty for Load.
  std::string resolved_digest;
  bool cache_hit = false;
};

/// Resolves `ref` (a tag asks the registry; a digest is looked up in the cache first), picks the
/// `os/architecture` manifest of an index, downloads and verifies the configuration and layers,
/// and publishes the unpacked image. A pinned digest must be what the registry serves (the
/// manifest's or its index's). The registry (`ref.registry`, with `registry_options`) is opened
/// only when the cache cannot answer, so a cached pinned image needs neither it nor its
/// credentials. Events: image-resolve, image-cache-hit, image-fetch, image-materialize.
ErrorOr<Pulled> Pull(ImageStore& store, const Reference& ref, RegistryOptions registry_options,
                     const PullOptions& options);

/// Loads every image of an OCI image layout (a directory, or a tar of one) or of a `docker save`
/// archive, verifying each blob against its digest (for a docker archive, whose files carry no
/// digests, the layers against the configuration's diff_ids). `name`, when not empty, names the
/// one image the file holds (an error when it holds several). Events: image-materialize.
ErrorOr<std::vector<Pulled>> Load(ImageStore& store, const std::filesystem::path& file,
                                  std::string_view name, const PullOptions& options);

}  // namespace mvm::runtime::oci

#endif  // MVM_RUNTIME_OCI_PULL_H_
