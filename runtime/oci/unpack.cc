// UnpackLayers: libarchive reads each layer; every entry is written here with fd-relative system
// calls beneath one root directory descriptor. Parents are resolved with openat2(RESOLVE_IN_ROOT),
// so symlinks planted by earlier layers are followed inside the tree only (as containerd and umoci
// do: Debian's `lib -> usr/lib` must keep working); the last component is never followed. See
// unpack.h for the rules and policies, docs/images.md for why.

#include "runtime/oci/unpack.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <exception>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ir/support/os/errno_text.h"
#include "ir/support/os/unique_fd.h"
#include "runtime/lazylibs/archive_api.h"
#include "runtime/oci/unpack_fs.h"

namespace mvm::runtime::oci {
namespace fs = std::filesystem;
using os::ErrnoText;
using os::UniqueFd;

namespace {

using unpack_internal::Child;
using unpack_internal::Join;
using unpack_internal::ListDir;
using unpack_internal::OpenAt2;
using unpack_internal::ProcPath;
using unpack_internal::RemoveAt;
using unpack_internal::Shown;
using unpack_internal::SplitMember;

constexpr uint64_t kInRoot = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
constexpr std::string_view kWhiteout = ".wh.";
constexpr std::string_view kOpaque = ".wh..wh..opq";
constexpr std::string_view kHostile =
    "; the image is malformed or hostile: rebuild it or use another";
constexpr std::string_view kPartial = ".partial-";

/// libarchive's text for its last error; it has none for some failures (NULL).
std::string ArchiveError(const lazylibs::Archive& ar, archive* a) {
  const char* text = ar.error_string(a);
  return text == nullptr ? "libarchive gave no reason" : text;
}

struct ArchiveFree {
  const lazylibs::Archive* ar = nullptr;
  void operator()(archive* a) const { ar->read_free(a); }
};

/// A directory of the tree being built, open (O_PATH), and its path relative to the root with
/// every symlink resolved ("" for the root): the key this layer's entries are tracked by.
struct Dir {
  UniqueFd fd;
  std::string key;
};

class Unpacker {
 public:
  Unpacker(const lazylibs::Archive& ar, int root, std::string root_path, const Limits& limits,
           UnpackReport& report)
      : ar_(ar), root_(root), root_path_(std::move(root_path)), limits_(limits), report_(report) {}

  ErrorOr<Ok> ApplyLayer(const LayerFile& layer, size_t index, size_t count);
  /// Sets every directory's mtime to that of its last entry in any layer.
  ErrorOr<Ok> SetDirectoryTimes();
  /// How many notes did not fit in the report.
  int64_t notes_dropped() const { return notes_dropped_; }

 private:
  ErrorOr<Ok> ApplyEntry(archive* a, archive_entry* e);
  ErrorOr<Ok> ApplyFile(archive* a, archive_entry* e, const Dir& parent, const std::string& base);
  ErrorOr<Ok> ApplyDir(archive_entry* e, const Dir& parent, const std::string& base);
  ErrorOr<Ok> ApplySymlink(archive_entry* e, const Dir& parent, const std::string& base);
  ErrorOr<Ok> ApplyHardlink(std::string_view target, const Dir& parent, const std::string& base);
  ErrorOr<Ok> ApplyWhiteout(const std::vector<std::string>& parts);
  /// Sets owner and mode (setuid/setgid cleared) on the open file or directory `fd`.
  ErrorOr<Ok> SetOwnerAndMode(int fd, archive_entry* e);
  /// Opens the directory `parts[0..n)`, resolved inside the tree; missing directories are created
  /// (mode 0755, root-owned) when `create`, else a missing one is an empty Dir.
  ErrorOr<Dir> OpenDir(const std::vector<std::string>& parts, size_t n, bool create);
  /// The key of the directory open at `fd`, from /proc/self/fd (checked to be inside the tree).
  ErrorOr<std::string> KeyOf(int fd);
  /// Removes what lower layers put at `name` in `dirfd` (key `key`), keeping what this layer added.
  ErrorOr<Ok> RemoveLower(int dirfd, const std::string& name, const std::string& key);
  bool AddedBelow(const std::string& key) const;
  ErrorOr<Ok> CountEntry();
  void Note(std::string text);
  Error Refuse(std::string_view rule) const;
  Error Failed(std::string_view what, int err) const { return Failed(what, ErrnoText(err)); }
  Error Failed(std::string_view what, std::string_view why) const;

