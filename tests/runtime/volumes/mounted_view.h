#ifndef MVM_TESTS_RUNTIME_VOLUMES_MOUNTED_VIEW_H_
#define MVM_TESTS_RUNTIME_VOLUMES_MOUNTED_VIEW_H_

// The host-side views that sandboxes are given of the mountable forms, for the conformance suite:
// a `Volume.encrypted` store's gocryptfs view (encrypted_mount.h) and a `Volume.object` prefix's
// s3fs mount (object_mount.h), each mounted as the launcher mounts it and served through the
// `local` backend, so that the suite's operations are plain file system calls on the mount, as a
// workload's are.

#include <filesystem>
#include <string>

#include "ir/support/error_or.h"
#include "runtime/secrets/secrets.h"
#include "runtime/volumes/encrypted_mount.h"
#include "runtime/volumes/object_mount.h"

namespace mvm::testing {

/// A mounted view; unmounted (and its directory removed) when destroyed.
class MountedView {
 public:
  /// `kind` is "gocryptfs_view" (a store named `unique` of `size_mb`) or "s3fs_view" (the prefix
  /// `unique` of `bucket` at `endpoint`, with the `ACCESS_KEY_ID:SECRET_ACCESS_KEY` secret
  /// `credentials`); mounted below `<state_dir>/views/<unique>`.
  static ErrorOr<MountedView> Mount(const std::string& kind, const std::filesystem::path& state_dir,
                                    runtime::secrets::Store& secrets, const std::string& unique,
                                    const std::string& bucket, const std::string& endpoint,
                                    const std::string& credentials) {
    const std::filesystem::path mount_dir = state_dir / "views" / unique;
    ErrorOr<std::filesystem::path> files = Error{"unknown view kind `" + kind + "`"};
    if (kind == "gocryptfs_view") {
      runtime::volumes::EncryptedMountRequest request;
      request.name = unique;
      // Sparse: room for the suite's 1 GiB file, taking on disk what the cases write.
      request.size_mb = 1400;
      request.state_dir = state_dir;
      request.secrets = &secrets;
      request.mount_dir = mount_dir;
      files = runtime::volumes::MountEncryptedStore(request);
    } else if (kind == "s3fs_view") {
      runtime::volumes::ObjectMountRequest request;
      request.url = "s3://" + bucket + "/" + unique;
      request.endpoint = endpoint;
      request.credentials_secret = credentials;
      request.secrets = &secrets;
      request.mount_dir = mount_dir;
      files = runtime::volumes::MountObjectVolume(request);
    }
    if (!files) {
      return files.error();
    }
    return MountedView(mount_dir, *files);
  }
  MountedView(MountedView&& other) noexcept
      : mount_dir_(std::move(other.mount_dir_)), files_(std::move(other.files_)) {
    other.mount_dir_.clear();
  }
  MountedView& operator=(MountedView&&) = delete;
  ~MountedView() {
    if (!mount_dir_.empty()) {
      (void)runtime::volumes::UnmountBeneath(mount_dir_);
    }
  }
  /// The view: what a sandbox's volume is bound to or shared from.
  const std::filesystem::path& files() const { return files_; }

 private:
  MountedView(std::filesystem::path mount_dir, std::filesystem::path files)
      : mount_dir_(std::move(mount_dir)), files_(std::move(files)) {}
  std::filesystem::path mount_dir_;
  std::filesystem::path files_;
};

}  // namespace mvm::testing

#endif  // MVM_TESTS_RUNTIME_VOLUMES_MOUNTED_VIEW_H_
