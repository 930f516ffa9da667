// The secret store: one encrypted file per secret beside the key that opens them all.

#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <utility>

#include "ir/support/os/atomic_file.h"
#include "ir/support/os/errno_text.h"
#include "ir/support/os/unique_fd.h"
#include "ir/support/os/utc_time.h"
#include "runtime/secrets/secrets.h"

namespace mvm::runtime::secrets {
namespace fs = std::filesystem;

namespace {

// XChaCha20-Poly1305 rather than secretbox: the AEAD's additional data binds each ciphertext to
// its secret's name, so a file copied or renamed over another secret's file fails to decrypt
// instead of handing that secret's grants a value that was never stored under its name. The
// 192-bit nonce is random per write, which is safe at any number of writes.
constexpr size_t kKeyBytes = crypto_aead_xchacha20poly1305_ietf_KEYBYTES;
constexpr size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr std::string_view kAdPrefix{"mvm-secret-v1\0", 14};
constexpr std::string_view kKeyFile = "key";
// A secret file holds at most kMaxValueBytes of ciphertext in base64 and a list of grants.
constexpr off_t kMaxSecretFileBytes = 1 << 20;

std::string AdditionalData(std::string_view name) {
  std::string ad(kAdPrefix);
  ad += name;
  return ad;
}

std::string ModeText(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

std::string Base64(const unsigned char* bytes, size_t size) {
  std::string out(sodium_base64_ENCODED_LEN(size, sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes, size, sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL sodium writes
  return out;
}

std::optional<std::string> Unbase64(const std::string& text) {
  std::string out(text.size() / 4 * 3 + 3, '\0');
  size_t size = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &size, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0) {
    return std::nullopt;
  }
  out.resize(size);
  return out;
}

// Reads `path` whole, refusing a symlink and anything implausibly large for a secret file.
ErrorOr<std::string> ReadSmallFile(const fs::path& path, bool& missing) {
  missing = false;
  os::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    missing = errno == ENOENT;
    return Error{"cannot read `" + path.string() + "`: " + os::ErrnoText(errno)};
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > kMaxSecretFileBytes) {
    return Error{"`" + path.string() +
                 "` is not a secret file (not a regular file, or over 1 MiB)"};
  }
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::read(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return Error{"cannot read `" + path.string() +
                   "`: " + (n < 0 ? os::ErrnoText(errno) : std::string("it shrank while read"))};
    }
    done += static_cast<size_t>(n);
  }
  return bytes;
}

// A secret file parsed: its metadata and its sealed value, still encrypted.
struct Sealed {
  SecretInfo info;
  std::string nonce;
  std::string ciphertext;
};

ErrorOr<Sealed> ParseSecretFile(const fs::path& path, std::string_view name,
                                const std::string& text) {
  auto bad = [&](std::string_view why) {
    return Error{"secret `" + std::string(name) + "` (`" + path.string() +
                 "`) is not a valid secret file: " + std::string(why)};
  };
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return bad("not a JSON object");
  }
  auto string_field = [&](const char* key) -> const std::string* {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
  };
  const std::string* file_name = string_field("name");
  const std::string* created = string_field("created");
  const std::string* nonce = string_field("nonce");
  const std::string* ciphertext = string_field("ciphertext");
  if (file_name == nullptr || created == nullptr || nonce == nullptr || ciphertext == nullptr) {
    return bad("`name`, `created`, `nonce` and `ciphertext` must be strings");
  }
  if (*file_name != name) {
    return bad("it names itself `" + *file_name + "`");
  }
  Sealed sealed;
  sealed.info.name = *file_name;
  sealed.info.created = *created;
  auto grants = j.find("grants");
  if (grants != j.end()) {
    if (!grants->is_array()) {
      return bad("`grants` must be an array");
    }
    for (const nlohmann::json& g : *grants) {
      if (!g.is_object() || !g.contains("workload") || !g["workload"].is_string() ||
          (g.contains("signer") && !g["signer"].is_string())) {
        return bad("each grant is {\"workload\": string, \"signer\": string}");
      }
      sealed.info.grants.push_back(
          {g["workload"].get<std::string>(), g.value("signer", std::string())});
    }
  }
  auto nonce_bytes = Unbase64(*nonce);
  auto ciphertext_bytes = Unbase64(*ciphertext);
  if (!nonce_bytes || nonce_bytes->size() != kNonceBytes) {
    return bad("`nonce` is not " + std::to_string(kNonceBytes) + " bytes of base64");
  }
  if (!ciphertext_bytes || ciphertext_bytes->size() <= kTagBytes) {
    return bad("`ciphertext` is not base64 of a sealed value");
  }
  sealed.nonce = std::move(*nonce_bytes);
  sealed.ciphertext = std::move(*ciphertext_bytes);
  return sealed;
}

std::string Serialise(const Sealed& sealed) {
  nlohmann::json grants = nlohmann::json::array();
  for (const Grant& g : sealed.info.grants) {
    grants.push_back({{"workload", g.workload}, {"signer", g.signer}});
  }
  nlohmann::json j = {
      {"name", sealed.info.name},
      {"created", sealed.info.created},
      {"grants", std::move(grants)},
      {"nonce",
       Base64(reinterpret_cast<const unsigned char*>(sealed.nonce.data()), sealed.nonce.size())},
      {"ciphertext", Base64(reinterpret_cast<const unsigned char*>(sealed.ciphertext.data()),
                            sealed.ciphertext.size())},
  };
  return j.dump(2) + "\n";
}

ErrorOr<Ok> CheckName(std::string_view name) {
  if (auto problem = NameProblem(name)) {
    return MakeError(ErrorKind::kUsage,
                     "`" + std::string(name) + "` is not a secret name: " + *problem);
  }
  return Ok{};
}

// A grant is stored as given and printed by `secret ls`, so it must stay one printable token.
ErrorOr<Ok> CheckGrant(const Grant& grant) {
  auto printable = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return c > 0x20 && c < 0x7f && c != ',' && c != '@'; });
  };
  if (grant.workload.empty() || grant.workload.size() > 128 || !printable(grant.workload) ||
      grant.signer.size() > 128 || !printable(grant.signer)) {
    return MakeError(ErrorKind::kUsage,
                     "a grant names a workload id and optionally a key id, each 1 to 128 "
                     "printable characters without spaces, `,` or `@`");
  }
  return Ok{};
}