  const lazylibs::Archive& ar_;
  int root_;
  std::string root_path_;
  const Limits& limits_;
  UnpackReport& report_;
  int64_t tree_entries_ = 0;  // members and the directories created for them
  int64_t notes_dropped_ = 0;
  std::string layer_;                          // "layer 2 of 3 (sha256:…)"
  std::string member_;                         // the member being applied, as Shown
  std::set<std::string> added_;                // keys of what this layer added
  std::map<std::string, timespec> dir_times_;  // over all layers: the last layer's entry wins
};

Error Unpacker::Refuse(std::string_view rule) const {
  return MakeError(ErrorKind::kInvalidInput, layer_ +
                                                 (member_.empty() ? "" : ": member " + member_) +
                                                 ": " + std::string(rule) + std::string(kHostile));
}

Error Unpacker::Failed(std::string_view what, std::string_view why) const {
  return Error{layer_ + (member_.empty() ? "" : ": member " + member_) + ": cannot " +
               std::string(what) + ": " + std::string(why)};
}

void Unpacker::Note(std::string text) {
  if (report_.notes.size() < kMaxUnpackNotes) {
    report_.notes.push_back(layer_ + ": member " + member_ + ": " + std::move(text));
  } else {
    ++notes_dropped_;
  }
}

ErrorOr<Ok> Unpacker::CountEntry() {
  if (++tree_entries_ > limits_.max_tree_entries) {
    return Refuse("the layers have more than " + std::to_string(limits_.max_tree_entries) +
                  " entries (the unpack limit), a file-count bomb");
  }
  return Ok{};
}

ErrorOr<std::string> Unpacker::KeyOf(int fd) {
  char buf[PATH_MAX + 1];
  std::string proc = "/proc/self/fd/" + std::to_string(fd);
  ssize_t n = readlink(proc.c_str(), buf, sizeof buf);
  if (n < 0) {
    return Failed("read the path of a directory in the tree", errno);
  }
  if (static_cast<size_t>(n) >= sizeof buf) {
    return Refuse("the path resolves to more than PATH_MAX bytes");
  }
  std::string_view path(buf, static_cast<size_t>(n));
  if (path == root_path_) {
    return std::string();
  }
  if (path.substr(0, root_path_.size()) != root_path_ || path.size() <= root_path_.size() ||
      path[root_path_.size()] != '/') {
    // openat2 RESOLVE_IN_ROOT makes this impossible; checked all the same.
    return Refuse("its parent resolved outside the tree");
  }
  std::string key(path.substr(root_path_.size() + 1));
  if (std::count(key.begin(), key.end(), '/') + 1 >= kMaxUnpackDepth) {
    return Refuse("its parent resolves deeper than " + std::to_string(kMaxUnpackDepth) +
                  " components");
  }
  return key;
}

ErrorOr<Dir> Unpacker::OpenDir(const std::vector<std::string>& parts, size_t n, bool create) {
  constexpr int kFlags = O_PATH | O_DIRECTORY;
  int fd = OpenAt2(root_, Join(parts, n), kFlags, kInRoot);
  int err = fd < 0 ? errno : 0;
  if (fd < 0 && err == ENOENT && create) {
    // Walk down from the root, creating what is missing; each prefix is resolved from the root.
    for (size_t i = 0; i < n; ++i) {
      UniqueFd prefix(OpenAt2(root_, Join(parts, i + 1), kFlags, kInRoot));
      if (prefix.valid()) {
        if (i + 1 == n) {
          fd = prefix.Release();
        }
        continue;
      }
      err = errno;
      if (err != ENOENT) {
        break;
      }
      UniqueFd above(OpenAt2(root_, Join(parts, i), kFlags, kInRoot));
      if (!above.valid()) {
        err = errno;
        break;
      }
      if (auto r = CountEntry(); !r) {
        return r.error();
      }
      if (mkdirat(above.get(), parts[i].c_str(), 0700) != 0) {
        if (errno == EEXIST) {
          return Refuse("its parent " + Shown(Join(parts, i + 1)) +
                        " is a symlink that leads nowhere in the tree");
        }
        return Failed("create the directory " + Shown(Join(parts, i + 1)), errno);
      }
      if (fchmodat(above.get(), parts[i].c_str(), 0755, 0) != 0) {
        return Failed("set the mode of the directory " + Shown(Join(parts, i + 1)), errno);
      }
      ++report_.directories;
      UniqueFd made(OpenAt2(root_, Join(parts, i + 1), kFlags, kInRoot));
      if (!made.valid()) {
        err = errno;
        break;
      }
      auto key = KeyOf(made.get());
      if (!key) {
        return key.error();
      }
      added_.insert(*key);
      if (i + 1 == n) {
        fd = made.Release();
      }
    }
  }
  if (fd < 0) {
    if (err == ENOENT && !create) {
      return Dir{};
    }
    if (err == ENOTDIR) {
      return Refuse("a component of its parent is not a directory");
    }
    if (err == ELOOP || err == EXDEV) {
      return Refuse("its parent does not resolve inside the tree (" + ErrnoText(err) + ")");
    }
    return Failed("open its parent directory", err);
  }
  Dir dir{UniqueFd(fd), {}};
  auto key = KeyOf(fd);
  if (!key) {
    return key.error();
  }
  dir.key = std::move(*key);
  return dir;
}

ErrorOr<Ok> Unpacker::SetOwnerAndMode(int fd, archive_entry* e) {
  mode_t mode = ar_.entry_perm(e) & 07777;
  if (mode & (S_ISUID | S_ISGID)) {
    mode &= ~static_cast<mode_t>(S_ISUID | S_ISGID);
    ++report_.setid_bits_cleared;
    Note("setuid/setgid bits cleared");
  }
  if (geteuid() == 0) {
    int64_t uid = ar_.entry_uid(e);
    int64_t gid = ar_.entry_gid(e);
    if (uid < 0 || uid >= 0xffffffff || gid < 0 || gid >= 0xffffffff) {
      return Refuse("its owner is out of range");
    }
    if (fchown(fd, static_cast<uid_t>(uid), static_cast<gid_t>(gid)) != 0) {
      return Failed("set its owner", errno);
    }
  }
  if (fchmod(fd, mode) != 0) {
    return Failed("set its mode", errno);
  }
  return Ok{};
}

timespec MtimeOf(const lazylibs::Archive& ar, archive_entry* e) {
  if (!ar.entry_mtime_is_set(e)) {
    return timespec{0, UTIME_OMIT};
  }
  long nsec = ar.entry_mtime_nsec(e);
  return timespec{ar.entry_mtime(e), nsec < 0 || nsec > 999'999'999 ? 0 : nsec};
}

ErrorOr<Ok> Unpacker::ApplyFile(archive* a, archive_entry* e, const Dir& parent,
                                const std::string& base) {
  // Always a new inode: never write into what is there (another name of it may be a hardlink
  // whose content must stay, or a symlink that leads elsewhere).
  if (auto r = RemoveAt(parent.fd.get(), base); !r) {
    return Failed("replace it", r.error().message);
  }
  UniqueFd fd(openat(parent.fd.get(), base.c_str(),
                     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    return Failed("create it", errno);
  }
  int64_t size = ar_.entry_size(e);
  while (true) {
    const void* buf = nullptr;
    size_t len = 0;
    la_int64_t offset = 0;
    int r = ar_.read_data_block(a, &buf, &len, &offset);
    if (r == ARCHIVE_EOF) {
      break;
    }
    if (r < ARCHIVE_WARN) {
      return Refuse(std::string("its content cannot be read: ") + ArchiveError(ar_, a));
    }
    if (offset < 0 || static_cast<uint64_t>(offset) + len > static_cast<uint64_t>(size)) {
      return Refuse("its content runs past its size");
    }
    const char* p = static_cast<const char*>(buf);
    while (len > 0) {
      ssize_t n = pwrite(fd.get(), p, len, offset);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return Failed("write it", n < 0 ? errno : EIO);
      }
      p += n;
      offset += n;
      len -= static_cast<size_t>(n);
    }
  }
  if (ftruncate(fd.get(), size) != 0) {  // a sparse file's hole at the end
    return Failed("set its size", errno);
  }
  if (auto r = SetOwnerAndMode(fd.get(), e); !r) {
    return r;
  }
  timespec times[2] = {MtimeOf(ar_, e), MtimeOf(ar_, e)};
  if (futimens(fd.get(), times) != 0) {
    return Failed("set its mtime", errno);
  }
  ++report_.files;
  return Ok{};
}

ErrorOr<Ok> Unpacker::ApplyDir(archive_entry* e, const Dir& parent, const std::string& base) {
  struct stat st;
  bool exists = fstatat(parent.fd.get(), base.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (exists && !S_ISDIR(st.st_mode)) {
    if (unlinkat(parent.fd.get(), base.c_str(), 0) != 0) {
      return Failed("replace what is in its place", errno);
    }
    exists = false;
  }
  if (!exists && mkdirat(parent.fd.get(), base.c_str(), 0700) != 0) {
    return Failed("create it", errno);
  }
  UniqueFd fd(
      openat(parent.fd.get(), base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    return Failed("open it", errno);
  }
  if (auto r = SetOwnerAndMode(fd.get(), e); !r) {
    return r;
  }
  dir_times_[Child(parent.key, base)] = MtimeOf(ar_, e);
  ++report_.directories;
  return Ok{};
}

ErrorOr<Ok> Unpacker::ApplySymlink(archive_entry* e, const Dir& parent, const std::string& base) {
  const char* target = ar_.entry_symlink(e);
  if (target == nullptr) {
    target = ar_.entry_symlink_utf8(e);
  }
  if (target == nullptr || *target == '\0') {
    return Refuse("a symlink with no target");
  }
  if (std::string_view(target).size() >= PATH_MAX) {
    return Refuse("a symlink target longer than PATH_MAX");
  }
  if (auto r = RemoveAt(parent.fd.get(), base); !r) {
    return Failed("replace it", r.error().message);
  }
  // Stored verbatim: an absolute or `..` target is legal in an image and means the sandbox's own
  // root, where it is resolved; nothing here ever follows it.
  if (symlinkat(target, parent.fd.get(), base.c_str()) != 0) {
    return Failed("create it", errno);
  }
  if (geteuid() == 0) {
    int64_t uid = ar_.entry_uid(e);
    int64_t gid = ar_.entry_gid(e);
    if (uid < 0 || uid >= 0xffffffff || gid < 0 || gid >= 0xffffffff) {
      return Refuse("its owner is out of range");
    }
    if (fchownat(parent.fd.get(), base.c_str(), static_cast<uid_t>(uid), static_cast<gid_t>(gid),
                 AT_SYMLINK_NOFOLLOW) != 0) {
      return Failed("set its owner", errno);
    }
  }
  timespec times[2] = {MtimeOf(ar_, e), MtimeOf(ar_, e)};
  if (utimensat(parent.fd.get(), base.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
    return Failed("set its mtime", errno);
  }
  ++report_.symlinks;
  return Ok{};
}

ErrorOr<Ok> Unpacker::ApplyHardlink(std::string_view target, const Dir& parent,
                                    const std::string& base) {
  auto parts = SplitMember(target);
  if (!parts) {
    return Refuse("its hardlink target " + Shown(target) + ": " + parts.error());
  }
  if (parts->empty()) {
    return Refuse("a hardlink to the tree's root");
  }
  // No symlink anywhere on the way to the target, not even one inside the tree: a hardlink names
  // a file the image itself put there.
  UniqueFd tdir(OpenAt2(root_, Join(*parts, parts->size() - 1), O_PATH | O_DIRECTORY,
                        kInRoot | RESOLVE_NO_SYMLINKS));
  struct stat st;
  if (!tdir.valid() || fstatat(tdir.get(), parts->back().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      return Refuse("its hardlink target " + Shown(target) + " is not in the tree");
    }
    if (err == ELOOP || err == EXDEV) {
      return Refuse("its hardlink target " + Shown(target) + " is reached through a symlink");
    }
    return Failed("find its hardlink target", err);
  }
  if (!S_ISREG(st.st_mode)) {
    return Refuse("its hardlink target " + Shown(target) + " is not a regular file");
  }
  struct stat here;
  if (fstatat(parent.fd.get(), base.c_str(), &here, AT_SYMLINK_NOFOLLOW) == 0 &&
      here.st_dev == st.st_dev && here.st_ino == st.st_ino) {
    ++report_.hardlinks;
    return Ok{};  // already that file (a link to itself, or a repeated link)
  }
  if (auto r = RemoveAt(parent.fd.get(), base); !r) {
    return Failed("replace it", r.error().message);
  }
  if (linkat(tdir.get(), parts->back().c_str(), parent.fd.get(), base.c_str(), 0) != 0) {
    return Failed("create the hardlink", errno);
  }
  ++report_.hardlinks;
  return Ok{};
}

bool Unpacker::AddedBelow(const std::string& key) const {
  std::string prefix = key.empty() ? "" : key + "/";
  auto it = added_.lower_bound(prefix);
  return it != added_.end() && std::string_view(*it).substr(0, prefix.size()) == prefix &&
         it->size() > prefix.size();
}

ErrorOr<Ok> Unpacker::RemoveLower(int dirfd, const std::string& name, const std::string& key) {
  bool mine = added_.count(key) > 0;
  if (!mine && !AddedBelow(key)) {
    if (auto r = RemoveAt(dirfd, name); !r) {
      return Failed("apply the whiteout", r.error().message);
    }
    return Ok{};
  }
  struct stat st;
  if (fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) {
    return Ok{};  // this layer's own file, symlink or hardlink: kept
  }
  // A directory this layer added or added to: its lower content goes, this layer's stays.
  UniqueFd fd(openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    return Failed("open a directory to apply a whiteout", errno);
  }
  auto names = ListDir(fd.get());
  if (!names) {
    return Failed("apply a whiteout", names.error().message);
  }
  for (const std::string& child : *names) {
    if (auto r = RemoveLower(fd.get(), child, Child(key, child)); !r) {
      return r;
    }
  }
  return Ok{};
}

ErrorOr<Ok> Unpacker::ApplyWhiteout(const std::vector<std::string>& parts) {
  std::string_view base = parts.back();
  ++report_.whiteouts;
  std::string name(base.substr(kWhiteout.size()));
  if (base != kOpaque && (name.empty() || name == "." || name == "..")) {
    return Refuse("a whiteout of " + Shown(name) + " names no file");
  }
  auto dir = OpenDir(parts, parts.size() - 1, /*create=*/false);
  if (!dir) {
    return dir.error();
  }
  if (!dir->fd.valid()) {
    return Ok{};  // its directory is not there: nothing to hide
  }
  if (base == kOpaque) {
    UniqueFd fd(openat(dir->fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) {
      return Failed("open the opaque directory", errno);
    }
    auto names = ListDir(fd.get());
    if (!names) {
      return Failed("list the opaque directory", names.error().message);
    }
    for (const std::string& child : *names) {
      if (auto r = RemoveLower(fd.get(), child, Child(dir->key, child)); !r) {
        return r;
      }
    }
    return Ok{};
  }
  return RemoveLower(dir->fd.get(), name, Child(dir->key, name));
}

ErrorOr<Ok> Unpacker::ApplyEntry(archive* a, archive_entry* e) {
  ++report_.entries;
  const char* raw = ar_.entry_pathname(e);
  if (raw == nullptr) {
    raw = ar_.entry_pathname_utf8(e);
  }
  member_ = Shown(raw == nullptr ? "" : raw);
  if (raw == nullptr) {
    return Refuse("a member with no name");
  }
  if (auto r = CountEntry(); !r) {
    return r;
  }
  int64_t size = ar_.entry_size_is_set(e) ? ar_.entry_size(e) : 0;
  if (size < 0 || size > limits_.max_tree_bytes - report_.bytes) {
    return Refuse("the layers expand to more than " + std::to_string(limits_.max_tree_bytes) +
                  " bytes (the unpack limit), a size bomb");
  }
  report_.bytes += size;  // counted before any of it is read
  auto parts = SplitMember(raw);
  if (!parts) {
    return Refuse(parts.error());
  }
  if (ar_.entry_xattr_reset(e) > 0) {
    // Distinct names: a pax writer may carry one attribute twice (LIBARCHIVE. and SCHILY.xattr).
    std::set<std::string> names;
    const char* xname = nullptr;
    const void* value = nullptr;
    size_t value_size = 0;
    while (ar_.entry_xattr_next(e, &xname, &value, &value_size) == ARCHIVE_OK) {
      names.insert(xname == nullptr ? "" : xname);
    }
    report_.xattrs_dropped += static_cast<int64_t>(names.size());
    Note(std::to_string(names.size()) + " extended attribute(s) dropped");
  }
  mode_t type = ar_.entry_filetype(e);
  const char* hardlink = ar_.entry_hardlink(e);
  if (hardlink == nullptr) {
    hardlink = ar_.entry_hardlink_utf8(e);
  }
  if (parts->empty()) {  // the root itself, `./`
    if (type != AE_IFDIR || hardlink != nullptr) {
      return Refuse("the tree's root `.` can only be a directory");
    }
    if (auto r = SetOwnerAndMode(root_, e); !r) {
      return r;
    }
    dir_times_[""] = MtimeOf(ar_, e);
    return Ok{};
  }
  const std::string& base = parts->back();
  for (size_t i = 0; i < parts->size(); ++i) {
    const std::string& part = (*parts)[i];
    if (part.starts_with(".wh..wh.") && !(i + 1 == parts->size() && part == kOpaque)) {
      // aufs metadata (.wh..wh.plnk/, .wh..wh.aufs): never part of the tree.
      Note("aufs metadata ignored");
      return Ok{};
    }
  }
  if (base.substr(0, kWhiteout.size()) == kWhiteout) {
    return ApplyWhiteout(*parts);
  }
  if (hardlink == nullptr && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) {
    if (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFIFO || type == AE_IFSOCK) {
      ++report_.devices_skipped;
      Note("device node, fifo or socket skipped");
      return Ok{};
    }
    return Refuse("a member of an unknown type");
  }
  auto parent = OpenDir(*parts, parts->size() - 1, /*create=*/true);
  if (!parent) {
    return parent.error();
  }
  std::string key = Child(parent->key, base);
  if (std::count(key.begin(), key.end(), '/') + 1 > kMaxUnpackDepth) {
    return Refuse("it resolves deeper than " + std::to_string(kMaxUnpackDepth) + " components");
  }
  ErrorOr<Ok> r = Ok{};
  if (hardlink != nullptr) {
    r = ApplyHardlink(hardlink, *parent, base);
  } else if (type == AE_IFREG) {
    r = ApplyFile(a, e, *parent, base);
  } else if (type == AE_IFDIR) {
    r = ApplyDir(e, *parent, base);
  } else {
    r = ApplySymlink(e, *parent, base);
  }
  if (r) {
    added_.insert(std::move(key));
  }
  return r;
}

/// The one filter a layer of `media_type` may use, or -1 when it is not a tar layer.
int FilterOf(std::string_view media_type) {
  if (media_type == kMediaOciLayer) {
    return ARCHIVE_FILTER_NONE;
  }
  if (media_type == kMediaOciLayerGzip || media_type == kMediaDockerLayerGzip) {
    return ARCHIVE_FILTER_GZIP;
  }
  if (media_type == kMediaOciLayerZstd) {
    return ARCHIVE_FILTER_ZSTD;
  }
  return -1;
}

ErrorOr<Ok> Unpacker::ApplyLayer(const LayerFile& layer, size_t index, size_t count) {
  layer_ = "layer " + std::to_string(index + 1) + " of " + std::to_string(count) + " (" +
           Shown(layer.digest) + ")";
  member_.clear();
  added_.clear();
  int filter = FilterOf(layer.media_type);
  if (filter < 0) {
    return Refuse("its media type " + Shown(layer.media_type) +
                  " is not a tar layer (uncompressed, gzip or zstd)");
  }
  std::unique_ptr<archive, ArchiveFree> a(ar_.read_new(), ArchiveFree{&ar_});
  if (!a) {
    return Failed("start libarchive", ENOMEM);
  }
  // Only tar (ustar, pax, GNU), and only the filter the media type names, built in: a missing
  // built-in decompressor would make libarchive run an external program (ARCHIVE_WARN).
  int r = ar_.read_support_format_tar(a.get());
  if (r == ARCHIVE_OK && filter == ARCHIVE_FILTER_GZIP) {
    r = ar_.read_support_filter_gzip(a.get());
  } else if (r == ARCHIVE_OK && filter == ARCHIVE_FILTER_ZSTD) {
    r = ar_.read_support_filter_zstd(a.get());
  }
  if (r != ARCHIVE_OK) {
    return Error{layer_ + ": libarchive lacks a built-in reader for " + Shown(layer.media_type) +
                 ": " + ArchiveError(ar_, a.get())};
  }
  UniqueFd blob(open(layer.blob.c_str(), O_RDONLY | O_CLOEXEC));
  if (!blob.valid()) {
    return Failed("open its blob " + Shown(layer.blob.string()), errno);
  }
  if (ar_.read_open_fd(a.get(), blob.get(), 1 << 16) != ARCHIVE_OK) {
    return Refuse(std::string("it is not a tar layer of its media type: ") +
                  ArchiveError(ar_, a.get()));
  }
  while (true) {
    archive_entry* e = nullptr;
    member_.clear();
    r = ar_.read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) {
      break;
    }
    if (r < ARCHIVE_WARN) {
      return Refuse(std::string("it is not a valid tar layer: ") + ArchiveError(ar_, a.get()));
    }
    if (ar_.filter_code(a.get(), 0) != filter) {
      return Refuse("its content is not compressed as its media type says");
    }
    if (auto applied = ApplyEntry(a.get(), e); !applied) {
      return applied;
    }
  }
  return Ok{};
}

ErrorOr<Ok> Unpacker::SetDirectoryTimes() {
  // Last: adding children changed them, in this layer or a later one.
  layer_ = "setting directory mtimes";
  member_.clear();
  for (const auto& [key, mtime] : dir_times_) {
    UniqueFd fd(OpenAt2(root_, key.empty() ? "." : key, O_RDONLY | O_DIRECTORY,
                        kInRoot | RESOLVE_NO_SYMLINKS));
    if (!fd.valid()) {
      continue;  // replaced or removed by a later member
    }
    timespec times[2] = {mtime, mtime};
    if (futimens(fd.get(), times) != 0) {
      return Failed("set the mtime of " + Shown(key), errno);
    }
  }
  return Ok{};
}

}  // namespace

ErrorOr<UnpackReport> UnpackLayers(const std::vector<LayerFile>& layers, const fs::path& dest,
                                   const Limits& limits) {
  auto lib = lazylibs::LoadArchive();
  if (!lib) {
    return lib.error();
  }
  fs::path target = dest.filename().empty() ? dest.parent_path() : dest;
  std::string name = target.filename().string();
  if (name.empty() || name == "." || name == "..") {
    return Error{"cannot unpack into " + Shown(dest.string()) + ": it names no new directory"};
  }
  struct stat st;
  if (lstat(target.c_str(), &st) == 0 || errno != ENOENT) {
    return Error{"cannot unpack into " + Shown(target.string()) + ": it already exists; " +
                 "remove it first or unpack elsewhere"};
  }
  fs::path parent = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  std::string staging = (parent / ("." + name + std::string(kPartial) + "XXXXXX")).string();
  if (mkdtemp(staging.data()) == nullptr) {
    return Error{"cannot create a staging directory in " + Shown(parent.string()) + ": " +
                 ErrnoText(errno)};
  }
  auto fail = [&](Error error) -> Error {
    std::error_code ec;
    fs::remove_all(staging, ec);  // never follows symlinks
    if (ec) {
      error.message += " (and the staging directory " + Shown(staging) +
                       " could not be removed: " + ec.message() + ")";
    }
    return error;
  };
  UnpackReport report;
  try {
    UniqueFd root(open(staging.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!root.valid() || fchmod(root.get(), 0755) != 0) {
      return fail(
          Error{"cannot open the staging directory " + Shown(staging) + ": " + ErrnoText(errno)});
    }
    std::string root_path = ProcPath(root.get());
    if (root_path.empty()) {
      return fail(Error{"cannot read the path of the staging directory " + Shown(staging) +
                        " from /proc/self/fd (is /proc mounted?)"});
    }
    Unpacker unpacker(**lib, root.get(), root_path, limits, report);
    for (size_t i = 0; i < layers.size(); ++i) {
      if (auto r = unpacker.ApplyLayer(layers[i], i, layers.size()); !r) {
        return fail(r.error());
      }
    }
    if (auto r = unpacker.SetDirectoryTimes(); !r) {
      return fail(r.error());
    }
    if (unpacker.notes_dropped() > 0) {
      report.notes.push_back("… and " + std::to_string(unpacker.notes_dropped()) + " more");
    }
  } catch (const std::exception& e) {
    return fail(Error{std::string("unpacking failed: ") + e.what()});
  }
  if (renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) != 0) {
    return fail(Error{"cannot move the unpacked tree to " + Shown(target.string()) + ": " +
                      ErrnoText(errno)});
  }
  return report;
}

ErrorOr<int> RemoveStaleStaging(const fs::path& parent) {
  std::error_code ec;
  int removed = 0;
  for (fs::directory_iterator it(parent, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    size_t at = name.rfind(kPartial);
    if (name.size() < 2 || name[0] != '.' || at == std::string::npos || at < 2 ||
        name.size() != at + kPartial.size() + 6) {
      continue;
    }
    fs::remove_all(it->path(), ec);  // never follows symlinks
    if (ec) {
      return Error{"cannot remove the stale staging directory " + Shown(it->path().string()) +
                   ": " + ec.message()};
    }
    ++removed;
  }
  if (ec) {
    return Error{"cannot list " + Shown(parent.string()) + ": " + ec.message()};
  }
  return removed;
}

}  // namespace mvm::runtime::oci
