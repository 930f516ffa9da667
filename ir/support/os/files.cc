#include "ir/support/os/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "ir/support/os/errno_text.h"
#include "ir/support/os/unique_fd.h"
#include "ir/support/os/write_all.h"

namespace mvm::os {

ErrorOr<std::string> ReadFileBounded(const std::filesystem::path& path, int64_t limit) {
  const std::string quoted = "`" + path.string() + "`";
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    return Error{"cannot read " + quoted + ": " + ErrnoText(errno)};
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Error{quoted + " is not a regular file"};
  }
  if (st.st_size > limit) {
    return Error{quoted + " is " + std::to_string(st.st_size) + " bytes, over the limit of " +
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
      return Error{"cannot read " + quoted + ": " +
                   (n < 0 ? ErrnoText(errno) : std::string("it shrank while it was read"))};
    }
    got += static_cast<size_t>(n);
  }
  return out;
}

ErrorOr<uint64_t> CopyAll(int from, int to) {
  loff_t at = 0;
  bool in_kernel = true;
  std::vector<char> buffer;
  for (;;) {
    ssize_t n = -1;
    if (in_kernel) {
      n = ::copy_file_range(from, &at, to, nullptr, size_t{1} << 30, 0);
      if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP || errno == ENOSYS)) {
        in_kernel = false;  // e.g. a memfd into another file system: copied through this process
        buffer.resize(size_t{1} << 20);
        continue;
      }
    } else {
      n = ::pread(from, buffer.data(), buffer.size(), at);
      if (n > 0) {
        if (int err = WriteAll(to, std::string_view(buffer.data(), static_cast<size_t>(n)));
            err != 0) {
          return Error{"cannot write the copy: " + ErrnoText(err)};
        }
        at += n;
      }
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return Error{"cannot copy: " + ErrnoText(errno)};
    }
    if (n == 0) {
      return static_cast<uint64_t>(at);
    }
  }
}

}  // namespace mvm::os