std::string GrantText(const Grant& grant) {
  return grant.signer.empty() ? "`" + grant.workload + "`"
                              : "`" + grant.workload + "@" + grant.signer + "`";
}

// Opens the key file, refusing one that others may read or that is not a key.
ErrorOr<SecretBytes> ReadKey(const fs::path& path, bool& missing) {
  missing = false;
  os::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    missing = errno == ENOENT;
    return Error{"cannot open the secret store key `" + path.string() +
                 "`: " + os::ErrnoText(errno)};
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return Error{"cannot stat `" + path.string() + "`: " + os::ErrnoText(errno)};
  }
  if (!S_ISREG(st.st_mode) || st.st_size != static_cast<off_t>(kKeyBytes)) {
    return Error{"the secret store key `" + path.string() +
                 "` is not a key: it must be a file of " + std::to_string(kKeyBytes) +
                 " bytes; restore it from a backup (without it the secrets cannot be decrypted)"};
  }
  if ((st.st_mode & 077) != 0) {
    return Error{"the secret store key `" + path.string() + "` has mode " + ModeText(st.st_mode) +
                 ", which lets other users read it; make it private with `chmod 600 " +
                 path.string() + "` (and consider the secrets exposed)"};
  }
  auto key = SecretBytes::Allocate(kKeyBytes);
  if (!key) {
    return key.error();
  }
  size_t done = 0;
  while (done < kKeyBytes) {
    ssize_t n = ::read(fd.get(), key->data() + done, kKeyBytes - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return Error{"cannot read the secret store key `" + path.string() + "`"};
    }
    done += static_cast<size_t>(n);
  }
  return std::move(*key);
}

