#include "runtime/secrets/stream.h"

#include <sodium.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "ir/support/os/errno_text.h"
#include "ir/support/os/write_all.h"

namespace mvm::runtime::secrets {
namespace {

constexpr std::string_view kMagic = "mvmseal1";
constexpr size_t kSealedChunk = kStreamChunk + crypto_secretstream_xchacha20poly1305_ABYTES;

/// Reads until `size` bytes or the end of `fd`; how many were read, or -1 (errno set).
ssize_t ReadFull(int fd, unsigned char* data, size_t size) {
  size_t got = 0;
  while (got < size) {
    ssize_t n = ::read(fd, data + got, size - got);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return -1;
    }
    if (n == 0) {
      break;
    }
    got += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(got);
}

ErrorOr<Ok> Write(int fd, const unsigned char* data, size_t size) {
  if (int err = os::WriteAll(fd, std::string_view(reinterpret_cast<const char*>(data), size));
      err != 0) {
    return Error{"cannot write: " + os::ErrnoText(err)};
  }
  return Ok{};
}

const unsigned char* Bytes(std::string_view text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}

}  // namespace

ErrorOr<uint64_t> SealStream(int in, int out, const SecretBytes& key, std::string_view context) {
  if (key.size() != crypto_secretstream_xchacha20poly1305_KEYBYTES) {
    return Error{"a sealing key is " +
                 std::to_string(crypto_secretstream_xchacha20poly1305_KEYBYTES) + " bytes"};
  }
  crypto_secretstream_xchacha20poly1305_state state;
  unsigned char header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
  crypto_secretstream_xchacha20poly1305_init_push(&state, header, Bytes(key.view()));
  if (auto ok = Write(out, Bytes(kMagic), kMagic.size()); !ok) {
    return ok.error();
  }
  if (auto ok = Write(out, header, sizeof header); !ok) {
    return ok.error();
  }
  uint64_t total = kMagic.size() + sizeof header;
  std::vector<unsigned char> plain(kStreamChunk);
  std::vector<unsigned char> next(kStreamChunk);
  std::vector<unsigned char> sealed(kSealedChunk);
  // One chunk read ahead, so that the last one is known to be last when it is sealed.
  ssize_t n = ReadFull(in, plain.data(), plain.size());
  for (;;) {
    if (n < 0) {
      return Error{"cannot read what is to be sealed: " + os::ErrnoText(errno)};
    }
    ssize_t m = static_cast<size_t>(n) == plain.size() ? ReadFull(in, next.data(), next.size()) : 0;
    if (m < 0) {
      return Error{"cannot read what is to be sealed: " + os::ErrnoText(errno)};
    }
    const unsigned char tag =
        m == 0 ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : static_cast<unsigned char>(0);
    unsigned long long sealed_size = 0;
    crypto_secretstream_xchacha20poly1305_push(&state, sealed.data(), &sealed_size, plain.data(),
                                               static_cast<size_t>(n), Bytes(context),
                                               context.size(), tag);
    if (auto ok = Write(out, sealed.data(), static_cast<size_t>(sealed_size)); !ok) {
      return ok.error();
    }
    total += sealed_size;
    if (m == 0) {
      break;
    }
    plain.swap(next);
    n = m;
  }
  sodium_memzero(plain.data(), plain.size());
  sodium_memzero(next.data(), next.size());
  sodium_memzero(&state, sizeof state);
  return total;
}

ErrorOr<uint64_t> OpenStream(int in, int out, const SecretBytes& key, std::string_view context) {
  if (key.size() != crypto_secretstream_xchacha20poly1305_KEYBYTES) {
    return Error{"a sealing key is " +
                 std::to_string(crypto_secretstream_xchacha20poly1305_KEYBYTES) + " bytes"};
  }
  unsigned char start[kMagic.size() + crypto_secretstream_xchacha20poly1305_HEADERBYTES];
  ssize_t n = ReadFull(in, start, sizeof start);
  if (n < 0) {
    return Error{"cannot read the sealed file: " + os::ErrnoText(errno)};
  }
  if (static_cast<size_t>(n) != sizeof start ||
      std::string_view(reinterpret_cast<const char*>(start), kMagic.size()) != kMagic) {
    return Error{"not a sealed file (no `mvmseal1` header)"};
  }
  crypto_secretstream_xchacha20poly1305_state state;
  if (crypto_secretstream_xchacha20poly1305_init_pull(&state, start + kMagic.size(),
                                                      Bytes(key.view())) != 0) {
    return Error{"the sealed file's header is invalid"};
  }
  std::vector<unsigned char> sealed(kSealedChunk);
  std::vector<unsigned char> plain(kStreamChunk);
  uint64_t total = 0;
  for (;;) {
    n = ReadFull(in, sealed.data(), sealed.size());
    if (n < 0) {
      return Error{"cannot read the sealed file: " + os::ErrnoText(errno)};
    }
    if (n == 0) {
      return Error{"the sealed file ends before its last chunk: it was cut short"};
    }
    unsigned long long plain_size = 0;
    unsigned char tag = 0;
    if (crypto_secretstream_xchacha20poly1305_pull(&state, plain.data(), &plain_size, &tag,
                                                   sealed.data(), static_cast<size_t>(n),
                                                   Bytes(context), context.size()) != 0) {
      return Error{"the sealed file does not open with this key for " + std::string(context) +
                   ": it was changed, or sealed by another host or for another purpose"};
    }
    if (auto ok = Write(out, plain.data(), static_cast<size_t>(plain_size)); !ok) {
      return ok.error();
    }
    total += plain_size;
    if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
      break;
    }
  }
  unsigned char extra = 0;
  n = ReadFull(in, &extra, 1);
  sodium_memzero(plain.data(), plain.size());
  sodium_memzero(&state, sizeof state);
  if (n != 0) {
    return Error{"the sealed file continues after its last chunk"};
  }
  return total;
}

}  // namespace mvm::runtime::secrets
