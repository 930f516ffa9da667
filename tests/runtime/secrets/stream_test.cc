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
  // Bytes after the end: within the last chunk's read, or after a last chunk that is full.
  EXPECT_FALSE(Opened(sealed + "x", key, "snapshot memory").ok());
  const std::string whole = Sealed(Pattern(2 * kStreamChunk), key, "snapshot memory");
  ASSERT_TRUE(Opened(whole, key, "snapshot memory").ok());
  auto longer = Opened(whole + "x", key, "snapshot memory");
  ASSERT_FALSE(longer.ok());
  EXPECT_NE(longer.error().message.find("after its last chunk"), std::string::npos)
      << longer.error().message;
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
  EXPECT_EQ(*sealed, 8 + 24 + (256u << 20) + 17 * ((256u << 20) / kStreamChunk));
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
