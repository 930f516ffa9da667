#include "runtime/oci/unpack_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "ir/support/os/errno_text.h"
#include "ir/support/os/unique_fd.h"
#include "ir/support/terminal_text.h"
#include "runtime/oci/unpack.h"

namespace mvm::runtime::oci::unpack_internal {
using os::ErrnoText;
using os::UniqueFd;

int OpenAt2(int dirfd, const std::string& path, uint64_t flags, uint64_t resolve) {
  open_how how{};
  how.flags = flags | O_CLOEXEC;
  how.resolve = resolve;
  for (int attempt = 0;; ++attempt) {
    long fd = syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how);
    if (fd < 0 && (errno == EINTR || (errno == EAGAIN && attempt < 64))) {
      continue;
    }
    return static_cast<int>(fd);
  }
}

std::string Shown(std::string_view name) {
  std::string out = EscapeForTerminal(name.substr(0, 200), TerminalEscaper::Kind::kName);
  return "`" + out + (name.size() > 200 ? "…`" : "`");
}

ErrorOr<std::vector<std::string>, std::string> SplitMember(std::string_view name) {
  if (name.size() >= PATH_MAX) {
    return std::string("the name is longer than PATH_MAX");
  }
  if (!name.empty() && name.front() == '/') {
    return std::string("absolute member names are refused");
  }
  std::vector<std::string> parts;
  while (!name.empty()) {
    size_t slash = name.find('/');
    std::string_view part = name.substr(0, slash);
    name = slash == std::string_view::npos ? std::string_view() : name.substr(slash + 1);
    if (part.empty() || part == ".") {
      continue;
    }
    if (part == "..") {
      return std::string("a `..` component is refused");
    }
    parts.emplace_back(part);
  }
  if (parts.size() > static_cast<size_t>(kMaxUnpackDepth)) {
    return std::string("the name is deeper than " + std::to_string(kMaxUnpackDepth) +
                       " components");
  }
  return parts;
}

std::string Join(const std::vector<std::string>& parts, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += (i ? "/" : "") + parts[i];
  }
  return out.empty() ? "." : out;
}

std::string Child(const std::string& key, std::string_view name) {
  return key.empty() ? std::string(name) : key + "/" + std::string(name);
}

ErrorOr<std::vector<std::string>> ListDir(int fd) {
  int copy = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (copy < 0) {
    return Error{"cannot open a directory to list it: " + ErrnoText(errno)};
  }
  DIR* dir = fdopendir(copy);
  if (dir == nullptr) {
    int err = errno;
    close(copy);
    return Error{"cannot list a directory: " + ErrnoText(err)};
  }
  std::vector<std::string> names;
  errno = 0;
  while (dirent* d = readdir(dir)) {
    std::string_view n = d->d_name;
    if (n != "." && n != "..") {
      names.emplace_back(n);
    }
  }
  int err = errno;
  closedir(dir);
  if (err != 0) {
    return Error{"cannot list a directory: " + ErrnoText(err)};
  }
  return names;
}

ErrorOr<Ok> RemoveAt(int dirfd, const std::string& name) {
  struct stat st;
  if (fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) {
      return Ok{};
    }
    return Error{"cannot inspect `" + name + "`: " + ErrnoText(errno)};
  }
  if (S_ISDIR(st.st_mode)) {
    UniqueFd fd(openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) {
      return Error{"cannot open `" + name + "` to remove it: " + ErrnoText(errno)};
    }
    auto names = ListDir(fd.get());
    if (!names) {
      return names.error();
    }
    for (const std::string& child : *names) {
      if (auto r = RemoveAt(fd.get(), child); !r) {
        return r.error();
      }
    }
  }
  if (unlinkat(dirfd, name.c_str(), S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) != 0) {
    return Error{"cannot remove `" + name + "`: " + ErrnoText(errno)};
  }
  return Ok{};
}

std::string ProcPath(int fd) {
  char buf[PATH_MAX + 1];
  std::string proc = "/proc/self/fd/" + std::to_string(fd);
  ssize_t n = readlink(proc.c_str(), buf, sizeof buf);
  return n < 0 || static_cast<size_t>(n) >= sizeof buf ? std::string()
                                                       : std::string(buf, static_cast<size_t>(n));
}

}  // namespace mvm::runtime::oci::unpack_internal
