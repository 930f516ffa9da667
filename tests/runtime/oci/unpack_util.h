#ifndef MVM_TESTS_RUNTIME_OCI_UNPACK_UTIL_H_
#define MVM_TESTS_RUNTIME_OCI_UNPACK_UTIL_H_

// Layer tars for the unpack tests and the fuzz target's seed corpus, written with libarchive's
// writer (pax format, as image builders write them).

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace mvm::runtime::oci::testing {

/// One tar member. Names and link targets are written verbatim, hostile ones included.
struct Member {
  enum class Type { kFile, kDir, kSymlink, kHardlink, kCharDevice, kFifo };
  Type type = Type::kFile;
  std::string name;
  std::string content;  ///< a file's
  std::string link;     ///< a symlink's or a hardlink's target
  mode_t mode = 0644;
  int64_t uid = 0;
  int64_t gid = 0;
  int64_t mtime = 1'700'000'000;
  std::vector<std::pair<std::string, std::string>> xattrs;
};

Member File(std::string name, std::string content, mode_t mode = 0644);
Member Dir(std::string name, mode_t mode = 0755);
Member Symlink(std::string name, std::string target);
Member Hardlink(std::string name, std::string target);

enum class Compression { kNone, kGzip, kZstd };

/// The bytes of a tar with `members`, compressed as asked.
std::string LayerBytes(const std::vector<Member>& members, Compression compression);

/// The OCI media type of a layer compressed as `compression`.
std::string LayerMediaType(Compression compression);

}  // namespace mvm::runtime::oci::testing

#endif  // MVM_TESTS_RUNTIME_OCI_UNPACK_UTIL_H_
