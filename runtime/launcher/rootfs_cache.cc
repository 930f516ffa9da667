#include "runtime/launcher/rootfs_cache.h"

#include <algorithm>

#include "runtime/launcher/snapshot.h"

namespace mvm::runtime {

std::vector<DebianImageUse> ListDebianImageUses(const StateDir& state,
                                                std::vector<std::string>& problems) {
  std::vector<DebianImageUse> out;
  for (rootfs::CachedDebianImage& image : rootfs::ListDebianImages(state.RootfsCache())) {
    out.push_back({std::move(image), {}});
  }
  if (out.empty()) {
    return out;
  }
  // A record names the tree it runs on, not the pin: any tree of the pin's directory counts.
  auto refer = [&](const std::string& tree, const std::string& user) {
    for (DebianImageUse& use : out) {
      const auto& trees = use.image.trees;
      if (!tree.empty() && std::find(trees.begin(), trees.end(), tree) != trees.end()) {
        use.users.push_back(user);
      }
    }
  };
  for (const SandboxRecord& r : ListRecords(state, problems)) {
    refer(r.root_fs, "sandbox " + r.name);
  }
  for (const SnapshotInfo& s : ListSnapshots(state, "", problems)) {
    refer(s.root_fs, "snapshot " + s.sandbox + "/" + s.label);
  }
  return out;
}

}  // namespace mvm::runtime
