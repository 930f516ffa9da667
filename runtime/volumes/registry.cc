// The one place that lists the volume backends of this build.

#include <array>

#include "runtime/volumes/backends.h"
#include "runtime/volumes/volume.h"

namespace mvm::runtime::volumes {

std::span<const VolumeBackend* const> All() {
  static const std::array<const VolumeBackend*, 4> all = {
      &LocalVolumeBackend(), &MemoryVolumeBackend(), &EncryptedVolumeBackend(),
      &ObjectVolumeBackend()};
  return all;
}

}  // namespace mvm::runtime::volumes
