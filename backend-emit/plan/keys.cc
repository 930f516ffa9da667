#include "backend-emit/plan/keys.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "backend-emit/plan/base64.h"
#include "ir/digest.h"
#include "ir/support/check.h"
#include "ir/support/os/errno_text.h"
#include "ir/support/os/unique_fd.h"

namespace mvm::plan {
namespace fs = std::filesystem;

namespace {

static_assert(kPublicKeyBytes == crypto_sign_PUBLICKEYBYTES);
static_assert(kSecretKeyBytes == crypto_sign_SECRETKEYBYTES);
static_assert(kSeedBytes == crypto_sign_SEEDBYTES);
static_assert(kSignatureBytes == crypto_sign_BYTES);

// Key and signature files are one short line; anything much bigger is not one of ours, and reading
// it whole would only waste memory.
constexpr size_t kMaxKeyFileBytes = 1024;

void InitSodium() {
  // sodium_init seeds the CSPRNG and picks CPU-specific code; a function-local static runs it once
  // even with several threads.
  static const bool initialized = sodium_init() >= 0;
  MVM_CHECK(initialized);
}

std::string Quote(const fs::path& path) { return "`" + path.string() + "`"; }

using os::ErrnoText;

// Reads the whole (small) file behind `fd`. The caller wipes the result when it is secret.
ErrorOr<std::string> ReadSmall(int fd, const fs::path& path) {
  char buf[512];
  // Reserved up front so that the string never reallocates and leaves copies of a secret behind.
  std::string out;
  out.reserve(kMaxKeyFileBytes + sizeof buf);
  while (true) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      sodium_memzero(buf, sizeof buf);
      return Error{"cannot read " + Quote(path) + ": " + ErrnoText(errno)};
    }
    if (n == 0) {
      break;
    }
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > kMaxKeyFileBytes) {
      sodium_memzero(buf, sizeof buf);
      sodium_memzero(out.data(), out.size());
      return Error{Quote(path) + " is too large to be an mvm key file"};
    }
  }
  sodium_memzero(buf, sizeof buf);
  return out;
}

// The base64 line of a key file: the text without its one optional trailing newline.
std::string_view KeyLine(std::string_view text) {
  if (!text.empty() && text.back() == '\n') {
    text.remove_suffix(1);
  }
  return text;
}

ErrorOr<Ok> WriteNewFile(const fs::path& path, std::string_view bytes, mode_t mode) {
  os::UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  if (fd.get() < 0) {
    if (errno == EEXIST) {
      return Error{Quote(path) +
                   " already exists; choose another `--name` or `--out`, or remove it "
                   "if no plan in use was signed with it"};
    }
    return Error{"cannot create " + Quote(path) + ": " + ErrnoText(errno)};
  }
  // open() applied the umask; the mode must not depend on it.
  if (fchmod(fd.get(), mode) != 0) {
    return Error{"cannot set the mode of " + Quote(path) + ": " + ErrnoText(errno)};
  }
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = write(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return Error{"cannot write " + Quote(path) + ": " + ErrnoText(errno)};
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd.get()) != 0) {
    return Error{"cannot write " + Quote(path) + ": " + ErrnoText(errno)};
  }
  return Ok{};
}

}  // namespace

std::string PublicKey::KeyId() const {
  return ir::Sha256Hex(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()))
      .substr(0, 16);
}

std::string PublicKey::ToFileText() const {
  return Base64Encode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size())) +
         "\n";
}

SecretKey SecretKey::Generate() {
  InitSodium();
  SecretKey key;
  unsigned char pk[kPublicKeyBytes];
  crypto_sign_keypair(pk, key.bytes_.data());
  return key;
}

SecretKey SecretKey::FromSeed(const std::array<unsigned char, kSeedBytes>& seed) {
  InitSodium();
  SecretKey key;
  unsigned char pk[kPublicKeyBytes];
  crypto_sign_seed_keypair(pk, key.bytes_.data(), seed.data());
  return key;
}

ErrorOr<SecretKey> SecretKey::FromBytes(std::string_view bytes) {
  if (bytes.size() != kSecretKeyBytes) {
    return Error{"expected " + std::to_string(kSecretKeyBytes) + " bytes, got " +
                 std::to_string(bytes.size())};
  }
  std::array<unsigned char, kSeedBytes> seed{};
  std::memcpy(seed.data(), bytes.data(), kSeedBytes);
  SecretKey key = FromSeed(seed);
  sodium_memzero(seed.data(), seed.size());
  if (sodium_memcmp(key.bytes_.data(), bytes.data(), kSecretKeyBytes) != 0) {
    return Error{"its public half does not match its seed; the key is corrupt"};
  }
  return key;
}

SecretKey::SecretKey(SecretKey&& other) noexcept : bytes_(other.bytes_) {
  sodium_memzero(other.bytes_.data(), other.bytes_.size());
}

