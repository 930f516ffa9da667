#ifndef MVM_TESTS_RUNTIME_ROOTFS_ROOTFS_TEST_UTIL_H_
#define MVM_TESTS_RUNTIME_ROOTFS_ROOTFS_TEST_UTIL_H_

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace mvm::runtime::rootfs::testing {

inline bool IsRoot() { return geteuid() == 0; }

/// The entries of `root` owned by an id above a sandbox's range (path uid:gid, a line each; the
/// first few): a tree the builder made belongs to its own root, not to the builder's root, which is
/// host uid 100000 and the root of every container sandbox too.
inline std::string ForeignOwners(const std::filesystem::path& root) {
  std::string out;
  for (auto it = std::filesystem::recursive_directory_iterator(root);
       it != std::filesystem::recursive_directory_iterator() && out.size() < 2000; ++it) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0) {
      out += it->path().string() + " cannot be read\n";
    } else if (st.st_uid >= 65536 || st.st_gid >= 65536) {
      out += it->path().string() + " " + std::to_string(st.st_uid) + ":" +
             std::to_string(st.st_gid) + "\n";
    }
  }
  return out;
}

}  // namespace mvm::runtime::rootfs::testing

#endif  // MVM_TESTS_RUNTIME_ROOTFS_ROOTFS_TEST_UTIL_H_
