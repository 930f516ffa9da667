#include "cli/output_files.h"

#include <cerrno>
#include <fstream>
#include <string>

#include "ir/support/os/errno_text.h"

namespace mvm::cli {
namespace fs = std::filesystem;

ErrorOr<std::string> ReadWholeFile(const fs::path& path, uintmax_t max_bytes) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    return Error{"cannot read `" + path.string() + "`: it is a directory"};
  }
  if (uintmax_t size = fs::file_size(path, ec); !ec && size > max_bytes) {
    return Error{"cannot read `" + path.string() + "`: it is " + std::to_string(size) +
                 " bytes, more than the " + std::to_string(max_bytes) + " an mvm plan may have"};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error{"cannot read `" + path.string() + "`: " + os::ErrnoText(errno)};
  }
  // Bounded again while reading: the size checked above may not be the size read (a FIFO, a file
  // that grows).
  std::string out;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    out.append(buf, static_cast<size_t>(in.gcount()));
    if (out.size() > max_bytes) {
      return Error{"cannot read `" + path.string() + "`: it is larger than the " +
                   std::to_string(max_bytes) + " bytes an mvm plan may have"};
    }
  }
  if (in.bad()) {
    return Error{"cannot read `" + path.string() + "`"};
  }
  return out;
}

}  // namespace mvm::cli
