#ifndef MVM_RUNTIME_VOLUMES_MOUNT_WATCH_H_
#define MVM_RUNTIME_VOLUMES_MOUNT_WATCH_H_

// What a workload does on its mounted volumes, counted into the aggregated volume audit
// (volume_audit.h) from the host side, whatever the sandbox backend: a container's mounts are in a
// mount namespace of this kernel, and a microVM's shared volumes are served by virtiofsd here.
//
// - Reads and written files: a fanotify mark, chosen by what the volume is on the host
//   (WatchAccess): the whole file system for the FUSE views of `Volume.encrypted` (gocryptfs) and
//   `Volume.object` (s3fs) and a container's `Volume.memory` tmpfs, which only the sandbox uses;
//   the sandbox's own bind mount for a container's `Volume.local`, so that the host's use of the
//   same directory is not counted. These events carry a descriptor of the file, only fstat-ed (its
//   size is the bytes counted for a write) and closed. fanotify merges the unread events of one
//   file, so `read` counts reads of a file, not read calls, and both counts are lower bounds
//   (`"at_least": true` in the records); a file removed before its events are read cannot be
//   opened, so they are not counted.
// - A microVM's read-write `Volume.local`: virtiofsd reaches the directory through the host's own
//   mount, which no mark could tell apart from the host's use; inotify on the tree counts reads
//   and writes instead (tree_watch.h), `at_least` as well.
// - Creates, deletes and renames on every watched volume: inotify on the tree (tree_watch.h), which
//   counts each one, unlike fanotify, which merges a name's unread events.
// Not watched from the host: a microVM's `Volume.memory` (a tmpfs in guest memory the host cannot
// see) and its read-only `Volume.local` (a copy in an image): its guest agent runs this same code
// on them, and on its read-write `Volume.local` through the guest's own mount
// (runtime/agent/volume_ops.h). Never a path or a file's content: only counts and bytes, as every
// volume record.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/support/error_or.h"
#include "ir/support/os/unique_fd.h"
#include "runtime/volumes/tree_watch.h"
#include "runtime/volumes/volume_audit.h"

namespace mvm::runtime::volumes {

/// How a volume's reads and written files are seen (mount_watch.h says which volume takes which).
enum class WatchAccess {
  kFilesystem,  ///< a fanotify mark on the whole file system: it is the volume's alone
  kMount,       ///< a fanotify mark on the sandbox's own mount of the volume
  kTree,        ///< inotify on the volume's directories
};

/// "filesystem", "mount", "tree", as the volume-audit helper's arguments spell them.
std::string_view WatchAccessName(WatchAccess access);
/// The inverse of WatchAccessName; nullopt for another word.
std::optional<WatchAccess> ParseWatchAccess(std::string_view word);

/// One volume to watch.
struct WatchedVolume {
  std::string label;  ///< as records name it: "local:/srv/data", "encrypted:NAME", …
  /// Where `path` is resolved (openat2 RESOLVE_IN_ROOT): a container's `/proc/PID/root`, so that
  /// its mount namespace's mounts are what is watched and its symlinks cannot point outside; empty
  /// for a host path.
  std::filesystem::path root;
  std::filesystem::path path;  ///< the volume's files: the mount's target, or a host directory
  WatchAccess access = WatchAccess::kFilesystem;
};

class MountWatch {
 public:
  /// Records into `audit` as `sandbox`.
  MountWatch(std::string sandbox, std::shared_ptr<VolumeAudit> audit);

  /// Watches `volume` and records `volume.attach`. An Error when it cannot be opened or marked
  /// (fanotify needs CAP_SYS_ADMIN).
  ErrorOr<Ok> Add(const WatchedVolume& volume);

  /// The descriptors Run polls, for a caller with a poll loop of its own (the guest agent's): when
  /// one is readable, Drain.
  std::vector<int> fds() const;
  /// Counts the events queued now, without waiting.
  void Drain();
  /// Counts events until `stop_fd` is readable (or hangs up), calling `on_wake` (when set) at
  /// every wake-up, at least every `wake_every`; then drains, and records `volume.detach` of every
  /// volume, which flushes its counters. Counters of volumes idle for 10 s are flushed, however
  /// often it wakes.
  void Run(int stop_fd, const std::function<void()>& on_wake = {},
           std::chrono::milliseconds wake_every = std::chrono::seconds(10));

 private:
  struct Watched {
    std::string label;
    WatchAccess access = WatchAccess::kFilesystem;
    dev_t device = 0;       // kFilesystem: the events of files on it
    uint64_t mount_id = 0;  // kMount: the events of files reached through it
  };
  void DrainAccess();

  std::string sandbox_;
  std::shared_ptr<VolumeAudit> audit_;
  os::UniqueFd access_;  // FAN_ACCESS | FAN_CLOSE_WRITE, with descriptors
  TreeWatch tree_;       // names on every volume; reads and writes of kTree ones
  std::vector<Watched> watched_;
};

}  // namespace mvm::runtime::volumes

#endif  // MVM_RUNTIME_VOLUMES_MOUNT_WATCH_H_