// Writes a fresh key under a temporary name and links it to `path`. link(2) fails when `path`
// exists, so of two processes creating the store at once exactly one key wins and the other
// process reads it; and the name only ever refers to a complete, fsync-ed key, never to a file
// a reader could catch half written (as it could with O_EXCL on `path` itself).
ErrorOr<Ok> CreateKey(const fs::path& path) {
  unsigned char random_suffix[8];
  randombytes_buf(random_suffix, sizeof random_suffix);
  char suffix[17];
  sodium_bin2hex(suffix, sizeof suffix, random_suffix, sizeof random_suffix);
  fs::path tmp = path.parent_path() / (".key.tmp-" + std::string(suffix));
  os::UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) {
    return Error{"cannot create `" + tmp.string() + "`: " + os::ErrnoText(errno)};
  }
  unsigned char key[kKeyBytes];
  crypto_aead_xchacha20poly1305_ietf_keygen(key);
  bool written = ::fchmod(fd.get(), 0600) == 0 &&
                 ::write(fd.get(), key, sizeof key) == static_cast<ssize_t>(sizeof key) &&
                 ::fsync(fd.get()) == 0;
  int write_errno = errno;
  sodium_memzero(key, sizeof key);
  fd.Reset();
  if (!written) {
    ::unlink(tmp.c_str());
    return Error{"cannot write `" + tmp.string() + "`: " + os::ErrnoText(write_errno)};
  }
  int linked = ::link(tmp.c_str(), path.c_str());
  int link_errno = errno;
  ::unlink(tmp.c_str());
  if (linked != 0 && link_errno != EEXIST) {
    return Error{"cannot create the secret store key `" + path.string() +
                 "`: " + os::ErrnoText(link_errno)};
  }
  return os::SyncDirectory(path.parent_path());
}

// Holds an exclusive flock on the store's directory while a change reads, modifies and writes a
// secret file, so two changes at once cannot lose one another (say, two grants added together).
ErrorOr<os::UniqueFd> LockDir(const fs::path& dir) {
  os::UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) {
    return Error{"cannot open `" + dir.string() + "`: " + os::ErrnoText(errno)};
  }
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) {
      return Error{"cannot lock `" + dir.string() + "`: " + os::ErrnoText(errno)};
    }
  }
  return fd;
}

Error NoSuchSecret(std::string_view name) {
  return Error{"no secret named `" + std::string(name) + "`"};
}

// `missing`, when given, is set when the secret does not exist (so Set can tell a new secret from a
// damaged file without comparing error texts).
ErrorOr<Sealed> ReadSealed(const fs::path& path, std::string_view name, bool* missing = nullptr) {
  bool absent = false;
  auto text = ReadSmallFile(path, absent);
  if (missing != nullptr) {
    *missing = absent;
  }
  if (!text) {
    return absent ? NoSuchSecret(name) : text.error();
  }
  return ParseSecretFile(path, name, *text);
}

ErrorOr<Ok> WriteSealed(const fs::path& path, const Sealed& sealed) {
  if (auto ok = os::WriteFileAtomically(path, Serialise(sealed), os::kPrivateFile); !ok) {
    return Error{"cannot write secret `" + sealed.info.name + "`: " + ok.error().message};
  }
  return Ok{};
}

}  // namespace

Store::Store(fs::path dir, SecretBytes key) : dir_(std::move(dir)), key_(std::move(key)) {}

