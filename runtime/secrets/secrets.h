#ifndef MVM_RUNTIME_SECRETS_SECRETS_H_
#define MVM_RUNTIME_SECRETS_SECRETS_H_

// The host's secret store and the opaque tokens that stand for its values inside a sandbox.
//
// A value lives encrypted at rest under `<state>/secrets/` and in clear only in locked memory
// (SecretBytes) of the one process that substitutes it: a sandbox's egress helper. Plans, IR,
// records, audit, logs and tokens hold a secret's name, never its value (docs/security-model.md).

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/support/error_or.h"

namespace mvm::runtime::secrets {

/// Bytes in memory from sodium_malloc: locked (never swapped out), between guard pages, wiped when
/// freed. Move-only; never printed.
class SecretBytes {
 public:
  SecretBytes() = default;
  /// A copy of `bytes` in locked memory; an Error when the memory cannot be had or locked.
  static ErrorOr<SecretBytes> Copy(std::string_view bytes);
  /// `size` bytes of locked memory (zeroed), for a reader or decrypter to fill in place through
  /// data(), so that a value never passes through ordinary memory on its way in.
  static ErrorOr<SecretBytes> Allocate(size_t size);
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes();

  std::string_view view() const { return {data_, size_}; }
  char* data() { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
};

/// Why a value cannot be a secret, or nothing: empty, longer than kMaxValueBytes, or holding a
/// byte outside printable ASCII (0x20–0x7e). Values are sent in HTTP headers, where CR, LF or NUL
/// would end or split a header.
inline constexpr size_t kMaxValueBytes = 16 * 1024;
std::optional<std::string> ValueProblem(std::string_view value);

/// Why `name` cannot name a secret, or nothing: 1–128 characters of `A-Za-z0-9._-`, starting with
/// a letter or digit.
std::optional<std::string> NameProblem(std::string_view name);

/// Who may receive a secret in the production profile: a workload id, and optionally only when its
/// plan was signed by one key (its key id, as `mvmctl key` prints it).
struct Grant {
  std::string workload;
  std::string signer;  ///< empty: any key the trust store accepts
  friend bool operator==(const Grant&, const Grant&) = default;
};

/// A secret as `secret ls` shows it: never its value.
struct SecretInfo {
  std::string name;
  std::string created;  ///< RFC 3339 UTC, seconds
  std::vector<Grant> grants;
};

/// The store at `<state>/secrets/`. Thread-compatible and move-only; several processes may use one
/// store (writes publish whole files atomically, and read-modify-write changes hold an flock on the
/// directory).
class Store {
 public:
  /// Opens the store in `dir`, creating it (mode 0700) and its key (32 random bytes, mode 0600)
  /// on first use. An Error when the key file exists with a wrong size or mode.
  static ErrorOr<Store> Open(const std::filesystem::path& dir);
  /// The directory it was opened in.
  const std::filesystem::path& dir() const { return dir_; }
  /// Where the secret `name` is kept (whether or not it exists); `name` must pass NameProblem.
  std::filesystem::path PathOf(std::string_view name) const;

  /// Adds or replaces `name` (an Error of kind `usage` for a bad name, `invalid-input` for a bad
  /// value). Replacing keeps the grants and the creation time; `replaced`, when given, says which.
  ErrorOr<Ok> Set(std::string_view name, std::string_view value, bool* replaced = nullptr);
  /// The value of `name`, decrypted into locked memory. An Error naming the secret (never the
  /// value) when it does not exist or does not decrypt (tampered, renamed, or another store's
  /// key).
  ErrorOr<SecretBytes> Get(std::string_view name) const;
  ErrorOr<SecretInfo> Info(std::string_view name) const;
  /// Every secret, sorted by name. Files not ending in `.json` (the key, an interrupted write's
  /// temporary file) are not secrets; a `.json` file that is not a valid secret is an Error.
  ErrorOr<std::vector<SecretInfo>> List() const;
  /// Removes `name`; an Error when there is none (Info tells a caller which).
  ErrorOr<Ok> Remove(std::string_view name);
  /// Adding a grant that exists, or removing one that does not, is an Error of kind `usage`.
  ErrorOr<Ok> AddGrant(std::string_view name, const Grant& grant);
  ErrorOr<Ok> RemoveGrant(std::string_view name, const Grant& grant);
  /// A key for `purpose` (exactly 8 characters: libsodium's KDF context) derived from the store's
  /// key with crypto_kdf, for state the host keeps sealed at rest (stream.h): it opens only where
  /// this store's key is, and is never the key that seals the secrets' values themselves.
  ErrorOr<SecretBytes> DeriveKey(std::string_view purpose) const;

 private:
  Store(std::filesystem::path dir, SecretBytes key);
  /// Reads `name`'s grants under the store's lock, lets `change` edit them, and writes them back
  /// unless it returns an Error.
  ErrorOr<Ok> ChangeGrants(std::string_view name,
                           const std::function<ErrorOr<Ok>(std::vector<Grant>&)>& change);
  std::filesystem::path dir_;
  SecretBytes key_;  ///< crypto_aead_xchacha20poly1305_ietf_KEYBYTES, in locked memory
};

/// Marks this process as holding secrets: not dumpable (no core file, no ptrace by an equal uid,
/// /proc/self/mem and environ unreadable to others) and RLIMIT_CORE 0.
ErrorOr<Ok> HoldSecrets();

/// What every token starts with, so that a token is recognisable in logs and requests.
inline constexpr std::string_view kTokenPrefix = "mvmtok-";
/// How long every token is.
inline constexpr size_t kTokenSize = kTokenPrefix.size() + 32;
/// kTokenPrefix and 32 random characters of `a-z2-7` (160 bits): usable as a DNS label, a header
/// value and a path segment. Fresh on every call.
std::string MintToken();

}  // namespace mvm::runtime::secrets

#endif  // MVM_RUNTIME_SECRETS_SECRETS_H_
