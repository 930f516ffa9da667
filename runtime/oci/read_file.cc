#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ir/support/os/errno_text.h"
#include "ir/support/os/unique_fd.h"
#include "runtime/oci/oci.h"
#include "runtime/rootfs/tree_util.h"

namespace mvm::runtime::oci {

using rootfs::Quote;

ErrorOr<std::string> ReadBounded(const std::filesystem::path& path, int64_t limit) {
  os::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    return Error{"cannot read " + Quote(path) + ": " + os::ErrnoText(errno)};
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Error{Quote(path) + " is not a regular file"};
  }
  if (st.st_size > limit) {
    return Error{Quote(path) + " is " + std::to_string(st.st_size) + " bytes, over the limit of " +
                 std::to_string(limit)};
  }
  std::string out(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::read(fd.get(), out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return Error{"cannot read " + Quote(path) + ": " + os::ErrnoText(errno)};
    }
    got += static_cast<size_t>(n);
  }
  return out;
}

}  // namespace mvm::runtime::oci