ErrorOr<SecretBytes> Store::DeriveKey(std::string_view purpose) const {
  MVM_CHECK(purpose.size() == crypto_kdf_CONTEXTBYTES);
  static_assert(crypto_kdf_KEYBYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
  auto key = SecretBytes::Allocate(crypto_secretstream_xchacha20poly1305_KEYBYTES);
  if (!key) {
    return key.error();
  }
  char context[crypto_kdf_CONTEXTBYTES];
  std::copy(purpose.begin(), purpose.end(), context);
  if (crypto_kdf_derive_from_key(reinterpret_cast<unsigned char*>(key->data()), key->size(), 1,
                                 context,
                                 reinterpret_cast<const unsigned char*>(key_.view().data())) != 0) {
    return Error{"cannot derive a key from the secret store's"};
  }
  return key;
}

fs::path Store::PathOf(std::string_view name) const {
  MVM_CHECK(!NameProblem(name));
  return dir_ / (std::string(name) + ".json");
}

ErrorOr<Store> Store::Open(const fs::path& dir) {
  if (sodium_init() < 0) {
    return Error{"cannot initialise libsodium"};
  }
  std::error_code ec;
  fs::create_directories(dir.parent_path(), ec);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Error{"cannot create the secret store `" + dir.string() + "`: " + os::ErrnoText(errno)};
  }
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Error{"the secret store `" + dir.string() + "` is not a directory"};
  }
  // mkdir's mode is less the umask, and an older directory may be wider: the names of the
  // secrets are nobody else's business either.
  if ((st.st_mode & 07777) != 0700 && ::chmod(dir.c_str(), 0700) != 0) {
    return Error{"cannot make the secret store `" + dir.string() +
                 "` private (mode 0700): " + os::ErrnoText(errno)};
  }
  fs::path key_path = dir / kKeyFile;
  bool missing = false;
  auto key = ReadKey(key_path, missing);
  if (!key && missing) {
    // A new key would open none of the secrets already here; saying so now beats failing to
    // decrypt each of them later, at a sandbox's launch.
    fs::path encrypted;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      std::string file = it->path().filename().string();
      if (file.ends_with(".json") && !file.starts_with(".")) {
        encrypted = it->path();
        break;
      }
    }
    if (encrypted.empty()) {
      if (auto created = CreateKey(key_path); !created) {
        return created.error();
      }
    }
    // Read again either way: another process may have made the key (and stored a secret under it)
    // since the first read.
    key = ReadKey(key_path, missing);
    if (!key && missing && !encrypted.empty()) {
      return Error{"the secret store key `" + key_path.string() + "` is missing, but `" +
                   encrypted.string() +
                   "` and maybe other secrets are encrypted under it; restore the key from a "
                   "backup, or remove the secrets' files and set them again"};
    }
  }
  if (!key) {
    return key.error();
  }
  return Store(dir, std::move(*key));
}

ErrorOr<Ok> Store::Set(std::string_view name, std::string_view value, bool* replaced) {
  if (auto ok = CheckName(name); !ok) {
    return ok;
  }
  if (auto problem = ValueProblem(value)) {
    return MakeError(ErrorKind::kInvalidInput,
                     "cannot store secret `" + std::string(name) + "`: " + *problem);
  }
  auto lock = LockDir(dir_);
  if (!lock) {
    return lock.error();
  }
  fs::path path = PathOf(name);
  Sealed sealed;
  bool missing = false;
  auto old = ReadSealed(path, name, &missing);
  if (old) {
    sealed.info = std::move(old->info);
  } else if (missing) {
    sealed.info.name = std::string(name);
    sealed.info.created = os::NowUtcText(os::UtcForm::kRfc3339);
  } else {
    // A damaged file is not overwritten silently: its grants would be lost unseen.
    return Error{old.error().message + "; remove it with `mvmctl secret rm " + std::string(name) +
                 "` first"};
  }
  sealed.nonce.resize(kNonceBytes);
  randombytes_buf(sealed.nonce.data(), kNonceBytes);
  sealed.ciphertext.resize(value.size() + kTagBytes);
  std::string ad = AdditionalData(name);
  unsigned long long sealed_size = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      reinterpret_cast<unsigned char*>(sealed.ciphertext.data()), &sealed_size,
      reinterpret_cast<const unsigned char*>(value.data()), value.size(),
      reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr,
      reinterpret_cast<const unsigned char*>(sealed.nonce.data()),
      reinterpret_cast<const unsigned char*>(key_.view().data()));
  sealed.ciphertext.resize(sealed_size);
  if (auto ok = WriteSealed(path, sealed); !ok) {
    return ok;
  }
  if (replaced != nullptr) {
    *replaced = old.ok();
  }
  return Ok{};
}

ErrorOr<SecretBytes> Store::Get(std::string_view name) const {
  if (auto ok = CheckName(name); !ok) {
    return ok.error();
  }
  fs::path path = PathOf(name);
  auto sealed = ReadSealed(path, name);
  if (!sealed) {
    return sealed.error();
  }
  // Decrypted straight into locked memory: the value never sits in an ordinary buffer.
  auto value = SecretBytes::Allocate(sealed->ciphertext.size() - kTagBytes);
  if (!value) {
    return value.error();
  }
  std::string ad = AdditionalData(name);
  unsigned long long size = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(value->data()), &size, nullptr,
          reinterpret_cast<const unsigned char*>(sealed->ciphertext.data()),
          sealed->ciphertext.size(), reinterpret_cast<const unsigned char*>(ad.data()), ad.size(),
          reinterpret_cast<const unsigned char*>(sealed->nonce.data()),
          reinterpret_cast<const unsigned char*>(key_.view().data())) != 0) {
    return Error{"secret `" + std::string(name) + "` (`" + path.string() +
                 "`) does not decrypt: the file was changed, copied from another secret, or "
                 "written under another store's key; set it again with `mvmctl secret set " +
                 std::string(name) + "`"};
  }
  return std::move(*value);
}

