#include "runtime/secrets/stream.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "ir/support/os/errno_text.h"
#include "ir/support/os/write_all.h"

namespace mvm::runtime::secrets {
namespace {

constexpr std::string_view kMagic = "mvmseal1";
constexpr size_t kSealedChunk = kStreamChunk + kStreamChunkOverhead;

/// Fills as much of a buffer as there is data for; fewer bytes only at the end.
using Source = std::function<ErrorOr<size_t>(unsigned char*, size_t)>;

Source FdSource(int fd) {
  return [fd](unsigned char* data, size_t size) -> ErrorOr<size_t> {
    size_t got = 0;
    while (got < size) {
      ssize_t n = ::read(fd, data + got, size - got);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0) {
        return Error{"cannot read the sealed data: " + os::ErrnoText(errno)};
      }
      if (n == 0) {
        break;
      }
      got += static_cast<size_t>(n);
    }
    return got;
  };
}

StreamSink FdSink(int fd) {
  return [fd](std::string_view bytes) -> ErrorOr<Ok> {
    if (int err = os::WriteAll(fd, bytes); err != 0) {
      return Error{"cannot write: " + os::ErrnoText(err)};
    }
    return Ok{};
  };
}

const unsigned char* Bytes(std::string_view text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}

ErrorOr<Ok> CheckKey(const SecretBytes& key) {
  if (key.size() != crypto_secretstream_xchacha20poly1305_KEYBYTES) {
    return Error{"a sealing key is " +
                 std::to_string(crypto_secretstream_xchacha20poly1305_KEYBYTES) + " bytes"};
  }
  return Ok{};
}

Error Unverified(std::string message) {
  return MakeError(ErrorKind::kVerificationFailed, std::move(message));
}

ErrorOr<uint64_t> Open(const Source& source, const SecretBytes& key, std::string_view context,
                       const StreamSink& sink) {
  if (auto ok = CheckKey(key); !ok) {
    return ok.error();
  }
  unsigned char header[kStreamHeaderBytes];
  auto got = source(header, sizeof header);
  if (!got) {
    return got.error();
  }
  crypto_secretstream_xchacha20poly1305_state state;
  if (*got != sizeof header ||
      crypto_secretstream_xchacha20poly1305_init_pull(&state, header, Bytes(key.view())) != 0) {
    return Unverified("the sealed stream's header is invalid");
  }
  std::vector<unsigned char> sealed(kSealedChunk);
  std::vector<unsigned char> plain(kStreamChunk);
  auto wipe = [&] {
    sodium_memzero(plain.data(), plain.size());
    sodium_memzero(&state, sizeof state);
  };
  uint64_t total = 0;
  for (;;) {
    auto n = source(sealed.data(), sealed.size());
    if (!n) {
      wipe();
      return n.error();
    }
    if (*n == 0) {
      wipe();
      return Unverified("the sealed stream ends before its last chunk: it was cut short");
    }
    unsigned long long plain_size = 0;
    unsigned char tag = 0;
    if (crypto_secretstream_xchacha20poly1305_pull(&state, plain.data(), &plain_size, &tag,
                                                   sealed.data(), *n, Bytes(context),
                                                   context.size()) != 0) {
      wipe();
      return Unverified("the sealed stream does not open with this key for " +
                        std::string(context) +
                        ": it was changed, or sealed by another host or for another purpose");
    }
    const bool final = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
    // Only the last chunk is short (streams sealed before the FINAL chunk was always short may end
    // in a full one), so the plaintext size follows from the length.
    if (!final && *n < sealed.size()) {
      wipe();
      return Unverified("the sealed stream ends before its last chunk: it was cut short");
    }
    if (plain_size > 0) {
      auto taken = sink(std::string_view(reinterpret_cast<const char*>(plain.data()),
                                         static_cast<size_t>(plain_size)));
      if (!taken) {
        wipe();
        return taken.error();
      }
    }
    total += plain_size;
    if (final) {
      break;
    }
  }
  wipe();
  unsigned char extra = 0;
  auto more = source(&extra, 1);
  if (!more) {
    return more.error();
  }
  if (*more != 0) {
    return Unverified("the sealed stream continues after its last chunk");
  }
  return total;
}

/// The magic of a sealed file, read from `source` and checked.
ErrorOr<Ok> ReadMagic(const Source& source) {
  unsigned char magic[kMagic.size()];
  auto got = source(magic, sizeof magic);
  if (!got) {
    return got.error();
  }
  if (*got != sizeof magic ||
      std::string_view(reinterpret_cast<const char*>(magic), sizeof magic) != kMagic) {
    return Unverified("not a sealed file (no `mvmseal1` header)");
  }
  return Ok{};
}

}  // namespace

StreamSealer::StreamSealer(std::string context, StreamSink sink)
    : context_(std::move(context)), sink_(std::move(sink)) {
  buffer_.reserve(kStreamChunk);
  sealed_.resize(kSealedChunk);
}

StreamSealer::~StreamSealer() {
  sodium_memzero(buffer_.data(), buffer_.capacity());
  sodium_memzero(&state_, sizeof state_);
}

ErrorOr<std::unique_ptr<StreamSealer>> StreamSealer::Start(const SecretBytes& key,
                                                           std::string context, StreamSink sink) {
  if (auto ok = CheckKey(key); !ok) {
    return ok.error();
  }
  std::unique_ptr<StreamSealer> sealer(new StreamSealer(std::move(context), std::move(sink)));
  unsigned char header[kStreamHeaderBytes];
  crypto_secretstream_xchacha20poly1305_init_push(&sealer->state_, header, Bytes(key.view()));
  if (auto ok =
          sealer->sink_(std::string_view(reinterpret_cast<const char*>(header), sizeof header));
      !ok) {
    return ok.error();
  }
  sealer->sealed_bytes_ = sizeof header;
  return sealer;
}

