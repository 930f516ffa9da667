#ifndef MVM_BACKEND_EMIT_PLAN_KEYS_H_
#define MVM_BACKEND_EMIT_PLAN_KEYS_H_

#include <array>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "ir/support/error_or.h"

namespace mvm::plan {

inline constexpr size_t kPublicKeyBytes = 32;  ///< crypto_sign_PUBLICKEYBYTES
inline constexpr size_t kSecretKeyBytes = 64;  ///< crypto_sign_SECRETKEYBYTES: seed || public key
inline constexpr size_t kSeedBytes = 32;       ///< crypto_sign_SEEDBYTES
inline constexpr size_t kSignatureBytes = 64;  ///< crypto_sign_BYTES

/// An Ed25519 public key: 32 raw bytes. A plain value.
struct PublicKey {
  std::array<unsigned char, kPublicKeyBytes> bytes{};

  /// The key id: the first 16 hex digits of SHA-256 over the 32 raw bytes.
  std::string KeyId() const;
  /// The `.pub` file form: base64 of the raw bytes and a newline.
  std::string ToFileText() const;

  friend bool operator==(const PublicKey&, const PublicKey&) = default;
};

/// An Ed25519 secret key in libsodium's 64-byte form. Move-only; the bytes are wiped when it goes
/// away, so a key does not linger in freed memory.
class SecretKey {
 public:
  /// A new random key (libsodium's CSPRNG).
  static SecretKey Generate();
  /// The key whose 32-byte seed is `seed` (RFC 8032's "secret key"); deterministic, for test
  /// vectors.
  static SecretKey FromSeed(const std::array<unsigned char, kSeedBytes>& seed);
  /// Reads libsodium's 64-byte form. An Error when the public half is not the one the seed derives,
  /// i.e. the bytes are corrupt or were spliced from two keys.
  static ErrorOr<SecretKey> FromBytes(std::string_view bytes);

  SecretKey(SecretKey&& other) noexcept;
  SecretKey& operator=(SecretKey&& other) noexcept;
  SecretKey(const SecretKey&) = delete;
  SecretKey& operator=(const SecretKey&) = delete;
  ~SecretKey();

  PublicKey public_key() const;
  std::string KeyId() const { return public_key().KeyId(); }

  /// The 64-byte detached Ed25519 signature of `message`.
  std::string Sign(std::string_view message) const;

  /// The `.key` file form: base64 of the 64 bytes and a newline. Holds the secret; callers wipe it.
  std::string ToFileText() const;

 private:
  SecretKey() = default;
  std::array<unsigned char, kSecretKeyBytes> bytes_{};
};

/// True when `signature` (64 raw bytes) is `key`'s Ed25519 signature of `message`. Uses libsodium's
/// strict verification (it refuses non-canonical and small-order encodings).
bool VerifySignature(const PublicKey& key, std::string_view message, std::string_view signature);

/// Parses the text of a `.pub` file: one line of canonical base64 of 32 bytes, optionally ending in
/// one newline. `what` names the source in the Error ("`keys/mvm.pub`").
ErrorOr<PublicKey> ParsePublicKey(std::string_view text, std::string_view what);

/// Reads a `.pub` file.
ErrorOr<PublicKey> LoadPublicKey(const std::filesystem::path& path);

/// Reads a `.key` file. Refused, before its contents are read, when the file is not a regular file
/// or when group or others have any access to it: a signing key others can read is no longer
/// secret, and one they can write can be swapped for theirs.
ErrorOr<SecretKey> LoadSecretKey(const std::filesystem::path& path);

/// Where SaveKeyPair put the files.
struct SavedKeyPair {
  std::filesystem::path secret_path;  ///< DIR/NAME.key, mode 0600
  std::filesystem::path public_path;  ///< DIR/NAME.pub, mode 0644
};

/// Writes DIR/NAME.key (mode 0600 whatever the umask) and DIR/NAME.pub, creating DIR (mode 0700)
/// when missing. Never overwrites: an existing file of either name is an Error, so a key that
/// signed plans in use cannot be lost to a repeated `key gen`.
ErrorOr<SavedKeyPair> SaveKeyPair(const SecretKey& key, const std::filesystem::path& dir,
                                  std::string_view name);

}  // namespace mvm::plan

#endif  // MVM_BACKEND_EMIT_PLAN_KEYS_H_
