#ifndef MVM_TESTS_RUNTIME_VOLUMES_MOUNTED_VIEW_H_
#define MVM_TESTS_RUNTIME_VOLUMES_MOUNTED_VIEW_H_

// The host-side views that sandboxes are given of the mountable forms, for the conformance suite:
// a `Volume.encrypted` store's gocryptfs view and a `Volume.object` prefix's s3fs mount, each
// mounted through the volume contract as the launcher mounts it (VolumeBackend::Mount of
// `encrypted` and `object`) and served through the `local` backend, so that the suite's operations
// are plain file system calls on the mount, as a workload's are.

#include <filesystem>
#include <string>

#include "ir/support/error_or.h"
#include "runtime/secrets/secrets.h"
#include "runtime/volumes/volume.h"

namespace mvm::testing {

/// A mounted view; unmounted (and its directory removed) when destroyed.
class MountedView {
 public:
  /// `kind` is "gocryptfs_view" (a store named `unique` of `size_mb`) or "s3fs_view" (the prefix
  /// `unique` of `bucket` at `endpoint`, with the `ACCESS_KEY_ID:SECRET_ACCESS_KEY` secret
  /// `credentials`); mounted for a sandbox named `unique`.
  static ErrorOr<MountedView> Mount(const std::string& kind, const std::filesystem::path& state_dir,
                                    runtime::secrets::Store& secrets, const std::string& unique,
                                    const std::string& bucket, const std::string& endpoint,
                                    const std::string& credentials) {
    runtime::volumes::VolumeSpec spec;
    spec.target = "/" + kind;
    if (kind == "gocryptfs_view") {
      spec.backend = "encrypted";
      spec.source = unique;
      // Sparse: room for the suite's 1 GiB file, taking on disk what the cases write.
      spec.size_mb = 1400;
    } else if (kind == "s3fs_view") {
      spec.backend = "object";
      spec.source = "s3://" + bucket + "/" + unique;
      spec.endpoint = endpoint;
      spec.credentials_secret = credentials;
    } else {
      return Error{"unknown view kind `" + kind + "`"};
    }
    runtime::volumes::AttachContext context;
    context.sandbox = unique;
    context.state_dir = state_dir;
    context.secrets = &secrets;
    // The suite runs as root: root owns the view, as the caller did when no owner was given.
    context.owner = runtime::volumes::MountOwner{0, 0};
    auto view = runtime::volumes::Mount(spec, context);
    if (!view) {
      return view.error();
    }
    return MountedView(std::move(*view));
  }
  MountedView(MountedView&& other) noexcept : view_(std::move(other.view_)) {
    other.view_.detach_dir.clear();
  }
  MountedView& operator=(MountedView&&) = delete;
  ~MountedView() { (void)runtime::volumes::Detach(view_); }
  /// The view: what a sandbox's volume is bound to or shared from.
  const std::filesystem::path& files() const { return view_.host_dir; }

 private:
  explicit MountedView(runtime::volumes::MountedView view) : view_(std::move(view)) {}
  runtime::volumes::MountedView view_;
};

}  // namespace mvm::testing

#endif  // MVM_TESTS_RUNTIME_VOLUMES_MOUNTED_VIEW_H_
