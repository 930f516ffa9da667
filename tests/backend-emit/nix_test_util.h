#ifndef MVM_TESTS_BACKEND_EMIT_NIX_TEST_UTIL_H_
#define MVM_TESTS_BACKEND_EMIT_NIX_TEST_UTIL_H_

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "ir/support/check.h"

namespace mvm::nix::testing {

/// A fresh directory under $TMPDIR (or /tmp), removed with everything in it when the object goes.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "mvm-nix-test-XXXXXX").string();
    MVM_CHECK(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    // Trees copied out of a Nix store are read-only; make them writable so they can be removed.
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
  std::filesystem::path path_;
};

/// Writes `text` to `path`, creating parent directories, with permission bits `mode`.
inline void WriteFile(const std::filesystem::path& path, std::string_view text,
                      std::filesystem::perms mode = std::filesystem::perms(0644)) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  std::filesystem::permissions(path, mode);
}

}  // namespace mvm::nix::testing

#endif  // MVM_TESTS_BACKEND_EMIT_NIX_TEST_UTIL_H_
