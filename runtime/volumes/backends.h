#ifndef MVM_RUNTIME_VOLUMES_BACKENDS_H_
#define MVM_RUNTIME_VOLUMES_BACKENDS_H_

// Each volume backend's one instance, for the registry (registry.cc) and the tests that reach a
// backend by its type rather than its name.

#include "runtime/volumes/volume.h"

namespace mvm::runtime::volumes {

const VolumeBackend& LocalVolumeBackend();
const VolumeBackend& MemoryVolumeBackend();
const VolumeBackend& EncryptedVolumeBackend();
const VolumeBackend& ObjectVolumeBackend();

}  // namespace mvm::runtime::volumes

#endif  // MVM_RUNTIME_VOLUMES_BACKENDS_H_
