#include "cli/debian_resolve.h"

#include <cstdio>

#include "runtime/launcher/builder.h"
#include "runtime/launcher/state.h"
#include "runtime/rootfs/debian_image.h"

namespace mvm::cli {

ErrorOr<std::string> BuildDeclaredDebianImage(const ir::v1::Image& image, RuntimeSession& session,
                                              std::string_view command, std::string_view pinned) {
  if (image.kind() != "debian") {
    return std::string();
  }
  std::string prefix = "mvmctl " + std::string(command) + ": ";
  auto progress = [&](std::string_view line) {
    std::fprintf(stderr, "%s%.*s\n", prefix.c_str(), static_cast<int>(line.size()), line.data());
  };
  runtime::rootfs::DebianImageSpec spec{image.ref(),
                                        {image.packages().begin(), image.packages().end()}};
  auto made = runtime::rootfs::MaterializeDebianImage(
      spec, pinned, session.options.state.RootfsCache(), progress,
      runtime::BuilderDebootstrap(session.options, session.log()));
  if (!made) {
    return made.error();
  }
  std::string digest = pinned.empty() ? made->pin.digest : std::string(pinned);
  if (made->tree.cache_hit) {
    progress("Debian image " + image.ref() + " of package set " + digest + " is in the cache");
  }
  return digest;
}

}  // namespace mvm::cli