ErrorOr<SecretInfo> Store::Info(std::string_view name) const {
  if (auto ok = CheckName(name); !ok) {
    return ok.error();
  }
  auto sealed = ReadSealed(PathOf(name), name);
  if (!sealed) {
    return sealed.error();
  }
  return std::move(sealed->info);
}

ErrorOr<std::vector<SecretInfo>> Store::List() const {
  std::vector<SecretInfo> all;
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    std::string file = it->path().filename().string();
    // Temporary files of WriteFileAtomically start with `.` and end in `.tmp-…`.
    if (!file.ends_with(".json") || file.starts_with(".")) {
      continue;
    }
    std::string name = file.substr(0, file.size() - 5);
    if (auto problem = NameProblem(name)) {
      return Error{"`" + it->path().string() + "` is in the secret store but `" + name +
                   "` is not a secret name: " + *problem + "; move it out of `" + dir_.string() +
                   "`"};
    }
    auto info = Info(name);
    if (!info) {
      return info.error();
    }
    all.push_back(std::move(*info));
  }
  if (ec) {
    return Error{"cannot list the secret store `" + dir_.string() + "`: " + ec.message()};
  }
  std::sort(all.begin(), all.end(),
            [](const SecretInfo& a, const SecretInfo& b) { return a.name < b.name; });
  return all;
}

ErrorOr<Ok> Store::Remove(std::string_view name) {
  if (auto ok = CheckName(name); !ok) {
    return ok;
  }
  auto lock = LockDir(dir_);
  if (!lock) {
    return lock.error();
  }
  fs::path path = PathOf(name);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) {
      return NoSuchSecret(name);
    }
    return Error{"cannot remove secret `" + std::string(name) + "` (`" + path.string() +
                 "`): " + os::ErrnoText(errno)};
  }
  return os::SyncDirectory(dir_);
}

ErrorOr<Ok> Store::ChangeGrants(std::string_view name,
                                const std::function<ErrorOr<Ok>(std::vector<Grant>&)>& change) {
  if (auto ok = CheckName(name); !ok) {
    return ok;
  }
  auto lock = LockDir(dir_);
  if (!lock) {
    return lock.error();
  }
  fs::path path = PathOf(name);
  auto sealed = ReadSealed(path, name);
  if (!sealed) {
    return sealed.error();
  }
  if (auto changed = change(sealed->info.grants); !changed) {
    return changed;
  }
  return WriteSealed(path, *sealed);
}

ErrorOr<Ok> Store::AddGrant(std::string_view name, const Grant& grant) {
  if (auto ok = CheckGrant(grant); !ok) {
    return ok;
  }
  return ChangeGrants(name, [&](std::vector<Grant>& grants) -> ErrorOr<Ok> {
    if (std::find(grants.begin(), grants.end(), grant) != grants.end()) {
      return MakeError(ErrorKind::kUsage, "secret `" + std::string(name) +
                                              "` is already granted to " + GrantText(grant));
    }
    grants.push_back(grant);
    std::sort(grants.begin(), grants.end(), [](const Grant& a, const Grant& b) {
      return std::tie(a.workload, a.signer) < std::tie(b.workload, b.signer);
    });
    return Ok{};
  });
}

ErrorOr<Ok> Store::RemoveGrant(std::string_view name, const Grant& grant) {
  return ChangeGrants(name, [&](std::vector<Grant>& grants) -> ErrorOr<Ok> {
    auto it = std::find(grants.begin(), grants.end(), grant);
    if (it == grants.end()) {
      std::string have;
      for (const Grant& g : grants) {
        have += (have.empty() ? "" : ", ") + GrantText(g);
      }
      return MakeError(ErrorKind::kUsage, "secret `" + std::string(name) + "` has no grant " +
                                              GrantText(grant) + " (it has " +
                                              (have.empty() ? std::string("none") : have) + ")");
    }
    grants.erase(it);
    return Ok{};
  });
}

}  // namespace mvm::runtime::secrets
