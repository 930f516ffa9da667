#include "runtime/agent/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "runtime/agent/request.h"

namespace mvm::runtime::agent {
namespace {

constexpr uint64_t kConfined = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
// Descending a tree to remove it: no symlink at all (the entry was checked to be a directory, so a
// symlink there now is a race to exploit) and no other file system (a bind mount of somewhere
// else).
constexpr uint64_t kDescend = kConfined | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV;
constexpr int kMaxRemoveDepth = 128;
constexpr size_t kMaxListEntries = 100000;

// openat2 has no glibc wrapper in Debian 12. -1 with errno set on failure.
int OpenAt2(int dirfd, const std::string& path, uint64_t flags, uint64_t mode, uint64_t resolve) {
  open_how how{};
  how.flags = flags | O_CLOEXEC;
  how.mode = mode;
  how.resolve = resolve;
  // EAGAIN: a concurrent rename or mount raced the lookup; the kernel asks for a retry.
  for (int attempt = 0;; ++attempt) {
    long fd = syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how);
    if (fd >= 0) {
      return static_cast<int>(fd);
    }
    if (errno != EINTR && (errno != EAGAIN || attempt >= 16)) {
      return -1;
    }
  }
}

// The Error for a failed lookup of client path `path`, from errno.
Error LookupError(std::string_view path, int err) {
  switch (err) {
    case EXDEV:
      return Error{Quote(path) + ": path escapes the sandbox root (symlink or ..)"};
    case ELOOP:
      return Error{Quote(path) +
                   ": too many symlinks, or a /proc magic link (refused: it could leave the "
                   "sandbox root)"};
    case ENOSYS:
      return Error{
          "openat2 is not available: the agent needs Linux 5.6 or later, and openat2 in the "
          "sandbox's seccomp allow-list"};
    default:
      return Error{Quote(path) + ": " + std::strerror(err)};
  }
}

v1::FileEntry::Type TypeOf(mode_t mode) {
  if (S_ISREG(mode)) {
    return v1::FileEntry::TYPE_FILE;
  }
  if (S_ISDIR(mode)) {
    return v1::FileEntry::TYPE_DIR;
  }
  if (S_ISLNK(mode)) {
    return v1::FileEntry::TYPE_SYMLINK;
  }
  return v1::FileEntry::TYPE_OTHER;
}

// The names in the directory open as `fd`, without "." and "..". Reads through a duplicate so
// that the caller's descriptor stays open and no DIR buffer outlives the call.
ErrorOr<std::vector<std::string>> ReadNames(int fd, std::string_view path) {
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    return Error{Quote(path) + ": " + std::strerror(errno)};
  }
  DIR* dir = fdopendir(copy);
  if (dir == nullptr) {
    int err = errno;
    close(copy);
    return Error{Quote(path) + ": " + std::strerror(err)};
  }
  std::vector<std::string> names;
  errno = 0;
  while (dirent* entry = readdir(dir)) {
    std::string_view name = entry->d_name;
    if (name != "." && name != "..") {
      names.emplace_back(name);
    }
    errno = 0;
  }
  int err = errno;
  closedir(dir);
  if (err != 0) {
    return Error{Quote(path) + ": reading the directory: " + std::strerror(err)};
  }
  return names;
}

// A client's path to a directory entry: relative to the files root, and split for an operation on
// the entry itself (create, remove).
struct EntryPath {
  std::string relative;
  ParentAndName split;
};

ErrorOr<EntryPath> SandboxEntry(std::string_view path) {
  auto relative = SandboxRelative(path);
  if (!relative) {
    return relative.error();
  }
  auto split = SplitParent(*relative, path);
  if (!split) {
    return split.error();
  }
  return EntryPath{std::move(*relative), std::move(*split)};
}

// A directory open for reading and the names in it.
struct Listing {
  os::UniqueFd dir;
  std::vector<std::string> names;
};

// Opens the directory `name` under `at_fd` (client path `path`) and reads its names. A failure
// with `refused_errno` means the directory is one the caller must not enter, which `refusal`
// explains better than the generic lookup message.
ErrorOr<Listing> OpenListing(int at_fd, const std::string& name, int extra_flags, uint64_t resolve,
                             std::string_view path, int refused_errno, std::string_view refusal) {
  os::UniqueFd dir(OpenAt2(at_fd, name, O_RDONLY | O_DIRECTORY | extra_flags, 0, resolve));
  if (!dir.valid()) {
    if (errno == refused_errno) {
      return Error{Quote(path) + std::string(refusal)};
    }
    return LookupError(path, errno);
  }
  auto names = ReadNames(dir.get(), path);
  if (!names) {
    return names.error();
  }
  return Listing{std::move(dir), std::move(*names)};
}