SecretKey& SecretKey::operator=(SecretKey&& other) noexcept {
  if (this != &other) {
    bytes_ = other.bytes_;
    sodium_memzero(other.bytes_.data(), other.bytes_.size());
  }
  return *this;
}

SecretKey::~SecretKey() { sodium_memzero(bytes_.data(), bytes_.size()); }

PublicKey SecretKey::public_key() const {
  PublicKey pk;
  crypto_sign_ed25519_sk_to_pk(pk.bytes.data(), bytes_.data());
  return pk;
}

std::string SecretKey::Sign(std::string_view message) const {
  InitSodium();
  std::string sig(kSignatureBytes, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                       bytes_.data());
  return sig;
}

std::string SecretKey::ToFileText() const {
  return Base64Encode(
             std::string_view(reinterpret_cast<const char*>(bytes_.data()), bytes_.size())) +
         "\n";
}

bool VerifySignature(const PublicKey& key, std::string_view message, std::string_view signature) {
  InitSodium();
  if (signature.size() != kSignatureBytes) {
    return false;
  }
  return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(signature.data()),
                                     reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size(), key.bytes.data()) == 0;
}

ErrorOr<PublicKey> ParsePublicKey(std::string_view text, std::string_view what) {
  std::optional<std::string> raw = Base64Decode(KeyLine(text));
  if (!raw || raw->size() != kPublicKeyBytes) {
    return Error{std::string(what) +
                 " is not an mvm public key: expected one line of base64 of the 32-byte Ed25519 "
                 "public key, as `mvmctl key gen` writes to NAME.pub"};
  }
  PublicKey key;
  std::memcpy(key.bytes.data(), raw->data(), kPublicKeyBytes);
  return key;
}

ErrorOr<PublicKey> LoadPublicKey(const fs::path& path) {
  os::UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) {
    return Error{"cannot read public key " + Quote(path) + ": " + ErrnoText(errno)};
  }
  struct stat st {};
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Error{"public key " + Quote(path) + " is not a regular file"};
  }
  auto text = ReadSmall(fd.get(), path);
  if (!text) {
    return text.error();
  }
  return ParsePublicKey(*text, Quote(path));
}

ErrorOr<SecretKey> LoadSecretKey(const fs::path& path) {
  // O_NONBLOCK: a FIFO planted at the path must not hang the signer.
  os::UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) {
    return Error{"cannot read secret key " + Quote(path) + ": " + ErrnoText(errno)};
  }
  // fstat on the open descriptor, not stat on the path, so the checked file is the one read.
  struct stat st {};
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Error{"secret key " + Quote(path) + " is not a regular file"};
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    std::string who = (st.st_mode & 044) != 0 ? "group or others can read it"
                                              : "group or others can write or execute it";
    return Error{"refusing secret key " + Quote(path) + ": its mode is " + mode + ", so " + who +
                 "; run `chmod 600 " + path.string() + "`"};
  }
  auto text = ReadSmall(fd.get(), path);
  if (!text) {
    return text.error();
  }
  std::string raw = Base64Decode(KeyLine(*text)).value_or("");
  sodium_memzero(text->data(), text->size());
  auto key = SecretKey::FromBytes(raw);
  sodium_memzero(raw.data(), raw.size());
  if (!key && raw.size() != kSecretKeyBytes) {
    return Error{"secret key " + Quote(path) +
                 " is not an mvm secret key: expected one line of base64 of libsodium's 64-byte "
                 "Ed25519 secret key, as `mvmctl key gen` writes to NAME.key"};
  }
  if (!key) {
    return Error{"secret key " + Quote(path) + " is unusable: " + key.error().message};
  }
  return std::move(*key);
}

ErrorOr<SavedKeyPair> SaveKeyPair(const SecretKey& key, const fs::path& dir,
                                  std::string_view name) {
  SavedKeyPair saved{dir / (std::string(name) + ".key"), dir / (std::string(name) + ".pub")};
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) {
      return Error{"cannot create " + Quote(dir) + ": " + ec.message()};
    }
    // Only a directory made here is tightened; an existing one is the user's to manage.
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  }
  // Both names are checked first so that a refusal leaves no half-written pair behind.
  for (const fs::path& p : {saved.secret_path, saved.public_path}) {
    if (fs::symlink_status(p, ec).type() != fs::file_type::not_found) {
      return Error{Quote(p) +
                   " already exists; choose another `--name` or `--out`, or remove it "
                   "if no plan in use was signed with it"};
    }
  }
  std::string secret_text = key.ToFileText();
  auto wrote = WriteNewFile(saved.secret_path, secret_text, 0600);
  sodium_memzero(secret_text.data(), secret_text.size());
  if (!wrote) {
    return wrote.error();
  }
  if (auto pub = WriteNewFile(saved.public_path, key.public_key().ToFileText(), 0644); !pub) {
    fs::remove(saved.secret_path, ec);
    return pub.error();
  }
  return saved;
}

}  // namespace mvm::plan
