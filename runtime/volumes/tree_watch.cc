// Counting a mounted volume's creates, deletes and renames with inotify (tree_watch.h).

#include "runtime/volumes/tree_watch.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ir/support/os/errno_text.h"

namespace mvm::runtime::volumes {
namespace {

constexpr uint32_t kNames = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO;
constexpr uint32_t kAccess = IN_ACCESS | IN_CLOSE_WRITE;

std::string Join(const std::string& rel, const std::string& name) {
  return rel.empty() ? name : rel + "/" + name;
}

/// `rel` beneath `root`, never leaving it: the workload owns every name in the tree and may put a
/// symlink (or a mount) where a directory was between its event and this open.
os::UniqueFd OpenBeneath(int root, const std::string& rel) {
  open_how how{};
  how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  long fd = ::syscall(SYS_openat2, root, rel.empty() ? "." : rel.c_str(), &how, sizeof how);
  return os::UniqueFd(fd < 0 ? -1 : static_cast<int>(fd));
}

}  // namespace

TreeWatch::TreeWatch(std::string sandbox, std::shared_ptr<VolumeAudit> audit)
    : sandbox_(std::move(sandbox)), audit_(std::move(audit)) {}

ErrorOr<Ok> TreeWatch::Add(const std::string& label, os::UniqueFd root, bool access) {
  if (!inotify_.valid()) {
    inotify_.Reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!inotify_.valid()) {
      return Error{"cannot watch volume `" + label + "`: inotify_init1: " + os::ErrnoText(errno)};
    }
  }
  volumes_.push_back({label, std::move(root), access});
  const size_t before = dirs_.size();
  Watch(volumes_.size() - 1, "", false);
  if (dirs_.size() == before) {
    return Error{"cannot watch volume `" + label + "`: inotify_add_watch on its root: " +
                 os::ErrnoText(errno) + " (raise fs.inotify.max_user_watches if it is ENOSPC)"};
  }
  return Ok{};
}

void TreeWatch::AllAtLeast(size_t volume) {
  const std::string& label = volumes_[volume].label;
  for (VolumeOp op : {VolumeOp::kCreate, VolumeOp::kDelete, VolumeOp::kRename, VolumeOp::kRead,
                      VolumeOp::kWrite}) {
    audit_->CountsAreLowerBounds(sandbox_, label, op);
  }
}

