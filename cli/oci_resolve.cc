#include "cli/oci_resolve.h"

#include <cstdio>

#include "runtime/launcher/launcher.h"
#include "runtime/launcher/state.h"
#include "runtime/oci/store.h"

namespace mvm::cli {

namespace oci = runtime::oci;

ErrorOr<std::string> PullDeclaredImage(const ir::v1::Image& image,
                                       const std::filesystem::path& state_dir,
                                       std::string_view command) {
  if (image.kind() != "oci") {
    return std::string();
  }
  auto ref = oci::SplitReference(image.ref());
  if (!ref) {
    return ref.error();
  }
  runtime::StateDir state{state_dir};
  // A pinned image already in the cache needs nothing now: the launcher records its cache hit
  // when it starts the sandbox.
  if (!ref->digest.empty()) {
    auto found = oci::ImageStore(state.Images()).Find(ref->digest);
    if (!found) {
      return found.error();
    }
    if (*found) {
      return ref->digest;
    }
  }
  auto audit = runtime::OpenAudit(state);
  if (!audit) {
    return audit.error();
  }
  std::string prefix = "mvmctl " + std::string(command) + ": ";
  auto progress = [&](std::string_view line) {
    std::fprintf(stderr, "%s%.*s\n", prefix.c_str(), static_cast<int>(line.size()), line.data());
  };
  auto pulled = runtime::PullImage(state, *ref, *(*audit)->log, progress);
  if (!pulled) {
    return pulled.error();
  }
  if (!ref->digest.empty()) {
    return ref->digest;
  }
  const std::string& pinned = pulled->resolved_digest;
  progress("`oci:" + image.ref() + "` resolved to " + pinned);
  return pinned;
}

}  // namespace mvm::cli
