#ifndef MVM_RUNTIME_SECRETS_STREAM_H_
#define MVM_RUNTIME_SECRETS_STREAM_H_

// Files of any size sealed with a key of the host's secret store, for state kept at rest that must
// not be readable without that key: libsodium's secretstream (XChaCha20-Poly1305) in chunks, so
// that memory stays flat however large the file is, and a file cut short, reordered, spliced from
// two files or sealed for another purpose does not open.
//
// Layout: the 8-byte magic "mvmseal1", secretstream's 24-byte header, then chunks of at most
// kStreamChunk plaintext bytes, each carrying 17 bytes more; the last chunk, possibly empty, is
// tagged FINAL. Every chunk authenticates `context` as additional data.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ir/support/error_or.h"
#include "runtime/secrets/secrets.h"

namespace mvm::runtime::secrets {

inline constexpr size_t kStreamChunk = 64 * 1024;

/// Reads `in` from its current offset to its end and writes it sealed under `key` (32 bytes) to
/// `out` at its current offset; `context` names what is sealed (e.g. "snapshot memory"), so that
/// a file sealed for one purpose is not accepted for another. Returns the sealed size.
ErrorOr<uint64_t> SealStream(int in, int out, const SecretBytes& key, std::string_view context);

/// The inverse: reads a sealed stream from `in` and writes the plaintext to `out`. An Error, and
/// nothing to trust in `out`, when the stream is not sealed under `key` for `context`, was
/// changed, or ends before its FINAL chunk (truncated) or continues after it.
ErrorOr<uint64_t> OpenStream(int in, int out, const SecretBytes& key, std::string_view context);

}  // namespace mvm::runtime::secrets

#endif  // MVM_RUNTIME_SECRETS_STREAM_H_
