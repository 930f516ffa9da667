// TreeDigest: the identity of a template tree.
//
// The serialisation hashed, version 1: the header "mvm-tree-v1\0", then per entry, `dir` itself
// first (as ".") and the rest sorted bytewise by relative path:
//
//     <type: d | f | l> <mode: 4 octal digits> <relative path> \0 <payload> \0
//
// with a space after the type and after the mode. The payload is a regular file's content SHA-256
// in lowercase hex, a symlink's target, or empty for a directory. Paths and targets cannot contain
// NUL and type and mode have a fixed width, so the stream parses back one way only: two trees with
// the same digest have the same entries.

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <string>
#include <vector>

#include "ir/support/check.h"
#include "ir/support/os/hex.h"
#include "ir/support/os/unique_fd.h"
#include "runtime/rootfs/rootfs.h"
#include "runtime/rootfs/tree_util.h"

namespace mvm::runtime::rootfs {
namespace fs = std::filesystem;

namespace {

struct Entry {
  std::string relative;
  mode_t mode;
};

void Absorb(crypto_hash_sha256_state& state, std::string_view bytes) {
  crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(bytes.data()),
                            bytes.size());
}

ErrorOr<std::string> FileSha256(const fs::path& path) {
  // O_NOFOLLOW: the entry was a regular file when listed; never hash what a swapped-in symlink
  // points to.
  os::UniqueFd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    return Error{"cannot open " + Quote(path) + " to hash it: " + ErrnoText(errno)};
  }
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  std::vector<unsigned char> buf(1 << 16);
  while (true) {
    ssize_t n = read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return Error{"cannot read " + Quote(path) + ": " + ErrnoText(errno)};
    }
    if (n == 0) {
      break;
    }
    crypto_hash_sha256_update(&state, buf.data(), static_cast<size_t>(n));
  }
  unsigned char hash[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&state, hash);
  return os::Hex(hash, sizeof hash);
}

ErrorOr<std::string> LinkTarget(const fs::path& path) {
  std::error_code ec;
  fs::path target = fs::read_symlink(path, ec);
  if (ec) {
    return Error{"cannot read the symlink " + Quote(path) + ": " + ec.message()};
  }
  return target.string();
}

const char* RefusedKind(mode_t mode) {
  if (S_ISCHR(mode)) {
    return "a character device";
  }
  if (S_ISBLK(mode)) {
    return "a block device";
  }
  if (S_ISFIFO(mode)) {
    return "a fifo";
  }
  if (S_ISSOCK(mode)) {
    return "a socket";
  }
  return "a file of unknown type";
}

// One entry's record, or an Error for a kind of file a template may not hold.
ErrorOr<std::string> Record(const fs::path& path, const Entry& entry) {
  char type;
  std::string payload;
  if (S_ISDIR(entry.mode)) {
    type = 'd';
  } else if (S_ISREG(entry.mode)) {
    type = 'f';
    auto hash = FileSha256(path);
    if (!hash) {
      return hash.error();
    }
    payload = std::move(*hash);
  } else if (S_ISLNK(entry.mode)) {
    type = 'l';
    auto target = LinkTarget(path);
    if (!target) {
      return target.error();
    }
    payload = std::move(*target);
  } else {
    return Error{Quote(path) + " is " + RefusedKind(entry.mode) +
                 "; a template tree may hold only directories, regular files and symlinks (the "
                 "sandbox backend provides /dev), so remove it"};
  }
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(entry.mode & 07777));
  std::string record;
  record.reserve(entry.relative.size() + payload.size() + 10);
  record += type;
  record += ' ';
  record += mode;
  record += ' ';
  record += entry.relative;
  record += '\0';
  record += payload;
  record += '\0';
  return record;
}

}  // namespace

ErrorOr<std::string> TreeDigest(const fs::path& dir) {
  MVM_CHECK(sodium_init() >= 0);
  struct stat root_stat;
  if (lstat(dir.c_str(), &root_stat) != 0) {
    return Error{"cannot hash the tree " + Quote(dir) + ": " + ErrnoText(errno)};
  }
  if (!S_ISDIR(root_stat.st_mode)) {
    return Error{"cannot hash the tree " + Quote(dir) + ": not a directory"};
  }

  std::vector<Entry> entries;
  const std::string prefix = (dir / "").native();
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string& path = it->path().native();
    MVM_CHECK(path.starts_with(prefix));
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) {
      return Error{"cannot stat " + Quote(it->path()) + ": " + ErrnoText(errno)};
    }
    entries.push_back(Entry{path.substr(prefix.size()), st.st_mode});
  }
  if (ec) {
    return Error{"cannot walk the tree " + Quote(dir) + ": " + ec.message()};
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.relative < b.relative; });

  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  Absorb(state, std::string_view("mvm-tree-v1\0", 12));
  auto root_record = Record(dir, Entry{".", root_stat.st_mode});
  MVM_CHECK(root_record.ok());  // a directory's record reads nothing
  Absorb(state, *root_record);
  for (const Entry& entry : entries) {
    auto record = Record(prefix + entry.relative, entry);
    if (!record) {
      return record.error();
    }
    Absorb(state, *record);
  }
  unsigned char hash[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&state, hash);
  return "sha256:" + os::Hex(hash, sizeof hash);
}

}  // namespace mvm::runtime::rootfs
