#include "ir/support/os/atomic_file.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "ir/support/os/errno_text.h"
#include "ir/support/os/unique_fd.h"
#include "ir/support/os/write_all.h"

namespace mvm::os {
namespace fs = std::filesystem;

namespace {

std::string Quote(const fs::path& path) { return "`" + path.string() + "`"; }

// A name no other writer picks: `.<name>.tmp-<16 random hex digits>` beside `path`. Random rather
// than pid-based, so two threads of one process (or a pid reused after a crash left a file behind)
// never share one; O_EXCL below catches the rest.
fs::path TempNameFor(const fs::path& path) {
  uint64_t random = 0;
  while (getrandom(&random, sizeof random, 0) != static_cast<ssize_t>(sizeof random)) {
  }
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string suffix;
  for (int i = 0; i < 16; ++i) {
    suffix += kDigits[(random >> (4 * i)) & 0xf];
  }
  return path.parent_path() / ("." + path.filename().string() + ".tmp-" + suffix);
}

}  // namespace

ErrorOr<Ok> SyncDirectory(const fs::path& dir) {
  UniqueFd fd(open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid() || fsync(fd.get()) != 0) {
    return Error{"cannot sync the directory " + Quote(dir.empty() ? "." : dir) + ": " +
                 ErrnoText(errno)};
  }
  return Ok{};
}

ErrorOr<Ok> WriteFileAtomically(const fs::path& path, std::string_view bytes, FileMode mode,
                                Durability durability) {
  const bool sync = durability == Durability::kSurvivesCrash;
  fs::path tmp;
  UniqueFd fd;
  for (int attempt = 0; !fd.valid(); ++attempt) {
    tmp = TempNameFor(path);
    fd.Reset(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode.bits));
    if (!fd.valid() && (errno != EEXIST || attempt == 16)) {
      return Error{"cannot write " + Quote(path) + ": " + ErrnoText(errno)};
    }
  }
  auto fail = [&](int error) {
    unlink(tmp.c_str());
    return Error{"cannot write " + Quote(path) + ": " + ErrnoText(error)};
  };
  if (mode.exact && fchmod(fd.get(), mode.bits) != 0) {
    return fail(errno);
  }
  if (int error = WriteAll(fd.get(), bytes); error != 0) {
    return fail(error);
  }
  // Before the rename: otherwise a crash can leave the name pointing at a file whose data never
  // reached the disk, which reads as empty.
  if (sync && fsync(fd.get()) != 0) {
    return fail(errno);
  }
  fd.Reset();
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    return fail(errno);
  }
  // The rename itself is an entry of the directory, durable only once the directory is.
  if (!sync) {
    return Ok{};
  }
  if (auto synced = SyncDirectory(path.parent_path()); !synced) {
    return Error{"wrote " + Quote(path) + ", but " + synced.error().message};
  }
  return Ok{};
}

}  // namespace mvm::os