ErrorOr<Ok> StreamSealer::Write(std::string_view plain) {
  while (!plain.empty()) {
    // A full buffer goes out only when more follows, so that Finish never seals a full FINAL chunk.
    if (buffer_.size() == kStreamChunk) {
      if (auto pushed = Push(0); !pushed) {
        return pushed;
      }
    }
    const size_t take = std::min(plain.size(), kStreamChunk - buffer_.size());
    buffer_.append(plain.substr(0, take));
    plain.remove_prefix(take);
  }
  return Ok{};
}

ErrorOr<Ok> StreamSealer::Finish() {
  if (buffer_.size() == kStreamChunk) {
    if (auto pushed = Push(0); !pushed) {
      return pushed;
    }
  }
  return Push(crypto_secretstream_xchacha20poly1305_TAG_FINAL);
}

ErrorOr<Ok> StreamSealer::Push(unsigned char tag) {
  unsigned long long sealed_size = 0;
  crypto_secretstream_xchacha20poly1305_push(
      &state_, reinterpret_cast<unsigned char*>(sealed_.data()), &sealed_size, Bytes(buffer_),
      buffer_.size(), Bytes(context_), context_.size(), tag);
  sodium_memzero(buffer_.data(), buffer_.size());
  buffer_.clear();
  sealed_bytes_ += sealed_size;
  return sink_(std::string_view(sealed_.data(), static_cast<size_t>(sealed_size)));
}

ErrorOr<uint64_t> OpenStreamFrom(int in, const SecretBytes& key, std::string_view context,
                                 const StreamSink& sink) {
  return Open(FdSource(in), key, context, sink);
}

uint64_t StreamPlainSize(uint64_t stream_size) {
  if (stream_size < kStreamHeaderBytes + kStreamChunkOverhead) {
    return 0;
  }
  const uint64_t payload = stream_size - kStreamHeaderBytes;
  const uint64_t rest = payload % kSealedChunk;
  return payload / kSealedChunk * kStreamChunk +
         (rest >= kStreamChunkOverhead ? rest - kStreamChunkOverhead : 0);
}

ErrorOr<uint64_t> SealStream(int in, int out, const SecretBytes& key, std::string_view context) {
  const StreamSink sink = FdSink(out);
  if (auto ok = CheckKey(key); !ok) {
    return ok.error();
  }
  if (auto ok = sink(kMagic); !ok) {
    return ok.error();
  }
  auto sealer = StreamSealer::Start(key, std::string(context), sink);
  if (!sealer) {
    return sealer.error();
  }
  const Source source = FdSource(in);
  std::vector<unsigned char> plain(kStreamChunk);
  ErrorOr<Ok> written = Ok{};
  for (;;) {
    auto n = source(plain.data(), plain.size());
    if (!n) {
      written = Error{"cannot read what is to be sealed: " + n.error().message};
      break;
    }
    if (*n > 0) {
      written = (*sealer)->Write(std::string_view(reinterpret_cast<const char*>(plain.data()), *n));
    }
    if (!written || *n < plain.size()) {
      break;
    }
  }
  sodium_memzero(plain.data(), plain.size());
  if (!written) {
    return written.error();
  }
  if (auto ok = (*sealer)->Finish(); !ok) {
    return ok.error();
  }
  return kMagic.size() + (*sealer)->sealed_bytes();
}

ErrorOr<uint64_t> OpenStream(int in, int out, const SecretBytes& key, std::string_view context) {
  const Source source = FdSource(in);
  if (auto ok = ReadMagic(source); !ok) {
    return ok.error();
  }
  return Open(source, key, context, FdSink(out));
}

ErrorOr<std::string> SealString(std::string_view plain, const SecretBytes& key,
                                std::string_view context) {
  std::string sealed(kMagic);
  auto sealer = StreamSealer::Start(key, std::string(context), [&](std::string_view bytes) {
    sealed.append(bytes);
    return ErrorOr<Ok>(Ok{});
  });
  if (!sealer) {
    return sealer.error();
  }
  if (auto ok = (*sealer)->Write(plain); !ok) {
    return ok.error();
  }
  if (auto ok = (*sealer)->Finish(); !ok) {
    return ok.error();
  }
  return sealed;
}

ErrorOr<std::string> OpenString(std::string_view sealed, const SecretBytes& key,
                                std::string_view context) {
  const Source source = [&sealed](unsigned char* data, size_t size) -> ErrorOr<size_t> {
    const size_t take = std::min(size, sealed.size());
    std::memcpy(data, sealed.data(), take);
    sealed.remove_prefix(take);
    return take;
  };
  if (auto ok = ReadMagic(source); !ok) {
    return ok.error();
  }
  // Reserved whole, so that no reallocation leaves a copy of the plaintext behind unzeroed.
  std::string plain;
  plain.reserve(sealed.size());
  auto opened = Open(source, key, context, [&](std::string_view bytes) {
    plain.append(bytes);
    return ErrorOr<Ok>(Ok{});
  });
  if (!opened) {
    sodium_memzero(plain.data(), plain.size());
    return opened.error();
  }
  return plain;
}

}  // namespace mvm::runtime::secrets
