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
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes();

  std::string_view view() const { return {data_, size_}; }
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

/// The store at `<state>/secrets/`. Thread-compatible; several processes may use one store (writes
/// publish whole files atomically).
class Store {
 public:
  /// Opens the store in `dir`, creating it (mode 0700) and its key (32 random bytes, mode 0600)
  /// on first use. An Error when the key file exists with a wrong size or mode.
  static ErrorOr<Store> Open(const std::filesystem::path& dir);

  /// Adds or replaces `name`. Replacing keeps the grants and the creation time.
  ErrorOr<Ok> Set(std::string_view name, std::string_view value);
  /// The value of `name`, decrypted into locked memory. An Error naming the secret (never the
  /// value) when it does not exist or does not decrypt (tampered, or another store's key).
  ErrorOr<SecretBytes> Get(std::string_view name) const;
  ErrorOr<SecretInfo> Info(std::string_view name) const;
  /// Every secret, sorted by name.
  ErrorOr<std::vector<SecretInfo>> List() const;
  ErrorOr<Ok> Remove(std::string_view name);
  /// Adding a grant that exists, or removing one that does not, is an Error.
  ErrorOr<Ok> AddGrant(std::string_view name, const Grant& grant);
  ErrorOr<Ok> RemoveGrant(std::string_view name, const Grant& grant);

 private:
  explicit Store(std::filesystem::path dir);
  std::filesystem::path dir_;
};

/// Marks this process as holding secrets: not dumpable (no core file, no ptrace by an equal uid,
/// /proc/self/mem and environ unreadable to others) and RLIMIT_CORE 0.
ErrorOr<Ok> HoldSecrets();

/// What every token starts with, so that a token is recognisable in logs and requests.
inline constexpr std::string_view kTokenPrefix = "mvmtok-";
/// kTokenPrefix and 32 random characters of `a-z2-7` (160 bits): usable as a DNS label, a header
/// value and a path segment. Fresh on every call.
std::string MintToken();

}  // namespace mvm::runtime::secrets

#endif  // MVM_RUNTIME_SECRETS_SECRETS_H_
