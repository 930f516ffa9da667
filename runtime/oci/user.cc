#include "runtime/oci/user.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <charconv>
#include <sstream>
#include <string>
#include <vector>

#include "ir/support/os/unique_fd.h"

namespace mvm::runtime::oci {
namespace {

constexpr uint32_t kMaxId = 65535;

// A file of the image, read with its path resolved inside the image, so that an `etc -> /etc`
// symlink in it reads the image's own file and never the host's. Empty when missing.
std::string ReadInRoot(const std::filesystem::path& rootfs, const char* relative) {
  os::UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) {
    return {};
  }
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  os::UniqueFd fd(static_cast<int>(::syscall(SYS_openat2, root.get(), relative, &how, sizeof how)));
  if (!fd.valid()) {
    return {};
  }
  std::string out;
  char buf[8192];
  ssize_t n;
  while ((n = ::read(fd.get(), buf, sizeof buf)) > 0 && out.size() < (4u << 20)) {
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::optional<uint32_t> Number(std::string_view s) {
  uint32_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
    return std::nullopt;
  }
  return v;
}

std::vector<std::string> Fields(const std::string& line) {
  std::vector<std::string> out;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, ':')) {
    out.push_back(field);
  }
  return out;
}

}  // namespace

ErrorOr<std::optional<ImageUser>> ResolveImageUser(const std::filesystem::path& rootfs,
                                                   std::string_view user) {
  if (user.empty()) {
    return std::optional<ImageUser>();
  }
  std::string_view name = user.substr(0, user.find(':'));
  std::string_view group = user.find(':') == std::string_view::npos
                               ? std::string_view()
                               : user.substr(user.find(':') + 1);
  ImageUser out;
  bool have_gid = false;
  std::string passwd = ReadInRoot(rootfs, "etc/passwd");
  std::istringstream lines(passwd);
  std::string line;
  std::optional<uint32_t> uid = Number(name);
  bool found = false;
  while (std::getline(lines, line)) {
    std::vector<std::string> f = Fields(line);
    if (f.size() < 4) {
      continue;
    }
    auto entry_uid = Number(f[2]);
    auto entry_gid = Number(f[3]);
    if (!entry_uid || !entry_gid) {
      continue;
    }
    if ((uid && *entry_uid == *uid) || (!uid && f[0] == name)) {
      out.uid = *entry_uid;
      out.gid = *entry_gid;
      have_gid = true;
      found = true;
      break;
    }
  }
  if (!found) {
    if (!uid) {
      return Error{"the image's User `" + std::string(user) + "` names user `" + std::string(name) +
                   "`, which its /etc/passwd does not list"};
    }
    out.uid = *uid;
  }
  if (!group.empty()) {
    if (auto gid = Number(group)) {
      out.gid = *gid;
    } else {
      std::string groups = ReadInRoot(rootfs, "etc/group");
      std::istringstream glines(groups);
      bool group_found = false;
      while (std::getline(glines, line)) {
        std::vector<std::string> f = Fields(line);
        if (f.size() >= 3 && f[0] == group) {
          if (auto entry_gid = Number(f[2])) {
            out.gid = *entry_gid;
            group_found = true;
            break;
          }
        }
      }
      if (!group_found) {
        return Error{"the image's User `" + std::string(user) + "` names group `" +
                     std::string(group) + "`, which its /etc/group does not list"};
      }
    }
  } else if (!have_gid) {
    out.gid = 0;
  }
  if (out.uid > kMaxId || out.gid > kMaxId) {
    return Error{"the image's User `" + std::string(user) + "` is uid " + std::to_string(out.uid) +
                 " gid " + std::to_string(out.gid) + "; a sandbox maps ids 0 to " +
                 std::to_string(kMaxId) + " only"};
  }
  return std::optional<ImageUser>(out);
}

}  // namespace mvm::runtime::oci
