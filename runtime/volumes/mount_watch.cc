// Counting a workload's operations on its mounted FUSE volumes with fanotify (mount_watch.h).

#include "runtime/volumes/mount_watch.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "ir/support/os/errno_text.h"

namespace mvm::runtime::volumes {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kAccessMask = FAN_ACCESS | FAN_CLOSE_WRITE;
constexpr uint64_t kNamesMask = FAN_CREATE | FAN_DELETE | FAN_MOVED_TO | FAN_ONDIR;

/// gocryptfs's own entries in its ciphertext directory, which no view entry corresponds to: a
/// directory's IV file (renamed to `gocryptfs.diriv.rmdir.N` when the directory goes), the config,
/// and the file holding a long name.
bool IsGocryptfsOwn(std::string_view name) {
  return name.starts_with("gocryptfs.diriv") || name == "gocryptfs.conf" ||
         (name.starts_with("gocryptfs.longname.") && name.ends_with(".name"));
}

bool SameFsid(const fsid_t& a, const __kernel_fsid_t& b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

}  // namespace

MountWatch::MountWatch(std::string sandbox, std::shared_ptr<VolumeAudit> audit)
    : sandbox_(std::move(sandbox)), audit_(std::move(audit)) {}

ErrorOr<Ok> MountWatch::Add(const std::string& label, const fs::path& view, const fs::path& names) {
  const std::string what = "cannot watch volume `" + label + "`";
  if (!access_.valid()) {
    access_.Reset(::fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK,
                                  O_RDONLY | O_LARGEFILE | O_NOATIME | O_CLOEXEC));
    if (!access_.valid()) {
      return Error{what + ": fanotify_init: " + os::ErrnoText(errno) +
                   " (it needs CAP_SYS_ADMIN: run mvmctl as root)"};
    }
  }
  Watched watched;
  watched.label = label;
  struct stat st {};
  if (::stat(view.c_str(), &st) != 0) {
    return Error{what + ": " + view.string() + ": " + os::ErrnoText(errno)};
  }
  watched.view_device = st.st_dev;
  // The whole file system, not the view's mount: the sandbox reaches it through a bind mount (the
  // container) or virtiofsd's clone of it (a microVM), each a mount of its own.
  if (::fanotify_mark(access_.get(), FAN_MARK_ADD | FAN_MARK_FILESYSTEM, kAccessMask, AT_FDCWD,
                      view.c_str()) != 0) {
    return Error{what + ": fanotify_mark on " + view.string() + ": " + os::ErrnoText(errno)};
  }
  if (!names.empty()) {
    if (!names_.valid()) {
      names_.Reset(::fanotify_init(
          FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME, O_RDONLY));
      if (!names_.valid()) {
        return Error{what + ": fanotify_init with names: " + os::ErrnoText(errno)};
      }
    }
    struct statfs sfs {};
    if (::statfs(names.c_str(), &sfs) != 0) {
      return Error{what + ": " + names.string() + ": " + os::ErrnoText(errno)};
    }
    if (::fanotify_mark(names_.get(), FAN_MARK_ADD | FAN_MARK_FILESYSTEM, kNamesMask, AT_FDCWD,
                        names.c_str()) != 0) {
      return Error{what + ": fanotify_mark on " + names.string() + ": " + os::ErrnoText(errno)};
    }
    watched.has_names = true;
    watched.names_fsid = sfs.f_fsid;
  }
  watched_.push_back(std::move(watched));
  audit_->Record(sandbox_, label, VolumeOp::kAttach, 0, true,
                 names.empty() ? "mounted; reads and writes watched"
                               : "mounted; reads, writes, creates, deletes and renames watched");
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
      struct stat st {};
      const bool known = ::fstat(event->fd, &st) == 0;
      ::close(event->fd);
      for (const Watched& w : watched_) {
        if (!known || st.st_dev != w.view_device) {
          continue;
        }
        if (event->mask & FAN_ACCESS) {
          audit_->Record(sandbox_, w.label, VolumeOp::kRead, 0, true);
        }
        if (event->mask & FAN_CLOSE_WRITE) {
          audit_->Record(sandbox_, w.label, VolumeOp::kWrite, static_cast<uint64_t>(st.st_size),
                         true);
        }
      }
    }
  }
}

void MountWatch::DrainNames() {
  alignas(fanotify_event_metadata) char buffer[16384];
  for (;;) {
    ssize_t n = ::read(names_.get(), buffer, sizeof buffer);
    if (n <= 0) {
      return;
    }
    // Events with names are padded to 4 bytes, not to the 8 the metadata's alignment needs: each
    // header is copied out before it is read.
    for (size_t at = 0; at + sizeof(fanotify_event_metadata) <= static_cast<size_t>(n);) {
      fanotify_event_metadata event{};
      std::memcpy(&event, buffer + at, sizeof event);
      if (event.event_len < sizeof event || at + event.event_len > static_cast<size_t>(n)) {
        break;
      }
      const char* record = buffer + at;
      const size_t end = event.event_len;
      at += event.event_len;
      constexpr size_t kInfo = sizeof(fanotify_event_metadata);
      constexpr size_t kHandle = kInfo + offsetof(fanotify_event_info_fid, handle);
      if (event.vers != FANOTIFY_METADATA_VERSION || end < kHandle + sizeof(file_handle)) {
        continue;
      }
      fanotify_event_info_fid info{};
      std::memcpy(&info, record + kInfo, sizeof info);
      if (info.hdr.info_type != FAN_EVENT_INFO_TYPE_DFID_NAME) {
        continue;
      }
      file_handle handle{};
      std::memcpy(&handle, record + kHandle, sizeof handle);
      const size_t name_at = kHandle + sizeof(file_handle) + handle.handle_bytes;
      if (name_at >= end || std::memchr(record + name_at, '\0', end - name_at) == nullptr) {
        continue;
      }
      const char* name = record + name_at;
      if (IsGocryptfsOwn(name)) {
        continue;
      }
      // fanotify merges a name's events that are not read yet (a rename over it, then its
      // removal), so each kind in the mask counts.
      for (const Watched& w : watched_) {
        if (!w.has_names || !SameFsid(w.names_fsid, info.fsid)) {
          continue;
        }
        for (const auto& [bit, op] :
             {std::pair{FAN_CREATE, VolumeOp::kCreate}, std::pair{FAN_MOVED_TO, VolumeOp::kRename},
              std::pair{FAN_DELETE, VolumeOp::kDelete}}) {
          if (event.mask & bit) {
            audit_->Record(sandbox_, w.label, op, 0, true);
          }
        }
      }
    }
  }
}

void MountWatch::Drain() {
  if (access_.valid()) {
    DrainAccess();
  }
  if (names_.valid()) {
    DrainNames();
  }
}

void MountWatch::Run(int stop_fd) {
  for (;;) {
    pollfd fds[3] = {{stop_fd, POLLIN, 0},
                     {access_.valid() ? access_.get() : -1, POLLIN, 0},
                     {names_.valid() ? names_.get() : -1, POLLIN, 0}};
    // A wake-up at least every 10 s lets the audit flush counters that are due.
    int ready = ::poll(fds, 3, 10000);
    if (ready < 0 && errno != EINTR) {
      break;
    }
    Drain();
    if (ready == 0) {
      audit_->Flush();  // an idle volume's last counts go out within 10 s
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