// Empties the directory `name` in `parent_fd` (a directory named `path` for messages), without
// following symlinks, and counts what it removed. The caller removes `name` itself.
ErrorOr<Ok> RemoveContents(int parent_fd, const std::string& name, const std::string& path,
                           int depth, uint64_t& removed) {
  if (depth > kMaxRemoveDepth) {
    return Error{Quote(path) + ": tree is deeper than " + std::to_string(kMaxRemoveDepth) +
                 " levels; remove its lower part first"};
  }
  auto listing = OpenListing(parent_fd, name, O_NOFOLLOW, kDescend, path, EXDEV,
                             ": is a mount point or was replaced by a symlink; not descending");
  if (!listing) {
    return listing.error();
  }
  const os::UniqueFd& dir = listing->dir;
  for (const std::string& child : listing->names) {
    const std::string child_path = path + "/" + child;
    struct stat st;
    if (fstatat(dir.get(), child.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) {
        continue;  // removed meanwhile: the goal is reached
      }
      return Error{Quote(child_path) + ": " + std::strerror(errno)};
    }
    int flags = 0;
    if (S_ISDIR(st.st_mode)) {
      if (auto emptied = RemoveContents(dir.get(), child, child_path, depth + 1, removed);
          !emptied) {
        return emptied.error();
      }
      flags = AT_REMOVEDIR;
    }
    if (unlinkat(dir.get(), child.c_str(), flags) != 0 && errno != ENOENT) {
      return Error{Quote(child_path) + ": " + std::strerror(errno)};
    }
    ++removed;
  }
  return Ok{};
}

}  // namespace

ErrorOr<SandboxFiles> SandboxFiles::Open(const std::string& root) {
  os::UniqueFd fd(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) {
    return Error{"files root " + Quote(root) + ": " + std::strerror(errno) +
                 "; pass an existing directory as --files-root"};
  }
  return SandboxFiles(std::move(fd));
}

ErrorOr<SandboxFiles::ReadableFile> SandboxFiles::OpenForRead(std::string_view path,
                                                              uint64_t max_bytes) const {
  auto relative = SandboxRelative(path);
  if (!relative) {
    return relative.error();
  }
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below anyway.
  os::UniqueFd fd(OpenAt2(root_.get(), *relative, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0, kConfined));
  if (!fd.valid()) {
    return LookupError(path, errno);
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) {
    return Error{Quote(path) + ": " + std::strerror(errno)};
  }
  if (S_ISDIR(st.st_mode)) {
    return Error{Quote(path) + ": is a directory; list it instead"};
  }
  if (!S_ISREG(st.st_mode)) {
    return Error{Quote(path) + ": not a regular file; only regular files can be read"};
  }
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes) {
    return Error{Quote(path) + ": file is " + std::to_string(size) + " bytes, more than the " +
                 std::to_string(max_bytes) + " asked for; raise max_bytes to read it"};
  }
  return ReadableFile{std::move(fd), size};
}

ErrorOr<Ok> SandboxFiles::MakeParents(std::string_view parent, std::string_view path) const {
  // Each prefix is looked up from the root, so a symlink met on the way is checked like any other.
  os::UniqueFd current(OpenAt2(root_.get(), ".", O_PATH | O_DIRECTORY, 0, kConfined));
  if (!current.valid()) {
    return LookupError(path, errno);
  }
  std::string prefix;
  size_t begin = 0;
  while (begin < parent.size()) {
    size_t end = std::min(parent.find('/', begin), parent.size());
    std::string_view component = parent.substr(begin, end - begin);
    begin = end + 1;
    if (component.empty() || component == ".") {
      continue;
    }
    prefix += prefix.empty() ? "" : "/";
    prefix += component;
    int fd = OpenAt2(root_.get(), prefix, O_PATH | O_DIRECTORY, 0, kConfined);
    if (fd < 0 && errno == ENOENT) {
      const std::string name(component);
      if (mkdirat(current.get(), name.c_str(), 0755) != 0 && errno != EEXIST) {
        return Error{Quote("/" + prefix) + ": creating the directory: " + std::strerror(errno)};
      }
      fd = OpenAt2(root_.get(), prefix, O_PATH | O_DIRECTORY, 0, kConfined);
    }
    if (fd < 0) {
      return LookupError("/" + prefix, errno);
    }
    current.Reset(fd);
  }
  return Ok{};
}

ErrorOr<os::UniqueFd> SandboxFiles::OpenForWrite(std::string_view path, uint32_t mode,
                                                 bool make_parents) const {
  if (mode > 07777) {
    return Error{Quote(path) + ": mode " + std::to_string(mode) +
                 " has bits beyond 07777; give permission bits only"};
  }
  auto entry = SandboxEntry(path);
  if (!entry) {
    return entry.error();
  }
  if (make_parents) {
    if (auto made = MakeParents(entry->split.parent, path); !made) {
      return made.error();
    }
  }
  os::UniqueFd fd(OpenAt2(root_.get(), entry->relative,
                          O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK | O_NOCTTY, mode, kConfined));
  if (!fd.valid()) {
    if (errno == ENOENT && !make_parents) {
      return Error{Quote(path) + ": its directory does not exist; set make_parents to create it"};
    }
    return LookupError(path, errno);
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) {
    return Error{Quote(path) + ": " + std::strerror(errno)};
  }
  if (!S_ISREG(st.st_mode)) {
    return Error{Quote(path) + ": not a regular file; only regular files can be written"};
  }
  if (fchmod(fd.get(), mode) != 0) {
    return Error{Quote(path) + ": setting mode: " + std::strerror(errno)};
  }
  return fd;
}

