// A scratch directory per test. Shared by every test binary (tests/support/).
#ifndef MVM_TESTS_SUPPORT_TEMP_DIR_H_
#define MVM_TESTS_SUPPORT_TEMP_DIR_H_

#include <stdlib.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

#include "ir/support/check.h"

namespace mvm::testing {

/// A fresh directory under $TMPDIR (or /tmp), mode 0755 so that a sandbox's unprivileged uid can
/// reach what a test puts there, removed with everything in it when the object goes: read-only
/// trees (sealed templates, copies out of a Nix store) included, symlinks never followed, never
/// through a mount left inside it.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "mvm-test")
      : TempDir(std::filesystem::temp_directory_path(), prefix) {}
  /// Below `parent` (made if missing) instead: for scratch that must be on the same file system as
  /// where its result is renamed to.
  TempDir(const std::filesystem::path& parent, const std::string& prefix) {
    std::filesystem::create_directories(parent);
    std::string pattern = (parent / (prefix + "-XXXXXX")).string();
    MVM_CHECK(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
    MVM_CHECK(chmod(path_.c_str(), 0755) == 0);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    if (HasMountInside()) {
      // A mount a test (or a tool it ran, such as mmdebstrap) left inside: removing through it
      // could delete host files. Left for a person to look at.
      std::fprintf(stderr, "TempDir: not removing %s, something is mounted inside it\n",
                   path_.c_str());
      return;
    }
    std::error_code ec;
    // Directories without write permission cannot be emptied, even by root in a user namespace.
    for (auto it = std::filesystem::recursive_directory_iterator(path_, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec) && !it->is_symlink(ec)) {
        chmod(it->path().c_str(), 0755);
      }
    }
    std::filesystem::remove_all(path_, ec);
  }

  const std::filesystem::path& path() const { return path_; }

 private:
  // Whether a mount point of this process's mount namespace lies below path_.
  bool HasMountInside() const {
    std::ifstream mounts("/proc/self/mountinfo");
    const std::string prefix = path_.string() + "/";
    for (std::string line; std::getline(mounts, line);) {
      // Field 5 is the mount point, with spaces and the like escaped as \ooo.
      std::istringstream fields(line);
      std::string field;
      for (int i = 0; i < 5 && fields >> field; ++i) {
      }
      if (field.starts_with(prefix)) {
        return true;
      }
    }
    return false;
  }

  std::filesystem::path path_;
};

}  // namespace mvm::testing

#endif  // MVM_TESTS_SUPPORT_TEMP_DIR_H_
