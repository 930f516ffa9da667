// Host directories as volumes: every lookup beneath one descriptor, every write published whole.

#include "runtime/volumes/host_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>
#include <vector>

#include "ir/support/os/errno_text.h"
#include "ir/support/os/hex.h"
#include "ir/support/os/write_all.h"

namespace mvm::runtime::volumes::internal {

namespace {

constexpr size_t kChunkBytes = 1 << 20;

bool Listable(const char* name) {
  std::string_view view(name);
  return view != "." && view != ".." && !PathProblem(view).has_value();
}

EntryType TypeOf(mode_t mode) {
  if (S_ISREG(mode)) {
    return EntryType::kFile;
  }
  if (S_ISDIR(mode)) {
    return EntryType::kDirectory;
  }
  return EntryType::kOther;
}

/// Removes everything in directory `dir` (not `dir`), never following a symlink or crossing a
/// mount; counts what it removed into `removed`.
ErrorOr<Ok> EmptyDirectory(int dir, const std::string& what, uint64_t& removed) {
  int copy = fcntl(dir, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    return Error{what + ": " + os::ErrnoText(errno)};
  }
  DIR* stream = fdopendir(copy);
  if (stream == nullptr) {
    close(copy);
    return Error{what + ": " + os::ErrnoText(errno)};
  }
  std::vector<std::pair<std::string, bool>> entries;
  while (dirent* entry = readdir(stream)) {
    std::string_view name(entry->d_name);
    if (name == "." || name == "..") {
      continue;
    }
    struct stat st {};
    if (fstatat(dir, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      continue;
    }
    entries.emplace_back(entry->d_name, S_ISDIR(st.st_mode));
  }
  closedir(stream);
  for (const auto& [name, is_dir] : entries) {
    if (is_dir) {
      os::UniqueFd sub(OpenBeneath(dir, name, O_RDONLY | O_DIRECTORY));
      if (!sub.valid()) {
        return Error{what + ": cannot open directory `" + name +
                     "` to remove it: " + os::ErrnoText(errno)};
      }
      if (auto emptied = EmptyDirectory(sub.get(), what, removed); !emptied) {
        return emptied;
      }
    }
    if (unlinkat(dir, name.c_str(), is_dir ? AT_REMOVEDIR : 0) != 0 && errno != ENOENT) {
      return Error{what + ": cannot remove `" + name + "`: " + os::ErrnoText(errno)};
    }
    // A backend's own files (an encrypted directory's sealed name) are not entries of the volume.
    if (!name.starts_with(kReservedPrefix)) {
      ++removed;
    }
  }
  return Ok{};
}

}  // namespace

int OpenBeneath(int dirfd, const std::string& path, uint64_t flags) {
  open_how how{};
  how.flags = flags | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  for (;;) {
    long fd = syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how);
    if (fd < 0 && (errno == EINTR || errno == EAGAIN)) {
      continue;
    }
    return static_cast<int>(fd);
  }
}

std::string TemporaryName() {
  unsigned char random[8];
  randombytes_buf(random, sizeof random);
  return std::string(kTemporaryPrefix) + os::Hex(random, sizeof random);
}

ErrorOr<HostDir> HostDir::Open(const std::filesystem::path& dir, std::string what) {
  os::UniqueFd root(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root.valid()) {
    return MakeError(ErrorKind::kEnvironment, what + ": cannot open directory `" + dir.string() +
                                                  "`: " + os::ErrnoText(errno) +
                                                  "; it must be an existing directory");
  }
  return HostDir(std::move(root), std::move(what));
}

Error HostDir::Failure(std::string_view doing, std::string_view path, int error) const {
  std::string why = os::ErrnoText(error);
  ErrorKind kind = ErrorKind::kEnvironment;
  if (error == ELOOP || error == EXDEV) {
    why = "a symlink or mount point is on the way, and volume paths never follow one";
    kind = ErrorKind::kInvalidInput;
  } else if (error == ENOENT || error == ENOTDIR || error == EISDIR || error == ENOTEMPTY) {
    kind = ErrorKind::kInvalidInput;
  }
  return MakeError(
      kind, what_ + ": cannot " + std::string(doing) + " `" + std::string(path) + "`: " + why);
}

ErrorOr<HostDir::Parent> HostDir::OpenParent(const std::string& path, bool make) const {
  std::vector<std::string> parts = SplitPath(path);
  Parent parent;
  parent.name = parts.back();
  parts.pop_back();
  parent.dir = os::UniqueFd(fcntl(root_.get(), F_DUPFD_CLOEXEC, 0));
  std::string so_far;
  for (const std::string& part : parts) {
    so_far += (so_far.empty() ? "" : "/") + part;
    int fd = OpenBeneath(parent.dir.get(), part, O_RDONLY | O_DIRECTORY);
    if (fd < 0 && errno == ENOENT && make) {
      if (mkdirat(parent.dir.get(), part.c_str(), 0755) != 0 && errno != EEXIST) {
        return Failure("make directory", so_far, errno);
      }
      fd = OpenBeneath(parent.dir.get(), part, O_RDONLY | O_DIRECTORY);
    }
    if (fd < 0) {
      return Failure("open directory", so_far, errno);
    }
    parent.dir = os::UniqueFd(fd);
  }
  return parent;
}

ErrorOr<os::UniqueFd> HostDir::OpenDirectory(const std::string& path) const {
  os::UniqueFd dir(OpenBeneath(root_.get(), path.empty() ? "." : path, O_RDONLY | O_DIRECTORY));
  if (!dir.valid()) {
    return Failure("open directory", path, errno);
  }
  return dir;
}

ErrorOr<std::pair<os::UniqueFd, uint64_t>> HostDir::OpenFile(const std::string& path) const {
  // O_NONBLOCK: opening a FIFO someone put in the volume must not hang the reader.
  os::UniqueFd file(OpenBeneath(root_.get(), path, O_RDONLY | O_NONBLOCK | O_NOCTTY));
  if (!file.valid()) {
    return Failure("read", path, errno);
  }
  struct stat st {};
  if (fstat(file.get(), &st) != 0) {
    return Failure("read", path, errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return MakeError(ErrorKind::kInvalidInput,
                     what_ + ": cannot read `" + path + "`: it is not a regular file");
  }
  int flags = fcntl(file.get(), F_GETFL);
  (void)fcntl(file.get(), F_SETFL, flags & ~O_NONBLOCK);
  return std::pair{std::move(file), static_cast<uint64_t>(st.st_size)};
}

ErrorOr<uint64_t> HostDir::Read(const std::string& path, const ReadSink& sink) const {
  auto file = OpenFile(path);
  if (!file) {
    return file.error();
  }
  std::string buffer(kChunkBytes, '\0');
  uint64_t total = 0;
  for (;;) {
    ssize_t n = read(file->first.get(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return Failure("read", path, errno);
    }
    if (n == 0) {
      return total;
    }
    total += static_cast<uint64_t>(n);
    if (auto taken = sink(std::string_view(buffer.data(), static_cast<size_t>(n))); !taken) {
      return taken.error();
    }
  }
}

ErrorOr<std::unique_ptr<Writer>> HostDir::OpenWriter(const std::string& path) const {
  auto parent = OpenParent(path, /*make=*/true);
  if (!parent) {
    return parent.error();
  }
  auto writer =
      TmpfileWriter::Create(std::move(parent->dir), parent->name, what_ + ": `" + path + "`");
  if (!writer) {
    return writer.error();
  }
  return std::unique_ptr<Writer>(std::move(*writer));
}

ErrorOr<std::vector<EntryInfo>> HostDir::List(const std::string& path) const {
  auto dir = OpenDirectory(path);
  if (!dir) {
    return dir.error();
  }
  int copy = fcntl(dir->get(), F_DUPFD_CLOEXEC, 0);
  DIR* stream = copy < 0 ? nullptr : fdopendir(copy);
  if (stream == nullptr) {
    int error = errno;
    if (copy >= 0) {
      close(copy);
    }
    return Failure("list", path, error);
  }
  std::vector<EntryInfo> entries;
  while (dirent* entry = readdir(stream)) {
    if (!Listable(entry->d_name)) {
      continue;
    }
    struct stat st {};
    if (fstatat(dir->get(), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      continue;  // removed since readdir saw it
    }
    EntryInfo info;
    info.name = entry->d_name;
    info.type = TypeOf(st.st_mode);
    info.size = info.type == EntryType::kFile ? static_cast<uint64_t>(st.st_size) : 0;
    entries.push_back(std::move(info));
  }
  closedir(stream);
  std::sort(entries.begin(), entries.end(),
            [](const EntryInfo& a, const EntryInfo& b) { return a.name < b.name; });
  return entries;
}

ErrorOr<EntryInfo> HostDir::Stat(const std::string& path) const {
  EntryInfo info;
  info.name = path;
  if (path.empty()) {
    info.type = EntryType::kDirectory;
    return info;
  }
  auto parent = OpenParent(path, /*make=*/false);
  if (!parent) {
    return parent.error();
  }
  struct stat st {};
  if (fstatat(parent->dir.get(), parent->name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return Failure("stat", path, errno);
  }
  info.type = TypeOf(st.st_mode);
  info.size = info.type == EntryType::kFile ? static_cast<uint64_t>(st.st_size) : 0;
  return info;
}

ErrorOr<uint64_t> HostDir::Remove(const std::string& path, bool recursive) const {
  auto parent = OpenParent(path, /*make=*/false);
  if (!parent) {
    return parent.error();
  }
  struct stat st {};
  if (fstatat(parent->dir.get(), parent->name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return Failure("remove", path, errno);
  }
  uint64_t removed = 0;
  if (S_ISDIR(st.st_mode) && recursive) {
    os::UniqueFd dir(OpenBeneath(parent->dir.get(), parent->name, O_RDONLY | O_DIRECTORY));
    if (!dir.valid()) {
      return Failure("remove", path, errno);
    }
    if (auto emptied = EmptyDirectory(dir.get(), what_, removed); !emptied) {
      return emptied.error();
    }
  }
  if (unlinkat(parent->dir.get(), parent->name.c_str(), S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) !=
      0) {
    return Failure("remove", path, errno);
  }
  return removed + 1;
}

ErrorOr<Ok> HostDir::Rename(const std::string& from, const std::string& to) const {
  auto source = OpenParent(from, /*make=*/false);
  if (!source) {
    return source.error();
  }
  auto target = OpenParent(to, /*make=*/true);
  if (!target) {
    return target.error();
  }
  if (renameat(source->dir.get(), source->name.c_str(), target->dir.get(), target->name.c_str()) !=
      0) {
    return Failure("rename", from, errno);
  }
  if (fsync(target->dir.get()) != 0 ||
      (source->dir.get() != target->dir.get() && fsync(source->dir.get()) != 0)) {
    return Failure("sync the directory of", to, errno);
  }
  return Ok{};
}

ErrorOr<Ok> HostDir::Health() const {
  struct stat st {};
  if (fstat(root_.get(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Error{what_ + ": its directory is no longer there"};
  }
  if (st.st_nlink == 0) {
    return Error{what_ + ": its directory was removed"};
  }
  return Ok{};
}

ErrorOr<std::unique_ptr<TmpfileWriter>> TmpfileWriter::Create(os::UniqueFd dir, std::string name,
                                                              std::string what) {
  os::UniqueFd file(openat(dir.get(), ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644));
  std::string fallback;
  if (!file.valid() && (errno == EOPNOTSUPP || errno == EISDIR)) {
    // A file system without O_TMPFILE: a reserved name, which List never shows.
    fallback = TemporaryName();
    file = os::UniqueFd(
        openat(dir.get(), fallback.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644));
  }
  if (!file.valid()) {
    return MakeError(ErrorKind::kEnvironment,
                     what + ": cannot create a file to write: " + os::ErrnoText(errno));
  }
  return std::unique_ptr<TmpfileWriter>(new TmpfileWriter(
      std::move(dir), std::move(file), std::move(name), std::move(fallback), std::move(what)));
}

TmpfileWriter::TmpfileWriter(os::UniqueFd dir, os::UniqueFd file, std::string name,
                             std::string fallback_name, std::string what)
    : dir_(std::move(dir)),
      file_(std::move(file)),
      name_(std::move(name)),
      fallback_name_(std::move(fallback_name)),
      what_(std::move(what)) {}

TmpfileWriter::~TmpfileWriter() {
  if (file_.valid() && !fallback_name_.empty()) {
    (void)unlinkat(dir_.get(), fallback_name_.c_str(), 0);
  }
}

ErrorOr<Ok> TmpfileWriter::Write(std::string_view chunk) {
  if (int error = os::WriteAll(file_.get(), chunk); error != 0) {
    return MakeError(ErrorKind::kEnvironment, what_ + ": write failed: " + os::ErrnoText(error));
  }
  return Ok{};
}

ErrorOr<Ok> TmpfileWriter::Commit() {
  if (fsync(file_.get()) != 0) {
    return MakeError(ErrorKind::kEnvironment, what_ + ": fsync failed: " + os::ErrnoText(errno));
  }
  std::string temporary = fallback_name_;
  if (temporary.empty()) {
    // linkat cannot replace a name, so the unnamed file gets a reserved one first, which the rename
    // then moves over the target in one step.
    temporary = TemporaryName();
    std::string proc = "/proc/self/fd/" + std::to_string(file_.get());
    if (linkat(AT_FDCWD, proc.c_str(), dir_.get(), temporary.c_str(), AT_SYMLINK_FOLLOW) != 0) {
      return MakeError(ErrorKind::kEnvironment,
                       what_ + ": cannot link the written file: " + os::ErrnoText(errno));
    }
  }
  if (renameat(dir_.get(), temporary.c_str(), dir_.get(), name_.c_str()) != 0) {
    int error = errno;
    (void)unlinkat(dir_.get(), temporary.c_str(), 0);
    file_.Reset();
    return MakeError(error == EISDIR ? ErrorKind::kInvalidInput : ErrorKind::kEnvironment,
                     what_ + ": cannot publish the written file: " + os::ErrnoText(error));
  }
  file_.Reset();
  if (fsync(dir_.get()) != 0) {
    return MakeError(
        ErrorKind::kEnvironment,
        what_ + ": written, but syncing its directory failed: " + os::ErrnoText(errno));
  }
  return Ok{};
}

ErrorOr<Ok> CopyTree(int from, int to, const std::string& what) {
  auto listing_fd = fcntl(from, F_DUPFD_CLOEXEC, 0);
  DIR* stream = listing_fd < 0 ? nullptr : fdopendir(listing_fd);
  if (stream == nullptr) {
    return Error{what + ": cannot list a directory to copy: " + os::ErrnoText(errno)};
  }
  std::vector<std::string> names;
  while (dirent* entry = readdir(stream)) {
    std::string_view name(entry->d_name);
    if (name != "." && name != ".." && !name.starts_with(kTemporaryPrefix)) {
      names.emplace_back(name);
    }
  }
  closedir(stream);
  for (const std::string& name : names) {
    struct stat st {};
    if (fstatat(from, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      if (mkdirat(to, name.c_str(), st.st_mode & 07777) != 0) {
        return Error{what + ": cannot make `" + name + "`: " + os::ErrnoText(errno)};
      }
      os::UniqueFd sub_from(OpenBeneath(from, name, O_RDONLY | O_DIRECTORY));
      os::UniqueFd sub_to(OpenBeneath(to, name, O_RDONLY | O_DIRECTORY));
      if (!sub_from.valid() || !sub_to.valid()) {
        return Error{what + ": cannot open `" + name + "`: " + os::ErrnoText(errno)};
      }
      if (auto copied = CopyTree(sub_from.get(), sub_to.get(), what); !copied) {
        return copied;
      }
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = readlinkat(from, name.c_str(), target.data(), target.size());
      if (n < 0 ||
          symlinkat(target.substr(0, static_cast<size_t>(n)).c_str(), to, name.c_str()) != 0) {
        return Error{what + ": cannot copy symlink `" + name + "`: " + os::ErrnoText(errno)};
      }
    } else if (S_ISREG(st.st_mode)) {
      os::UniqueFd in(OpenBeneath(from, name, O_RDONLY));
      os::UniqueFd out(
          openat(to, name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, st.st_mode & 07777));
      if (!in.valid() || !out.valid()) {
        return Error{what + ": cannot copy `" + name + "`: " + os::ErrnoText(errno)};
      }
      off_t left = st.st_size;
      bool ranges = true;
      std::vector<char> buffer;
      while (left > 0) {
        ssize_t n = -1;
        if (ranges) {
          n = copy_file_range(in.get(), nullptr, out.get(), nullptr,
                              static_cast<size_t>(std::min<off_t>(left, 1 << 30)), 0);
          if (n < 0 &&
              (errno == EXDEV || errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL) &&
              left == st.st_size) {
            // Not between these two file systems (a FUSE view and the state dir's): copy the
            // bytes through this process instead, 1 MiB at a time.
            ranges = false;
            buffer.resize(1 << 20);
            continue;
          }
        } else {
          n = read(in.get(), buffer.data(), buffer.size());
          const int error =
              n > 0
                  ? os::WriteAll(out.get(), std::string_view(buffer.data(), static_cast<size_t>(n)))
                  : 0;
          if (error != 0) {
            return Error{what + ": cannot copy `" + name + "`: " + os::ErrnoText(error)};
          }
        }
        if (n < 0 && errno == EINTR) {
          continue;
        }
        if (n <= 0) {
          return Error{what + ": cannot copy `" + name +
                       "`: " + (n == 0 ? std::string("it shrank") : os::ErrnoText(errno))};
        }
        left -= n;
      }
      if (fsync(out.get()) != 0) {
        return Error{what + ": cannot sync `" + name + "`: " + os::ErrnoText(errno)};
      }
    }
  }
  if (fsync(to) != 0) {
    return Error{what + ": cannot sync a copied directory: " + os::ErrnoText(errno)};
  }
  return Ok{};
}

ErrorOr<os::UniqueFd> MakeAndOpenDirectory(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Error{"cannot make directory `" + dir.string() + "`: " + ec.message()};
  }
  os::UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    return Error{"cannot open directory `" + dir.string() + "`: " + os::ErrnoText(errno)};
  }
  return fd;
}

}  // namespace mvm::runtime::volumes::internal
