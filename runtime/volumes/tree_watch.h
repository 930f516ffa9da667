#ifndef MVM_RUNTIME_VOLUMES_TREE_WATCH_H_
#define MVM_RUNTIME_VOLUMES_TREE_WATCH_H_

// Creates, deletes and renames in a mounted volume's directory tree (and, where no fanotify mark
// fits, reads and writes), counted with inotify into the aggregated volume audit (mount_watch.h
// says which volume gets which).
//
// Why inotify and not fanotify for names: fanotify reports names on FUSE (the gocryptfs view,
// s3fs) only through inode marks, one per directory, as inotify; it cannot report them through the
// mount mark that restricts a `local` volume to the sandbox's bind; and it merges the unread
// events of one name (a create and the delete after it become one event). inotify merges an event
// only into an identical one just before it in the queue, and two creates (or deletes, or renames,
// whose cookies differ) of one name are never next to each other without the event between, so
// each one counts. What stays uncounted, and how a record says so:
// - a queue overflow (more than fs.inotify.max_queued_events unread): every count of the volume
//   is `at_least` from then;
// - directories past kMaxDirs: not watched, counts `at_least`;
// - renames and removes in a new directory before its watch is placed (the watch is placed as soon
//   as its creation is read; what the directory holds by then is counted as created, and with
//   access, a file of some size as written).
// Host-side changes to a `local` volume's directory during the sandbox's life are counted too: an
// inotify watch is on the directory, not on the sandbox's mount of it. (fanotify's name events
// carry the pid that tells them apart, but merge one process's unread events on one name:
// docs/volumes.md.)

#include <cstddef>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "ir/support/error_or.h"
#include "ir/support/os/unique_fd.h"
#include "runtime/volumes/volume_audit.h"

namespace mvm::runtime::volumes {

class TreeWatch {
 public:
  /// Directories watched per sandbox at most: each watch costs the kernel about 1 KiB, and counts
  /// against host root's fs.inotify.max_user_watches, which every sandbox's helper shares.
  static constexpr size_t kMaxDirs = 4096;

  /// Records into `audit` as `sandbox`.
  TreeWatch(std::string sandbox, std::shared_ptr<VolumeAudit> audit);

  /// Watches the tree under `root` (a directory, taken) as volume `label`; with `access`, reads
  /// (IN_ACCESS) and closed written files (IN_CLOSE_WRITE) too. An Error when inotify fails.
  ErrorOr<Ok> Add(const std::string& label, os::UniqueFd root, bool access);

  /// The inotify descriptor to poll; -1 before the first Add.
  int fd() const { return inotify_.valid() ? inotify_.get() : -1; }
  /// Counts the events queued now, without waiting.
  void Drain();

 private:
  struct Volume {
    std::string label;
    os::UniqueFd root;
    bool access = false;
  };
  struct Dir {
    size_t volume = 0;
    std::string rel;  // beneath the volume's root; "" for the root
    /// Entries counted as created by the scan of a new directory, whose own create event may still
    /// be queued (it then counts nothing); and, with access, files counted as written then.
    std::set<std::string> scanned, scanned_written;
  };
  /// Watches `rel` of `volume` and the directories beneath; with `count_contents` (a directory
  /// just made), what they hold counts as created.
  void Watch(size_t volume, const std::string& rel, bool count_contents);
  void Event(int wd, uint32_t mask, const std::string& name);
  void AllAtLeast(size_t volume);

  std::string sandbox_;
  std::shared_ptr<VolumeAudit> audit_;
  os::UniqueFd inotify_;
  std::vector<Volume> volumes_;
  std::map<int, Dir> dirs_;  // by watch descriptor
};

}  // namespace mvm::runtime::volumes

#endif  // MVM_RUNTIME_VOLUMES_TREE_WATCH_H_
