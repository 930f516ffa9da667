#ifndef MVM_RUNTIME_VOLUMES_ENCRYPTED_MOUNT_H_
#define MVM_RUNTIME_VOLUMES_ENCRYPTED_MOUNT_H_

// The mountable form of `Volume.encrypted`: a named store kept as an ext4 image of `size_mb` under
// the state dir (the bound on its size), holding a gocryptfs directory (the encryption), mounted
// on the host over FUSE in a directory only root can reach, from where a sandbox backend binds or
// shares it. The gocryptfs password is derived from the store's master key in the host secret
// store and reaches gocryptfs on a pipe (its stdin), never in argv, a file, the plan or a log.
// docs/volumes.md says why this form and what a guest that mounts it can see.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "ir/support/error_or.h"
#include "runtime/secrets/secrets.h"
#include "runtime/volumes/volume.h"

namespace mvm::runtime::volumes {

struct EncryptedMountRequest {
  std::string name;        ///< the store's name (NameProblem of runtime/secrets/secrets.h)
  std::string key_secret;  ///< the master key's secret; empty means `volume-<name>`
  uint32_t size_mb = 0;    ///< the image's size when it is made; a larger one grows it
  bool read_only = false;
  std::optional<MountOwner> owner;
  std::filesystem::path state_dir;    ///< `<state>`: the store lives in EncryptedStoreDir
  secrets::Store* secrets = nullptr;  ///< where the master key is (made on first use)
  /// An empty or missing directory, made 0700: the image's mount and the plaintext view go below.
  std::filesystem::path mount_dir;
};

/// `<state>/volumes/encrypted-fs/<name>`: the image (`store.img`) and its lock.
std::filesystem::path EncryptedStoreDir(const std::filesystem::path& state_dir,
                                        const std::string& name);
/// `<state>/volumes/mounts/<sandbox>`: where a sandbox's stores are mounted while it exists.
std::filesystem::path SandboxMountDir(const std::filesystem::path& state_dir,
                                      const std::string& sandbox);

/// Makes the store on first use (key, image, gocryptfs directory), checks that nothing else has
/// it mounted, and mounts it; returns the plaintext directory below `mount_dir`. An Error says
/// what is missing (gocryptfs, the key), that the key does not open the store
/// (`verification-failed`), or that the store is in use, and what to do.
ErrorOr<std::filesystem::path> MountEncryptedStore(const EncryptedMountRequest& request);

/// What the FUSE views' Mount (encrypted, object) need before mounting: the secret store, the
/// view's directory and its owner.
class FuseViewPlace {
 public:
  /// Refuses a sandbox that starts from a full snapshot (it cannot hold a FUSE view) and one whose
  /// backend cannot take a FUSE view (no AttachContext::owner); opens `<state>/secrets` unless
  /// the context lends a store.
  static ErrorOr<FuseViewPlace> Prepare(const VolumeSpec& spec, const AttachContext& context);
  secrets::Store* store() { return opened_ ? &*opened_ : borrowed_; }
  /// `SandboxMountDir/<index>`: an empty or missing directory for the view's mounts.
  const std::filesystem::path& mount_dir() const { return mount_dir_; }
  const MountOwner& owner() const { return owner_; }
  /// The view of `files`, mounted below mount_dir().
  MountedView View(std::filesystem::path files, bool read_only) const;

 private:
  FuseViewPlace() = default;
  std::optional<secrets::Store> opened_;
  secrets::Store* borrowed_ = nullptr;
  std::filesystem::path mount_dir_;
  MountOwner owner_;
};

/// Unmounts everything mounted beneath `dir` (deepest first: the plaintext view, then the image),
/// then removes the directories it leaves, never a file: a store whose unmount failed keeps its
/// data. Ok when nothing was mounted or `dir` does not exist.
ErrorOr<Ok> UnmountBeneath(const std::filesystem::path& dir);

}  // namespace mvm::runtime::volumes

#endif  // MVM_RUNTIME_VOLUMES_ENCRYPTED_MOUNT_H_
