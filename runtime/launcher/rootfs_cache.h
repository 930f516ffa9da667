// What `mvmctl templates` lists and `mvmctl gc --debian-images` collects: the Debian package images
// of the rootfs cache, and who still refers to each (docs/packages.md#the-cache).
#ifndef MVM_RUNTIME_LAUNCHER_ROOTFS_CACHE_H_
#define MVM_RUNTIME_LAUNCHER_ROOTFS_CACHE_H_

#include <string>
#include <vector>

#include "runtime/launcher/state.h"
#include "runtime/rootfs/debian_image.h"

namespace mvm::runtime {

/// A cached Debian image and what refers to it.
struct DebianImageUse {
  rootfs::CachedDebianImage image;
  /// "sandbox NAME" for each sandbox record (running, stopped or ready in a pool) whose root
  /// filesystem is one of the image's trees, "snapshot SANDBOX/LABEL" for each snapshot whose
  /// sandbox ran on one (a restore starts the same plan again). Empty: nothing here needs it.
  std::vector<std::string> users;
};

/// The Debian images of `state`'s rootfs cache, sorted by pin, each with its users. Unreadable
/// records and snapshot descriptions go to `problems` (and refer to nothing).
std::vector<DebianImageUse> ListDebianImageUses(const StateDir& state,
                                                std::vector<std::string>& problems);

}  // namespace mvm::runtime

#endif  // MVM_RUNTIME_LAUNCHER_ROOTFS_CACHE_H_
