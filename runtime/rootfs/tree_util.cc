#include "runtime/rootfs/tree_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <system_error>
#include <vector>

#include "ir/support/os/unique_fd.h"

namespace mvm::runtime::rootfs {
namespace fs = std::filesystem;

namespace {

constexpr mode_t kWriteBits = S_IWUSR | S_IWGRP | S_IWOTH;

// /proc/self/mountinfo writes space, tab, newline and backslash in paths as \ooo.
std::string UnescapeMountPath(std::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    auto octal = [&](size_t k) { return field[k] >= '0' && field[k] <= '7'; };
    if (field[i] == '\\' && i + 3 < field.size() && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
      out += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                               (field[i + 3] - '0'));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

// The first mount point at or below `dir` (absolute, canonical), or empty. st_dev alone misses
// bind mounts from the same file system, which mountinfo lists like any other mount.
std::string MountPointUnder(const fs::path& dir) {
  std::ifstream mountinfo("/proc/self/mountinfo");
  const std::string& prefix = dir.native();
  std::string line;
  while (std::getline(mountinfo, line)) {
    // Fields: mount id, parent id, major:minor, root, mount point, ...
    size_t start = 0;
    for (int field = 0; field < 4 && start != std::string::npos; ++field) {
      start = line.find(' ', start);
      start = start == std::string::npos ? start : start + 1;
    }
    if (start == std::string::npos) {
      continue;
    }
    size_t end = line.find(' ', start);
    std::string point = UnescapeMountPath(std::string_view(line).substr(
        start, end == std::string::npos ? std::string::npos : end - start));
    if (point == prefix || (point.size() > prefix.size() && point.starts_with(prefix) &&
                            point[prefix.size()] == '/')) {
      return point;
    }
  }
  return {};
}

ErrorOr<Ok> RemoveTreeOn(const fs::path& path, dev_t dev) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return Ok{};
    }
    return Error{"cannot remove " + Quote(path) + ": " + ErrnoText(errno)};
  }
  if (!S_ISDIR(st.st_mode)) {
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      return Error{"cannot remove " + Quote(path) + ": " + ErrnoText(errno)};
    }
    return Ok{};
  }
  if (st.st_dev != dev) {
    return Error{"refusing to remove " + Quote(path) +
                 ": it is on another file system (a mount left behind by a killed build?); "
                 "unmount it (`umount -R " +
                 path.string() + "`) and retry"};
  }
  // SealTree cleared the write bits; without them nobody but root could unlink the children.
  if ((st.st_mode & S_IRWXU) != S_IRWXU &&
      chmod(path.c_str(), (st.st_mode | S_IRWXU) & 07777) != 0) {
    return Error{"cannot make " + Quote(path) + " writable to remove it: " + ErrnoText(errno)};
  }
  std::vector<fs::path> children;
  std::error_code ec;
  for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    children.push_back(it->path());
  }
  if (ec) {
    return Error{"cannot list " + Quote(path) + " to remove it: " + ec.message()};
  }
  for (const fs::path& child : children) {
    if (auto removed = RemoveTreeOn(child, dev); !removed) {
      return removed;
    }
  }
  if (rmdir(path.c_str()) != 0 && errno != ENOENT) {
    return Error{"cannot remove " + Quote(path) + ": " + ErrnoText(errno)};
  }
  return Ok{};
}

}  // namespace

std::string Quote(const fs::path& path) { return "`" + path.string() + "`"; }

ErrorOr<Ok> WriteTextFile(const fs::path& path, std::string_view content, mode_t mode) {
  os::UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd.valid()) {
    return Error{"cannot create " + Quote(path) + ": " + ErrnoText(errno)};
  }
  while (!content.empty()) {
    ssize_t n = write(fd.get(), content.data(), content.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return Error{"cannot write " + Quote(path) + ": " + ErrnoText(errno)};
    }
    content.remove_prefix(static_cast<size_t>(n));
  }
  // The umask may have taken bits away at creation.
  if (fchmod(fd.get(), mode) != 0) {
    return Error{"cannot set the mode of " + Quote(path) + ": " + ErrnoText(errno)};
  }
  return Ok{};
}

ErrorOr<Ok> MakeDir(const fs::path& path, mode_t mode) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) {
    return Error{"cannot create directory " + Quote(path) + ": " + ec.message()};
  }
  if (chmod(path.c_str(), mode) != 0) {
    return Error{"cannot set the mode of " + Quote(path) + ": " + ErrnoText(errno)};
  }
  return Ok{};
}

ErrorOr<Ok> SealTree(const fs::path& root) {
  auto seal = [](const fs::path& path) -> ErrorOr<Ok> {
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) {
      return Error{"cannot stat " + Quote(path) + ": " + ErrnoText(errno)};
    }
    if (S_ISLNK(st.st_mode)) {
      return Ok{};
    }
    mode_t sealed = st.st_mode & 07777 & ~(kWriteBits | S_ISUID | S_ISGID);
    if (sealed != (st.st_mode & 07777) && chmod(path.c_str(), sealed) != 0) {
      return Error{"cannot make " + Quote(path) + " read-only: " + ErrnoText(errno)};
    }
    return Ok{};
  };
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (auto sealed = seal(it->path()); !sealed) {
      return sealed;
    }
  }
  if (ec) {
    return Error{"cannot walk " + Quote(root) + ": " + ec.message()};
  }
  return seal(root);
}

ErrorOr<Ok> RemoveTree(const fs::path& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return Ok{};
    }
    return Error{"cannot remove " + Quote(path) + ": " + ErrnoText(errno)};
  }
  if (S_ISDIR(st.st_mode)) {
    std::error_code ec;
    fs::path canonical = fs::canonical(path, ec);
    if (ec) {
      return Error{"cannot resolve " + Quote(path) + ": " + ec.message()};
    }
    if (std::string point = MountPointUnder(canonical); !point.empty()) {
      return Error{"refusing to remove " + Quote(path) + ": " + Quote(point) +
                   " is mounted inside it (left by a killed build?); unmount it (`umount -R " +
                   canonical.string() + "`) and retry"};
    }
  }
  return RemoveTreeOn(path, st.st_dev);
}

ErrorOr<Ok> RefuseSymlinkedPath(const fs::path& root, std::string_view relative) {
  fs::path at = root;
  for (const fs::path& part : fs::path(relative)) {
    at /= part;
    struct stat st {};
    if (lstat(at.c_str(), &st) != 0) {
      if (errno == ENOENT) {
        return Ok{};
      }
      return Error{"cannot stat " + Quote(at) + ": " + ErrnoText(errno)};
    }
    if (S_ISLNK(st.st_mode)) {
      return Error{"the built tree's " + Quote(fs::relative(at, root)) +
                   " is a symlink where mvm writes or removes `" + std::string(relative) +
                   "`; a tree from the builder may not redirect the host through a link"};
    }
  }
  return Ok{};
}

}  // namespace mvm::runtime::rootfs
