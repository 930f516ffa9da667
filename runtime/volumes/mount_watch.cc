// Counting a workload's operations on its mounted volumes (mount_watch.h).

#include "runtime/volumes/mount_watch.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "ir/support/os/errno_text.h"

namespace mvm::runtime::volumes {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kAccessMask = FAN_ACCESS | FAN_CLOSE_WRITE;

/// The volume's directory: beneath `root` when there is one, where the sandbox's own symlinks
/// resolve as they do inside it.
ErrorOr<os::UniqueFd> OpenVolume(const WatchedVolume& volume) {
  if (volume.root.empty()) {
    os::UniqueFd fd(::open(volume.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) {
      return Error{volume.path.string() + ": " + os::ErrnoText(errno)};
    }
    return fd;
  }
  os::UniqueFd root(::open(volume.root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) {
    return Error{volume.root.string() + ": " + os::ErrnoText(errno)};
  }
  open_how how{};
  how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  long fd = ::syscall(SYS_openat2, root.get(), volume.path.c_str(), &how, sizeof how);
  if (fd < 0) {
    return Error{volume.path.string() + " in " + volume.root.string() + ": " +
                 os::ErrnoText(errno)};
  }
  return os::UniqueFd(static_cast<int>(fd));
}

}  // namespace

std::string_view WatchAccessName(WatchAccess access) {
  switch (access) {
    case WatchAccess::kFilesystem:
      return "filesystem";
    case WatchAccess::kMount:
      return "mount";
    case WatchAccess::kTree:
      return "tree";
  }
  return "filesystem";
}

std::optional<WatchAccess> ParseWatchAccess(std::string_view word) {
  for (WatchAccess a : {WatchAccess::kFilesystem, WatchAccess::kMount, WatchAccess::kTree}) {
    if (WatchAccessName(a) == word) {
      return a;
    }
  }
  return std::nullopt;
}

MountWatch::MountWatch(std::string sandbox, std::shared_ptr<VolumeAudit> audit)
    : sandbox_(sandbox), audit_(audit), tree_(std::move(sandbox), std::move(audit)) {}

ErrorOr<Ok> MountWatch::Add(const WatchedVolume& volume) {
  const std::string what = "cannot watch volume `" + volume.label + "`";
  auto dir = OpenVolume(volume);
  if (!dir) {
    return Error{what + ": " + dir.error().message};
  }
  Watched watched;
  watched.label = volume.label;
  watched.access = volume.access;
  if (volume.access != WatchAccess::kTree) {
    if (!access_.valid()) {
      access_.Reset(::fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK,
                                    O_RDONLY | O_LARGEFILE | O_NOATIME | O_CLOEXEC));
      if (!access_.valid()) {
        return Error{what + ": fanotify_init: " + os::ErrnoText(errno) +
                     " (it needs CAP_SYS_ADMIN: run mvmctl as root)"};
      }
    }
    struct statx stx {};
    if (::statx(dir->get(), "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) != 0) {
      return Error{what + ": statx: " + os::ErrnoText(errno)};
    }
    watched.device = makedev(stx.stx_dev_major, stx.stx_dev_minor);
    watched.mount_id = stx.stx_mnt_id;
    // A file system mark also sees the view through every other mount of it: the container's bind
    // of it, or virtiofsd's clone.
    const unsigned int how =
        volume.access == WatchAccess::kMount ? FAN_MARK_MOUNT : FAN_MARK_FILESYSTEM;
    if (::fanotify_mark(access_.get(), FAN_MARK_ADD | how, kAccessMask, dir->get(), nullptr) != 0) {
      return Error{what + ": fanotify_mark on " + volume.path.string() + ": " +
                   os::ErrnoText(errno)};
    }
  }
  // Without inotify (host root's instances are shared with every sandbox, whose own count against
  // them: docs/security-model.md) the sandbox still starts, and its records say what is missing.
  auto tree = tree_.Add(volume.label, std::move(*dir), volume.access == WatchAccess::kTree);
  watched_.push_back(std::move(watched));
  audit_->Record(
      sandbox_, volume.label, VolumeOp::kAttach, 0, true,
      tree ? "mounted; reads, writes, creates, deletes and renames watched (" +
                 std::string(WatchAccessName(volume.access)) + ")"
           : "mounted; creates, deletes and renames not watched: " + tree.error().message);
  if (!tree) {
    for (VolumeOp op : {VolumeOp::kCreate, VolumeOp::kDelete, VolumeOp::kRename}) {
      audit_->CountsAreLowerBounds(sandbox_, volume.label, op);
    }
  }
  // One event may stand for several reads of a file, or several writes (mount_watch.h).
  audit_->CountsAreLowerBounds(sandbox_, volume.label, VolumeOp::kRead);
  audit_->CountsAreLowerBounds(sandbox_, volume.label, VolumeOp::kWrite);
  return Ok{};
}

void MountWatch::DrainAccess() {
  alignas(fanotify_event_metadata) char buffer[16384];
  for (;;) {
    ssize_t n = ::read(access_.get(), buffer, sizeof buffer);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      // The kernel could not open the event's file (removed by now): that event is gone, the
      // next ones are still queued.
      continue;
    }
    if (n <= 0) {
      return;  // EAGAIN: nothing more queued
    }
    auto* event = reinterpret_cast<fanotify_event_metadata*>(buffer);
    for (; FAN_EVENT_OK(event, n); event = FAN_EVENT_NEXT(event, n)) {
      if (event->vers != FANOTIFY_METADATA_VERSION || event->fd < 0) {
        continue;  // FAN_NOFD: the queue overflowed, or the file could not be opened
      }
      struct statx stx {};
      const bool known =
          ::statx(event->fd, "", AT_EMPTY_PATH, STATX_SIZE | STATX_MNT_ID, &stx) == 0;
      ::close(event->fd);
      if (!known) {
        continue;
      }
      const dev_t device = makedev(stx.stx_dev_major, stx.stx_dev_minor);
      for (const Watched& w : watched_) {
        if (w.access == WatchAccess::kTree ||
            (w.access == WatchAccess::kFilesystem && device != w.device) ||
            (w.access == WatchAccess::kMount && stx.stx_mnt_id != w.mount_id)) {
          continue;
        }
        if (event->mask & FAN_ACCESS) {
          audit_->Record(sandbox_, w.label, VolumeOp::kRead, 0, true);
        }
        if (event->mask & FAN_CLOSE_WRITE) {
          audit_->Record(sandbox_, w.label, VolumeOp::kWrite, stx.stx_size, true);
        }
      }
    }
  }
}

std::vector<int> MountWatch::fds() const {
  std::vector<int> out;
  for (int fd : {access_.valid() ? access_.get() : -1, tree_.fd()}) {
    if (fd >= 0) {
      out.push_back(fd);
    }
  }
  return out;
}

void MountWatch::Drain() {
  if (access_.valid()) {
    DrainAccess();
  }
  tree_.Drain();
}

void MountWatch::Run(int stop_fd, const std::function<void()>& on_wake,
                     std::chrono::milliseconds wake_every) {
  constexpr auto kIdleFlush = std::chrono::seconds(10);
  auto last_event = std::chrono::steady_clock::now();
  for (;;) {
    pollfd fds[3] = {{stop_fd, POLLIN, 0},
                     {access_.valid() ? access_.get() : -1, POLLIN, 0},
                     {tree_.fd(), POLLIN, 0}};
    // A wake-up at least every 10 s lets the audit flush counters that are due.
    int ready = ::poll(
        fds, 3,
        static_cast<int>(std::min<std::chrono::milliseconds>(wake_every, kIdleFlush).count()));
    if (ready < 0 && errno != EINTR) {
      break;
    }
    Drain();
    const auto now = std::chrono::steady_clock::now();
    if (ready != 0) {
      last_event = now;
    } else if (now - last_event >= kIdleFlush) {
      audit_->Flush();  // an idle volume's last counts go out within 10 s
      last_event = now;
    }
    if (on_wake) {
      on_wake();
    }
    if (fds[0].revents != 0) {
      break;
    }
  }
  Drain();
  for (const Watched& w : watched_) {
    audit_->Record(sandbox_, w.label, VolumeOp::kDetach, 0, true);
  }
}

}  // namespace mvm::runtime::volumes