void TreeWatch::Watch(size_t volume, const std::string& rel, bool count_contents) {
  const Volume& v = volumes_[volume];
  if (dirs_.size() >= kMaxDirs) {
    AllAtLeast(volume);
    return;
  }
  os::UniqueFd dir = OpenBeneath(v.root.get(), rel);
  if (!dir.valid()) {
    return;  // gone again, or a symlink now: nothing of the volume to watch there
  }
  const std::string self = "/proc/self/fd/" + std::to_string(dir.get());
  const int wd =
      ::inotify_add_watch(inotify_.get(), self.c_str(), kNames | (v.access ? kAccess : 0));
  if (wd < 0) {
    AllAtLeast(volume);
    return;
  }
  // A directory renamed within the volume keeps its watch (the same descriptor comes back): only
  // its place changes.
  Dir& d = dirs_[wd];
  d.volume = volume;
  d.rel = rel;
  DIR* listing = ::fdopendir(dir.Release());
  if (listing == nullptr) {
    return;
  }
  std::vector<std::string> subdirs;
  while (const dirent* entry = ::readdir(listing)) {
    const std::string name = entry->d_name;
    if (name == "." || name == "..") {
      continue;
    }
    struct stat st {};
    const bool known = ::fstatat(::dirfd(listing), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    const bool is_dir = known && S_ISDIR(st.st_mode);
    if (count_contents) {
      // Made after its directory, before the watch: no event of its own may have been queued.
      dirs_[wd].scanned.insert(name);
      audit_->Record(sandbox_, v.label, VolumeOp::kCreate, 0, true);
      if (v.access && known && S_ISREG(st.st_mode) && st.st_size > 0) {
        dirs_[wd].scanned_written.insert(name);
        audit_->Record(sandbox_, v.label, VolumeOp::kWrite, static_cast<uint64_t>(st.st_size),
                       true);
      }
    }
    if (is_dir) {
      subdirs.push_back(name);
    }
  }
  ::closedir(listing);
  for (const std::string& name : subdirs) {
    Watch(volume, Join(rel, name), count_contents);
  }
}

void TreeWatch::Event(int wd, uint32_t mask, const std::string& name) {
  auto it = dirs_.find(wd);
  if (it == dirs_.end()) {
    return;
  }
  if (mask & IN_IGNORED) {
    dirs_.erase(it);  // the directory is gone (its delete counted in its parent)
    return;
  }
  if (name.empty()) {
    return;  // the watched directory's own reads (listings)
  }
  const size_t volume = it->second.volume;
  const std::string rel = Join(it->second.rel, name);
  const std::string parent_rel = it->second.rel;
  const std::string& label = volumes_[volume].label;
  // The scan of a new directory counted this entry (and its write) already, unless it was removed
  // since: then the event is of a new one.
  Dir& dir = it->second;
  const bool scanned = (mask & (IN_CREATE | IN_MOVED_TO)) && dir.scanned.erase(name) > 0;
  const bool scanned_written = (mask & IN_CLOSE_WRITE) && dir.scanned_written.erase(name) > 0;
  if (mask & (IN_DELETE | IN_MOVED_FROM)) {
    dir.scanned.erase(name);
    dir.scanned_written.erase(name);
  }
  if (mask & IN_CREATE) {
    if (!scanned) {
      audit_->Record(sandbox_, label, VolumeOp::kCreate, 0, true);
    }
    if (mask & IN_ISDIR) {
      Watch(volume, rel, true);
    }
  } else if (mask & IN_MOVED_TO) {
    if (!scanned) {
      audit_->Record(sandbox_, label, VolumeOp::kRename, 0, true);
    }
    if (mask & IN_ISDIR) {
      Watch(volume, rel, false);  // its subtree's watches move with it: their places are redone
    }
  } else if (mask & IN_DELETE) {
    audit_->Record(sandbox_, label, VolumeOp::kDelete, 0, true);
  } else if (mask & IN_ISDIR) {
    return;  // a subdirectory listed (the helper's own scans too): no file read or written
  } else if (mask & IN_ACCESS) {
    audit_->Record(sandbox_, label, VolumeOp::kRead, 0, true);
  } else if ((mask & IN_CLOSE_WRITE) && !scanned_written) {
    struct stat st {};
    os::UniqueFd parent = OpenBeneath(volumes_[volume].root.get(), parent_rel);
    const bool known =
        parent.valid() && ::fstatat(parent.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    audit_->Record(sandbox_, label, VolumeOp::kWrite, known ? static_cast<uint64_t>(st.st_size) : 0,
                   true);
  }
}

void TreeWatch::Drain() {
  if (!inotify_.valid()) {
    return;
  }
  alignas(inotify_event) char buffer[16384];
  for (;;) {
    ssize_t n = ::read(inotify_.get(), buffer, sizeof buffer);
    if (n <= 0) {
      return;  // EAGAIN: nothing more queued
    }
    for (size_t at = 0; at + sizeof(inotify_event) <= static_cast<size_t>(n);) {
      inotify_event event{};
      std::memcpy(&event, buffer + at, sizeof event);
      const size_t next = at + sizeof event + event.len;
      if (next > static_cast<size_t>(n)) {
        break;
      }
      std::string name;
      if (event.len > 0) {
        const char* p = buffer + at + sizeof event;
        name.assign(p, ::strnlen(p, event.len));
      }
      at = next;
      if (event.mask & IN_Q_OVERFLOW) {
        for (size_t v = 0; v < volumes_.size(); ++v) {
          AllAtLeast(v);
        }
        continue;
      }
      Event(event.wd, event.mask, name);
    }
  }
}

}  // namespace mvm::runtime::volumes
