#ifndef MVM_LSP_TRANSPORT_H_
#define MVM_LSP_TRANSPORT_H_

#include <cstddef>
#include <string>

namespace mvm::lsp {

/// What one attempt to read a framed message produced.
enum class ReadStatus {
  kMessage,    ///< `body` holds one complete message body
  kBadHeader,  ///< the header block had no usable Content-Length; the reader skipped it
  kEof,        ///< the stream ended (cleanly or in the middle of a message)
};

/// Reads LSP base-protocol messages (`Content-Length: N\r\n\r\n` + N bytes) from a file
/// descriptor it does not own. Other headers (Content-Type) are ignored.
class MessageReader {
 public:
  explicit MessageReader(int fd) : fd_(fd) {}

  /// Reads the next message into `body`. A header block without a valid Content-Length, or one
  /// over `kMaxBody`, is kBadHeader, so the caller can answer with a parse error and go on.
  ReadStatus Next(std::string& body);

  /// True when Next would not wait: bytes are buffered or the descriptor is readable (or at its
  /// end) right now.
  bool Ready();

  /// Larger bodies are refused rather than buffered (an editor never sends one this big).
  static constexpr size_t kMaxBody = size_t{256} << 20;

 private:
  /// Reads one header line without its terminator (`\r\n` or `\n`); false at end of stream.
  bool ReadLine(std::string& line);
  /// Makes at least one more byte available in `buffer_`; false at end of stream.
  bool Fill();

  int fd_;
  std::string buffer_;
  size_t pos_ = 0;
};

/// Writes `body` with its Content-Length header to `fd`; false when the peer is gone.
bool WriteMessage(int fd, const std::string& body);

}  // namespace mvm::lsp

#endif  // MVM_LSP_TRANSPORT_H_