ErrorOr<std::vector<v1::FileEntry>> SandboxFiles::List(std::string_view path) const {
  auto relative = SandboxRelative(path);
  if (!relative) {
    return relative.error();
  }
  auto listing =
      OpenListing(root_.get(), *relative, 0, kConfined, path, ENOTDIR, ": not a directory");
  if (!listing) {
    return listing.error();
  }
  const os::UniqueFd& dir = listing->dir;
  std::vector<std::string>& names = listing->names;
  if (names.size() > kMaxListEntries) {
    return Error{Quote(path) + ": directory has more than " + std::to_string(kMaxListEntries) +
                 " entries; too many to list at once"};
  }
  std::sort(names.begin(), names.end());
  std::vector<v1::FileEntry> entries;
  entries.reserve(names.size());
  for (const std::string& name : names) {
    struct stat st;
    if (fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      continue;  // removed since it was read: not there any more
    }
    v1::FileEntry& entry = entries.emplace_back();
    entry.set_name(name);
    entry.set_type(TypeOf(st.st_mode));
    entry.set_size(static_cast<uint64_t>(st.st_size));
    entry.set_mode(st.st_mode & 07777);
    if (S_ISLNK(st.st_mode)) {
      // A snapshot must restore the link as it was; the size stat reports bounds the target.
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = readlinkat(dir.get(), name.c_str(), target.data(), target.size());
      if (n >= 0 && static_cast<size_t>(n) < target.size()) {
        target.resize(static_cast<size_t>(n));
        entry.set_link_target(std::move(target));
      }
    }
  }
  return entries;
}

ErrorOr<uint64_t> SandboxFiles::Remove(std::string_view path, bool recursive) const {
  auto opened = OpenParentOf(path);
  if (!opened) {
    return opened.error();
  }
  const os::UniqueFd& parent = opened->parent;
  const std::string& name = opened->name;
  struct stat st;
  if (fstatat(parent.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return Error{Quote(path) + ": " + std::strerror(errno)};
  }
  uint64_t removed = 0;
  int flags = 0;
  if (S_ISDIR(st.st_mode)) {
    flags = AT_REMOVEDIR;
    if (recursive) {
      if (auto emptied = RemoveContents(parent.get(), name, std::string(path), 1, removed);
          !emptied) {
        return emptied.error();
      }
    }
  }
  if (unlinkat(parent.get(), name.c_str(), flags) != 0) {
    if (errno == ENOTEMPTY || errno == EEXIST) {
      return Error{Quote(path) + ": directory is not empty; set recursive to remove the tree"};
    }
    return Error{Quote(path) + ": " + std::strerror(errno)};
  }
  return removed + 1;
}

ErrorOr<SandboxFiles::ParentEntry> SandboxFiles::OpenParentOf(std::string_view path) const {
  auto entry = SandboxEntry(path);
  if (!entry) {
    return entry.error();
  }
  os::UniqueFd parent(
      OpenAt2(root_.get(), entry->split.parent, O_PATH | O_DIRECTORY, 0, kConfined));
  if (!parent.valid()) {
    return LookupError(path, errno);
  }
  return ParentEntry{std::move(parent), std::move(entry->split.name)};
}

ErrorOr<Ok> SandboxFiles::MakeDirectory(std::string_view path, uint32_t mode) const {
  if (mode > 07777) {
    return Error{Quote(path) + ": mode " + std::to_string(mode) +
                 " has bits beyond 07777; give permission bits only"};
  }
  auto opened = OpenParentOf(path);
  if (!opened) {
    return opened.error();
  }
  const os::UniqueFd& parent = opened->parent;
  if (mkdirat(parent.get(), opened->name.c_str(), mode) != 0 && errno != EEXIST) {
    return Error{Quote(path) + ": creating the directory: " + std::strerror(errno)};
  }
  // O_NOFOLLOW: an existing symlink in its place is refused, never followed to set a mode.
  os::UniqueFd dir(
      openat(parent.get(), opened->name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir.valid()) {
    return Error{Quote(path) + ": " +
                 (errno == ENOTDIR || errno == ELOOP ? std::string("exists and is not a directory")
                                                     : std::string(std::strerror(errno)))};
  }
  if (fchmod(dir.get(), mode) != 0) {
    return Error{Quote(path) + ": setting mode: " + std::strerror(errno)};
  }
  return Ok{};
}

ErrorOr<Ok> SandboxFiles::MakeSymlink(std::string_view path, std::string_view target) const {
  if (target.empty() || target.find('\0') != std::string_view::npos) {
    return Error{Quote(path) + ": a symlink target must be non-empty and hold no NUL byte"};
  }
  auto opened = OpenParentOf(path);
  if (!opened) {
    return opened.error();
  }
  const os::UniqueFd& parent = opened->parent;
  if (symlinkat(std::string(target).c_str(), parent.get(), opened->name.c_str()) != 0) {
    return Error{Quote(path) + ": creating the symlink: " + std::strerror(errno)};
  }
  return Ok{};
}

}  // namespace mvm::runtime::agent
