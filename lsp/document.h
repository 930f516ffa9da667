#ifndef MVM_LSP_DOCUMENT_H_
#define MVM_LSP_DOCUMENT_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace mvm::lsp {

/// An LSP position: 0-based line and UTF-16 code unit offset within the line. Lines end at "\n",
/// "\r\n" or a lone "\r", as LSP defines them (and as Python reads a source file).
struct Position {
  uint32_t line = 0;
  uint32_t character = 0;
};

/// The byte offset of `pos` in `text`. A character past the end of its line clamps to the line's
/// end, a line past the end of the text to the text's end (as LSP asks); a position inside a
/// surrogate pair rounds down to the code point's start.
size_t OffsetOf(std::string_view text, Position pos);

/// The LSP position of the 1-based (line, code-point column) location mvm diagnostics use.
Position FromCodePoints(std::string_view text, uint32_t line, uint32_t column);

/// The LSP position of byte `offset` (clamped to the text).
Position PositionOf(std::string_view text, size_t offset);

/// One open editor buffer.
struct Document {
  std::string uri;
  std::string path;  ///< file-system path from the uri; what diagnostics name
  std::string text;
  int64_t version = 0;
};

/// Replaces [start, end) (LSP positions) of `text` with `replacement`.
void ApplyEdit(std::string& text, Position start, Position end, std::string_view replacement);

/// The file path of a `file://` uri (percent-decoded); other uris are returned unchanged.
std::string PathFromUri(std::string_view uri);

}  // namespace mvm::lsp

#endif  // MVM_LSP_DOCUMENT_H_
