#ifndef MVM_RUNTIME_VOLUMES_OBJECT_MOUNT_H_
#define MVM_RUNTIME_VOLUMES_OBJECT_MOUNT_H_

// The mountable form of `Volume.object`: the bucket's prefix mounted on the host with Debian's
// s3fs over FUSE, in a directory only root can reach, from where a sandbox backend binds or
// shares it, as the encrypted store's view (encrypted_mount.h). The credentials reach s3fs in a
// 0600 file in that root-only directory, removed as soon as s3fs has read it: never an argv, an
// environment variable, the plan or a log. docs/volumes.md says what a guest sees and what s3fs
// does not give.

#include <filesystem>
#include <optional>
#include <string>

#include "ir/support/error_or.h"
#include "runtime/volumes/encrypted_mount.h"

namespace mvm::runtime::secrets {
class Store;
}

namespace mvm::runtime::volumes {

struct ObjectMountRequest {
  std::string url;       ///< `s3://BUCKET/PREFIX` (PREFIX may be empty)
  std::string endpoint;  ///< `http(s)://host[:port]`, path-style requests
  std::string region = "us-east-1";
  /// The secret of the host store holding `ACCESS_KEY_ID:SECRET_ACCESS_KEY`.
  std::string credentials_secret;
  bool read_only = false;
  /// Who owns every file of the view (s3fs keeps no owners): the sandbox's root.
  std::optional<MountOwner> owner;
  secrets::Store* secrets = nullptr;
  /// An empty or missing directory, made 0700: the credentials file, s3fs's log and the view go
  /// below. UnmountBeneath undoes it.
  std::filesystem::path mount_dir;
};

/// Checks the bucket and the credentials with the `object` backend's own client first (s3fs
/// itself reports neither: it exits 0 and unmounts a moment later), then mounts the prefix;
/// returns the view below `mount_dir`. An Error names what is missing (s3fs, the secret), what the
/// server refused, and what to do; never the secret's value.
ErrorOr<std::filesystem::path> MountObjectVolume(const ObjectMountRequest& request);

}  // namespace mvm::runtime::volumes

#endif  // MVM_RUNTIME_VOLUMES_OBJECT_MOUNT_H_
