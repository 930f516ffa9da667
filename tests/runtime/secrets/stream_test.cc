// Sealed streams (runtime/secrets/stream.h) on memory files: what opens, and every change that
// must not.

#include "runtime/secrets/stream.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "ir/support/os/unique_fd.h"
#include "ir/support/os/write_all.h"
#include "runtime/secrets/secrets.h"

namespace mvm::runtime::secrets {
namespace {
namespace fs = std::filesystem;

os::UniqueFd MemoryFile(std::string_view bytes = {}) {
  os::UniqueFd fd(::memfd_create("stream-test", MFD_CLOEXEC));
  EXPECT_TRUE(fd.valid());
  EXPECT_EQ(os::WriteAll(fd.get(), bytes), 0);
  EXPECT_EQ(::lseek(fd.get(), 0, SEEK_SET), 0);
  return fd;
}

std::string Contents(int fd) {
  std::string out;
  char buffer[65536];
  ssize_t n;
  off_t at = 0;
  while ((n = ::pread(fd, buffer, sizeof buffer, at)) > 0) {
    out.append(buffer, static_cast<size_t>(n));
    at += n;
  }
  return out;
}

SecretBytes RandomKey() {
  auto key = SecretBytes::Allocate(32);
  EXPECT_TRUE(key.ok());
  std::random_device random;
  for (size_t i = 0; i < key->size(); ++i) {
    key->data()[i] = static_cast<char>(random());
  }
  return std::move(*key);
}

std::string Sealed(std::string_view plain, const SecretBytes& key, std::string_view context) {
  os::UniqueFd in = MemoryFile(plain);
  os::UniqueFd out = MemoryFile();
  auto sealed = SealStream(in.get(), out.get(), key, context);
  EXPECT_TRUE(sealed.ok()) << sealed.error().message;
  std::string bytes = Contents(out.get());
  EXPECT_EQ(*sealed, bytes.size());
  return bytes;
}

ErrorOr<std::string> Opened(std::string_view sealed, const SecretBytes& key,
                            std::string_view context) {
  os::UniqueFd in = MemoryFile(sealed);
  os::UniqueFd out = MemoryFile();
  auto opened = OpenStream(in.get(), out.get(), key, context);
  if (!opened) {
    return opened.error();
  }
  std::string bytes = Contents(out.get());
  EXPECT_EQ(*opened, bytes.size());
  return bytes;
}

std::string Pattern(size_t size) {
  std::string out(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    out[i] = static_cast<char>((i * 131) ^ (i >> 9));
  }
  return out;
}

TEST(SealedStream, RoundTripsEverySizeAroundTheChunkBoundary) {
  SecretBytes key = RandomKey();
  for (size_t size : {size_t{0}, size_t{1}, kStreamChunk - 1, kStreamChunk, kStreamChunk + 1,
                      3 * kStreamChunk, 3 * kStreamChunk + 17}) {
    const std::string plain = Pattern(size);
    const std::string sealed = Sealed(plain, key, "test");
    auto opened = Opened(sealed, key, "test");
    ASSERT_TRUE(opened.ok()) << size << ": " << opened.error().message;
    EXPECT_EQ(*opened, plain) << size;
  }
}

TEST(SealedStream, HoldsNoPlaintext) {
  SecretBytes key = RandomKey();
  const std::string marker = "MARKER-the-guest-held-this-in-memory-";
  std::string plain;
  for (int i = 0; i < 5000; ++i) {
    plain += marker + std::to_string(i);
  }
  const std::string sealed = Sealed(plain, key, "test");
  EXPECT_EQ(sealed.find("MARKER"), std::string::npos);
  EXPECT_EQ(sealed.substr(0, 8), "mvmseal1");
}

TEST(SealedStream, RefusesAnotherKeyAnotherContextAndEveryChange) {
  SecretBytes key = RandomKey();
  const std::string plain = Pattern(2 * kStreamChunk + 100);
  const std::string sealed = Sealed(plain, key, "snapshot memory");
  EXPECT_FALSE(Opened(sealed, RandomKey(), "snapshot memory").ok());
  EXPECT_FALSE(Opened(sealed, key, "snapshot extras").ok());
  // A flipped bit in the header, in a middle chunk, in the last chunk's tag.
  for (size_t at : {size_t{10}, size_t{8 + 24 + 100}, sealed.size() - 1}) {
    std::string changed = sealed;
    changed[at] ^= 1;
    EXPECT_FALSE(Opened(changed, key, "snapshot memory").ok()) << at;
  }
  // Cut short at a chunk boundary: every chunk authenticates, but the FINAL one is missing.
  const size_t first_chunk_end = 8 + 24 + kStreamChunk + 17;
  auto cut = Opened(sealed.substr(0, first_chunk_end), key, "snapshot memory");
  ASSERT_FALSE(cut.ok());
  EXPECT_NE(cut.error().message.find("cut short"), std::string::npos) << cut.error().message;
  // Chunks swapped.
  std::string swapped = sealed.substr(0, 32) + sealed.substr(first_chunk_end, kStreamChunk + 17) +
                        sealed.substr(32, kStreamChunk + 17) +
                        sealed.substr(first_chunk_end + kStreamChunk + 17);
  EXPECT_FALSE(Opened(swapped, key, "snapshot memory").ok());
  // Bytes after the end: within the last chunk's read, also when the stream ends on a chunk
  // boundary (its FINAL chunk is then empty).
  EXPECT_FALSE(Opened(sealed + "x", key, "snapshot memory").ok());
  const std::string whole = Sealed(Pattern(2 * kStreamChunk), key, "snapshot memory");
  ASSERT_TRUE(Opened(whole, key, "snapshot memory").ok());
  EXPECT_FALSE(Opened(whole + "x", key, "snapshot memory").ok());
  EXPECT_FALSE(Opened("not sealed at all", key, "snapshot memory").ok());
}

TEST(SealedStream, SealsALargeFileInFlatMemory) {
  SecretBytes key = RandomKey();
  // 256 MiB through a pipe-sized window: the resident set must not grow with the file.
  os::UniqueFd in(::memfd_create("stream-test-in", MFD_CLOEXEC));
  ASSERT_EQ(::ftruncate(in.get(), 256 << 20), 0);  // sparse: reads as zeros, costs no memory
  os::UniqueFd out(::open(fs::temp_directory_path().c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  ASSERT_TRUE(out.valid());
  rusage before{};
  ::getrusage(RUSAGE_SELF, &before);
  auto sealed = SealStream(in.get(), out.get(), key, "large");
  ASSERT_TRUE(sealed.ok()) << sealed.error().message;
  rusage after{};
  ::getrusage(RUSAGE_SELF, &after);
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 16 * 1024) << "KiB more resident";
  // Full chunks, then an empty FINAL one: the last chunk is always the short one.
  EXPECT_EQ(*sealed, 8 + 24 + (256u << 20) + 17 * ((256u << 20) / kStreamChunk + 1));
}

/// A stream sealed chunk by chunk with libsodium directly: `chunks` are the plaintexts, the last
/// tagged FINAL. For shapes StreamSealer never makes.
std::string HandSealed(const std::vector<std::string>& chunks, const SecretBytes& key,
                       std::string_view context) {
  crypto_secretstream_xchacha20poly1305_state state;
  std::string out(kStreamHeaderBytes, '\0');
  crypto_secretstream_xchacha20poly1305_init_push(
      &state, reinterpret_cast<unsigned char*>(out.data()),
      reinterpret_cast<const unsigned char*>(key.view().data()));
  for (size_t i = 0; i < chunks.size(); ++i) {
    std::string sealed(chunks[i].size() + kStreamChunkOverhead, '\0');
    crypto_secretstream_xchacha20poly1305_push(
        &state, reinterpret_cast<unsigned char*>(sealed.data()), nullptr,
        reinterpret_cast<const unsigned char*>(chunks[i].data()), chunks[i].size(),
        reinterpret_cast<const unsigned char*>(context.data()), context.size(),
        i + 1 == chunks.size() ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
    out += sealed;
  }
  return out;
}

ErrorOr<std::string> OpenedFrom(std::string_view stream, const SecretBytes& key,
                                std::string_view context) {
  os::UniqueFd in = MemoryFile(stream);
  std::string plain;
  auto opened = OpenStreamFrom(in.get(), key, context, [&](std::string_view bytes) {
    plain += bytes;
    return ErrorOr<Ok>(Ok{});
  });
  if (!opened) {
    return opened.error();
  }
  EXPECT_EQ(*opened, plain.size());
  return plain;
}

// The sealer written to in pieces of any size: one chunk held at a time, the last chunk always
// shorter than a full one, so the plaintext size follows from the length; what opens is what went
// in, and a sink's error comes back as it was.
TEST(StreamSealer, SealsWhatIsWrittenInAnyPiecesWithTheLastChunkShort) {
  SecretBytes key = RandomKey();
  for (size_t size : {size_t{0}, size_t{5}, kStreamChunk, 2 * kStreamChunk + 3}) {
    const std::string plain = Pattern(size);
    std::string stream;
    auto sealer = StreamSealer::Start(key, "pieces", [&](std::string_view bytes) {
      stream += bytes;
      return ErrorOr<Ok>(Ok{});
    });
    ASSERT_TRUE(sealer.ok()) << sealer.error().message;
    for (size_t at = 0; at < size; at += 1000) {
      ASSERT_TRUE((*sealer)->Write(std::string_view(plain).substr(at, 1000)).ok());
    }
    ASSERT_TRUE((*sealer)->Finish().ok());
    EXPECT_EQ((*sealer)->sealed_bytes(), stream.size());
    EXPECT_EQ(StreamPlainSize(stream.size()), size) << size;
    EXPECT_EQ((stream.size() - kStreamHeaderBytes) % (kStreamChunk + kStreamChunkOverhead),
              size % kStreamChunk + kStreamChunkOverhead)
        << size << ": the last chunk is not the short one";
    auto opened = OpenedFrom(stream, key, "pieces");
    ASSERT_TRUE(opened.ok()) << size << ": " << opened.error().message;
    EXPECT_EQ(*opened, plain);
  }
  auto failing = StreamSealer::Start(key, "pieces", [](std::string_view) -> ErrorOr<Ok> {
    return Error{"disk full, says the sink"};
  });
  ASSERT_FALSE(failing.ok());
  EXPECT_EQ(failing.error().message, "disk full, says the sink");

  const std::string stream = HandSealed({Pattern(kStreamChunk), "end"}, key, "pieces");
  os::UniqueFd in = MemoryFile(stream);
  auto refused = OpenStreamFrom(in.get(), key, "pieces", [](std::string_view) -> ErrorOr<Ok> {
    return Error{"the reader stopped"};
  });
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message, "the reader stopped");
}

// Shapes the sealer never makes: a FINAL chunk that is full (what streams were before the rule)
// still opens; a short chunk that is not FINAL is refused, as changed, like any tampering.
TEST(StreamSealer, AFullFinalChunkOpensAndAShortMiddleChunkIsRefused) {
  SecretBytes key = RandomKey();
  const std::string full = Pattern(kStreamChunk);
  const std::string old = HandSealed({full, full}, key, "shape");
  auto legacy = OpenedFrom(old, key, "shape");
  ASSERT_TRUE(legacy.ok()) << legacy.error().message;
  EXPECT_EQ(*legacy, full + full);
  // Bytes after a full FINAL chunk come in a read of their own.
  auto longer = OpenedFrom(old + "x", key, "shape");
  ASSERT_FALSE(longer.ok());
  EXPECT_NE(longer.error().message.find("after its last chunk"), std::string::npos)
      << longer.error().message;

  auto short_middle = OpenedFrom(HandSealed({"short", full}, key, "shape"), key, "shape");
  ASSERT_FALSE(short_middle.ok());
  EXPECT_EQ(short_middle.error().kind, ErrorKind::kVerificationFailed);

  std::string changed = HandSealed({full, "end"}, key, "shape");
  changed[kStreamHeaderBytes + 5] ^= 1;
  auto tampered = OpenedFrom(changed, key, "shape");
  ASSERT_FALSE(tampered.ok());
  EXPECT_EQ(tampered.error().kind, ErrorKind::kVerificationFailed);
}

// Small secrets (the egress CA) sealed in memory: the same file format as SealStream's.
TEST(SealedString, RoundTripsAsASealedFileAndRefusesChanges) {
  SecretBytes key = RandomKey();
  const std::string plain = "-----BEGIN PRIVATE KEY-----\nnot really\n";
  auto sealed = SealString(plain, key, "ca");
  ASSERT_TRUE(sealed.ok()) << sealed.error().message;
  EXPECT_EQ(sealed->find("PRIVATE"), std::string::npos);
  auto as_file = Opened(*sealed, key, "ca");
  ASSERT_TRUE(as_file.ok()) << as_file.error().message;
  EXPECT_EQ(*as_file, plain);
  auto opened = OpenString(Sealed(plain, key, "ca"), key, "ca");
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(*opened, plain);
  EXPECT_FALSE(OpenString(*sealed, key, "another").ok());
  std::string changed = *sealed;
  changed.back() ^= 1;
  EXPECT_FALSE(OpenString(changed, key, "ca").ok());
  EXPECT_FALSE(OpenString(sealed->substr(0, sealed->size() - 1), key, "ca").ok());
  EXPECT_FALSE(OpenString("mvmseal1", key, "ca").ok());
}

TEST(StoreKeys, DerivedKeysDifferByPurposeAndStoreAndAreStable) {
  const fs::path root = fs::temp_directory_path() / ("mvm-stream-" + std::to_string(::getpid()));
  fs::remove_all(root);
  auto a = Store::Open(root / "a");
  auto b = Store::Open(root / "b");
  ASSERT_TRUE(a.ok() && b.ok());
  auto k1 = a->DeriveKey("snapshot");
  auto k2 = a->DeriveKey("snapshot");
  auto k3 = a->DeriveKey("egressca");
  auto k4 = b->DeriveKey("snapshot");
  ASSERT_TRUE(k1.ok() && k2.ok() && k3.ok() && k4.ok());
  EXPECT_EQ(k1->view(), k2->view());
  EXPECT_NE(k1->view(), k3->view());
  EXPECT_NE(k1->view(), k4->view());
  // Reopened, the same store derives the same key: what it sealed opens after a restart.
  auto again = Store::Open(root / "a");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->DeriveKey("snapshot")->view(), k1->view());
  fs::remove_all(root);
}

}  // namespace
}  // namespace mvm::runtime::secrets
