#ifndef MVM_RUNTIME_VOLUMES_MOUNT_WATCH_H_
#define MVM_RUNTIME_VOLUMES_MOUNT_WATCH_H_

// What a workload does on its mounted FUSE volumes (the gocryptfs view of `Volume.encrypted`, the
// s3fs mount of `Volume.object`), counted into the aggregated volume audit (volume_audit.h) from
// the host side with fanotify, whatever the sandbox backend: the container's bind mount and a
// microVM's virtiofsd both reach the one FUSE file system on the host.
//
// - Reads and written files: a filesystem mark on the view (FAN_ACCESS, FAN_CLOSE_WRITE). FUSE
//   file systems report no file handles, so these events carry a descriptor of the file, which is
//   only fstat-ed (its size is the bytes counted for a write) and closed. fanotify merges the
//   events of one file that are not read yet, so `read` counts reads of a file, not read calls;
//   and a file removed before its events are read cannot be opened, so they are not counted.
// - Creates, deletes and renames: a filesystem mark with names (FAN_REPORT_DFID_NAME) on the file
//   system under the view where there is one: gocryptfs's ext4 image, whose ciphertext entries
//   change one for one with the view's (gocryptfs's own files, `gocryptfs.diriv` and long names'
//   `.name` files, are not counted). fanotify merges a name's events that wait to be read, so
//   repeated operations on one name may count once. s3fs keeps no file system of its own, so on
//   an object volume these are not seen.
// Never a path or a file's content: only counts and bytes, as every volume record.

#include <sys/types.h>
#include <sys/vfs.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "ir/support/error_or.h"
#include "ir/support/os/unique_fd.h"
#include "runtime/volumes/volume_audit.h"

namespace mvm::runtime::volumes {

class MountWatch {
 public:
  /// Records into `audit` as `sandbox`.
  MountWatch(std::string sandbox, std::shared_ptr<VolumeAudit> audit);

  /// Watches the view `view` of volume `label` ("encrypted:NAME", "object:s3://…"), and `names`,
  /// the file system holding its entries, when not empty. Records `volume.attach`. An Error when
  /// fanotify cannot mark them (it needs CAP_SYS_ADMIN).
  ErrorOr<Ok> Add(const std::string& label, const std::filesystem::path& view,
                  const std::filesystem::path& names);

  /// Counts the events queued now, without waiting.
  void Drain();
  /// Counts events until `stop_fd` is readable (or hangs up); then drains, and records
  /// `volume.detach` of every volume, which flushes its counters.
  void Run(int stop_fd);

 private:
  struct Watched {
    std::string label;
    dev_t view_device = 0;
    bool has_names = false;
    fsid_t names_fsid{};
  };
  void DrainAccess();
  void DrainNames();

  std::string sandbox_;
  std::shared_ptr<VolumeAudit> audit_;
  os::UniqueFd access_;  // FAN_ACCESS | FAN_CLOSE_WRITE, with descriptors
  os::UniqueFd names_;   // FAN_CREATE | FAN_DELETE | FAN_MOVED_TO, with directory handles and names
  std::vector<Watched> watched_;
};

}  // namespace mvm::runtime::volumes

#endif  // MVM_RUNTIME_VOLUMES_MOUNT_WATCH_H_
