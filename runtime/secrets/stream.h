#ifndef MVM_RUNTIME_SECRETS_STREAM_H_
#define MVM_RUNTIME_SECRETS_STREAM_H_

// Data of any size sealed with a key of the host's secret store, for state kept at rest that must
// not be readable without that key: libsodium's secretstream (XChaCha20-Poly1305) in chunks, so
// that memory stays flat however large the data is, and a stream cut short, reordered, spliced
// from two streams or sealed for another purpose does not open. The one implementation of that
// chunking: sealed files (snapshots, the egress CA) and encrypted volumes' files both use it.
//
// A stream is secretstream's 24-byte header, then chunks of kStreamChunk plaintext bytes, each
// carrying kStreamChunkOverhead bytes more; the last chunk is tagged FINAL and always shorter than
// a full one (possibly empty), so a reader knows a stream's plaintext size from its length. Every
// chunk authenticates a `context` as additional data.
//
// A sealed file is the 8-byte magic "mvmseal1" and then a stream.

#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "ir/support/error_or.h"
#include "runtime/secrets/secrets.h"

namespace mvm::runtime::secrets {

inline constexpr size_t kStreamChunk = 64 * 1024;
inline constexpr size_t kStreamHeaderBytes = crypto_secretstream_xchacha20poly1305_HEADERBYTES;
inline constexpr size_t kStreamChunkOverhead = crypto_secretstream_xchacha20poly1305_ABYTES;

/// Where sealed or opened bytes go. An Error stops the stream and is returned unchanged.
using StreamSink = std::function<ErrorOr<Ok>(std::string_view)>;

/// Seals what is written to it into a stream, handing the sealed bytes to a sink a chunk at a time:
/// one chunk of plaintext is held, zeroed once sealed.
class StreamSealer {
 public:
  /// `key` is 32 bytes; `context` names what is sealed (e.g. "snapshot memory"), so that a stream
  /// sealed for one purpose is not accepted for another. Hands the stream's header to `sink`.
  static ErrorOr<std::unique_ptr<StreamSealer>> Start(const SecretBytes& key, std::string context,
                                                      StreamSink sink);
  ~StreamSealer();
  StreamSealer(const StreamSealer&) = delete;
  StreamSealer& operator=(const StreamSealer&) = delete;

  ErrorOr<Ok> Write(std::string_view plain);
  /// Seals the rest as the FINAL chunk. Nothing may be written after it.
  ErrorOr<Ok> Finish();
  /// The sealed bytes handed to the sink so far, the header's included.
  uint64_t sealed_bytes() const { return sealed_bytes_; }

 private:
  StreamSealer(std::string context, StreamSink sink);
  ErrorOr<Ok> Push(unsigned char tag);

  std::string context_;
  StreamSink sink_;
  crypto_secretstream_xchacha20poly1305_state state_{};
  std::string buffer_;
  std::string sealed_;
  uint64_t sealed_bytes_ = 0;
};

/// Opens the stream that starts at `in`'s current offset, handing its plaintext to `sink` a chunk
/// at a time, and returns the plaintext size. The stream must end `in`: bytes after its FINAL chunk
/// are refused. An Error of kind kVerificationFailed when the stream is not sealed under `key` for
/// `context`, was changed, cut short or extended (and what reached the sink before is not to be
/// trusted); kEnvironment when `in` cannot be read; the sink's own Error as it is.
ErrorOr<uint64_t> OpenStreamFrom(int in, const SecretBytes& key, std::string_view context,
                                 const StreamSink& sink);

/// Plaintext bytes of a stream of `stream_size` bytes (its header included).
uint64_t StreamPlainSize(uint64_t stream_size);

/// Reads `in` from its current offset to its end and writes it as a sealed file to `out` at its
/// current offset. Returns the sealed size.
ErrorOr<uint64_t> SealStream(int in, int out, const SecretBytes& key, std::string_view context);

/// The inverse: reads a sealed file from `in` and writes the plaintext to `out`. An Error, and
/// nothing to trust in `out`, when the file is not sealed under `key` for `context`, was changed,
/// or ends before its FINAL chunk (truncated) or continues after it.
ErrorOr<uint64_t> OpenStream(int in, int out, const SecretBytes& key, std::string_view context);

/// SealStream and OpenStream for data held in memory (a few kilobytes: a key, a CA).
ErrorOr<std::string> SealString(std::string_view plain, const SecretBytes& key,
                                std::string_view context);
ErrorOr<std::string> OpenString(std::string_view sealed, const SecretBytes& key,
                                std::string_view context);

}  // namespace mvm::runtime::secrets

#endif  // MVM_RUNTIME_SECRETS_STREAM_H_
