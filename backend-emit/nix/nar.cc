// Nix archive (NAR) hashing, following the serialisation of Nix's `dumpPath` (nix/src/libutil/
// archive.cc): every string is its length as 8 bytes little-endian, the bytes, and zero padding to
// a multiple of 8.

#include "backend-emit/nix/nar.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <vector>

#include "backend-emit/plan/base64.h"
#include "ir/support/check.h"
#include "ir/support/os/errno_text.h"
#include "ir/support/os/hex.h"

namespace mvm::nix {
namespace fs = std::filesystem;

namespace {

using os::ErrnoText;

class NarHasher {
 public:
  NarHasher() {
    MVM_CHECK(sodium_init() >= 0);
    crypto_hash_sha256_init(&state_);
  }

  ErrorOr<std::string> Hash(const fs::path& root) {
    String("nix-archive-1");
    if (auto dumped = Dump(root); !dumped) {
      return dumped.error();
    }
    std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
    crypto_hash_sha256_final(&state_, digest.data());
    return "sha256:" + os::Hex(digest.data(), digest.size());
  }

 private:
  void Bytes(const void* data, size_t size) {
    crypto_hash_sha256_update(&state_, static_cast<const unsigned char*>(data), size);
  }

  void Length(uint64_t n) {
    std::array<unsigned char, 8> le{};
    for (size_t i = 0; i < le.size(); ++i) {
      le[i] = static_cast<unsigned char>(n >> (8 * i));
    }
    Bytes(le.data(), le.size());
  }

  void Pad(uint64_t n) {
    static constexpr std::array<unsigned char, 8> kZeros{};
    if (n % 8 != 0) {
      Bytes(kZeros.data(), 8 - n % 8);
    }
  }

  void String(std::string_view s) {
    Length(s.size());
    Bytes(s.data(), s.size());
    Pad(s.size());
  }

  ErrorOr<Ok> Contents(const fs::path& path, uint64_t size) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
      return Error{"cannot read `" + path.string() + "`: " + ErrnoText(errno)};
    }
    Length(size);
    std::vector<unsigned char> buffer(1 << 16);
    uint64_t done = 0;
    while (done < size) {
      ssize_t n = read(fd, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        int error = n < 0 ? errno : 0;
        close(fd);
        return Error{"cannot read `" + path.string() + "`: " +
                     (n < 0 ? ErrnoText(error) : std::string("it shrank while being hashed"))};
      }
      // A file that grew while being read is hashed at its size when opened, as Nix does; the
      // digest then fails to match whatever was recorded, which is the right outcome.
      size_t take = static_cast<size_t>(std::min<uint64_t>(static_cast<uint64_t>(n), size - done));
      Bytes(buffer.data(), take);
      done += take;
    }
    close(fd);
    Pad(size);
    return Ok{};
  }

  ErrorOr<Ok> Dump(const fs::path& path) {
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0) {
      return Error{"cannot read `" + path.string() + "`: " + ErrnoText(errno)};
    }
    String("(");
    String("type");
    if (S_ISREG(st.st_mode)) {
      String("regular");
      if ((st.st_mode & S_IXUSR) != 0) {
        String("executable");
        String("");
      }
      String("contents");
      if (auto read = Contents(path, static_cast<uint64_t>(st.st_size)); !read) {
        return read.error();
      }
    } else if (S_ISLNK(st.st_mode)) {
      std::error_code ec;
      fs::path target = fs::read_symlink(path, ec);
      if (ec) {
        return Error{"cannot read the link `" + path.string() + "`: " + ec.message()};
      }
      String("symlink");
      String("target");
      String(target.native());
    } else if (S_ISDIR(st.st_mode)) {
      String("directory");
      std::vector<std::string> names;
      std::error_code ec;
      for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
        names.push_back(it->path().filename().native());
      }
      if (ec) {
        return Error{"cannot list `" + path.string() + "`: " + ec.message()};
      }
      std::sort(names.begin(), names.end());
      for (const std::string& name : names) {
        String("entry");
        String("(");
        String("name");
        String(name);
        String("node");
        if (auto child = Dump(path / name); !child) {
          return child.error();
        }
        String(")");
      }
    } else {
      return Error{"cannot hash `" + path.string() +
                   "`: it is not a regular file, directory or symlink"};
    }
    String(")");
    return Ok{};
  }

  crypto_hash_sha256_state state_{};
};

}  // namespace

ErrorOr<std::string> NarHash(const fs::path& path) { return NarHasher().Hash(path); }

ErrorOr<std::string> SriToDigest(std::string_view sri) {
  constexpr std::string_view kPrefix = "sha256-";
  if (!sri.starts_with(kPrefix)) {
    return Error{"`" + std::string(sri) +
                 "` is not a SHA-256 hash in SRI form (`sha256-<base64>`)"};
  }
  auto raw = plan::Base64Decode(sri.substr(kPrefix.size()));
  if (!raw || raw->size() != crypto_hash_sha256_BYTES) {
    return Error{"`" + std::string(sri) +
                 "` is not a SHA-256 hash in SRI form (`sha256-<base64>`)"};
  }
  return "sha256:" + os::Hex(*raw);
}

bool IsSha256Digest(std::string_view digest) {
  constexpr std::string_view kPrefix = "sha256:";
  if (!digest.starts_with(kPrefix) || digest.size() != kPrefix.size() + 64) {
    return false;
  }
  return std::all_of(digest.begin() + kPrefix.size(), digest.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace mvm::nix
