#ifndef MVM_BACKEND_EMIT_PLAN_TRUST_STORE_H_
#define MVM_BACKEND_EMIT_PLAN_TRUST_STORE_H_

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "backend-emit/plan/keys.h"
#include "ir/support/error_or.h"

namespace mvm::plan {

/// A public key a verifier accepts signatures from, with where it came from (for messages).
struct TrustedKey {
  std::string key_id;
  PublicKey key;
  std::filesystem::path path;
};

/// The launcher's trust store: `$XDG_CONFIG_HOME/mvm/trust`, else `$HOME/.config/mvm/trust`. An
/// Error when neither variable is set (or XDG_CONFIG_HOME is relative, which the XDG spec says to
/// ignore).
ErrorOr<std::filesystem::path> DefaultTrustDir();

/// Every `*.pub` file in `dir`, sorted by key id. The id is computed from each key's bytes, never
/// taken from the file name, so renaming a file cannot make it stand for another key. A missing
/// directory is an empty store; an unreadable or malformed key file is an Error naming it (a
/// verifier must not silently trust less, or more, than the store says).
ErrorOr<std::vector<TrustedKey>> LoadTrustDir(const std::filesystem::path& dir);

/// The keys in the `.pub` files `files` (named on a command line: `--trust PUB`), in order, each
/// with its file; an Error naming the first that cannot be read.
ErrorOr<std::vector<TrustedKey>> LoadKeyFiles(const std::vector<std::filesystem::path>& files);

/// Adds the key in the `.pub` file `public_key_file` to the store as `dir/<key id>.pub`, creating
/// `dir` (mode 0700) when missing. Trusting a key already there is not an error.
ErrorOr<TrustedKey> TrustKey(const std::filesystem::path& dir,
                             const std::filesystem::path& public_key_file);

/// Removes every file in `dir` holding the key with id `key_id` (16 lowercase hex digits). An Error
/// when there is none.
ErrorOr<Ok> UntrustKey(const std::filesystem::path& dir, std::string_view key_id);

/// True when `text` is a well-formed key id: 16 lowercase hex digits.
bool IsKeyId(std::string_view text);

}  // namespace mvm::plan

#endif  // MVM_BACKEND_EMIT_PLAN_TRUST_STORE_H_
