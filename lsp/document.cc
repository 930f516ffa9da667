#include "lsp/document.h"

#include <algorithm>

namespace mvm::lsp {
namespace {

/// Byte length of the UTF-8 sequence led by `c`; stray continuation bytes count as one.
size_t SequenceLength(unsigned char c) {
  if (c >= 0xF0) {
    return 4;
  }
  if (c >= 0xE0) {
    return 3;
  }
  if (c >= 0xC0) {
    return 2;
  }
  return 1;
}

/// Offset of the first line terminator at or after `from` (LSP counts "\n", "\r\n" and a lone
/// "\r"), or npos.
size_t NextBreak(std::string_view text, size_t from) { return text.find_first_of("\r\n", from); }

/// Offset just past the line terminator at `at` (a CRLF is one terminator).
size_t PastBreak(std::string_view text, size_t at) {
  return text[at] == '\r' && at + 1 < text.size() && text[at + 1] == '\n' ? at + 2 : at + 1;
}

/// Byte offset where 0-based `line` starts, or text.size() past the last line.
size_t LineStart(std::string_view text, uint32_t line) {
  size_t offset = 0;
  for (uint32_t i = 0; i < line; ++i) {
    size_t nl = NextBreak(text, offset);
    if (nl == std::string_view::npos) {
      return text.size();
    }
    offset = PastBreak(text, nl);
  }
  return offset;
}

size_t LineEnd(std::string_view text, size_t start) {
  size_t nl = NextBreak(text, start);
  return nl == std::string_view::npos ? text.size() : nl;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

}  // namespace

size_t OffsetOf(std::string_view text, Position pos) {
  size_t offset = LineStart(text, pos.line);
  size_t end = LineEnd(text, offset);
  uint32_t units = 0;
  while (offset < end) {
    size_t len = std::min(SequenceLength(static_cast<unsigned char>(text[offset])), end - offset);
    uint32_t width = len == 4 ? 2 : 1;
    if (units + width > pos.character) {
      break;
    }
    units += width;
    offset += len;
  }
  return offset;
}

Position FromCodePoints(std::string_view text, uint32_t line, uint32_t column) {
  Position pos{line > 0 ? line - 1 : 0, 0};
  size_t offset = LineStart(text, pos.line);
  size_t end = LineEnd(text, offset);
  for (uint32_t cp = 1; cp < column && offset < end; ++cp) {
    size_t len = std::min(SequenceLength(static_cast<unsigned char>(text[offset])), end - offset);
    pos.character += len == 4 ? 2 : 1;
    offset += len;
  }
  return pos;
}

Position PositionOf(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  Position pos;
  size_t line_start = 0;
  for (size_t nl = NextBreak(text, 0); nl != std::string_view::npos && nl < offset;
       nl = NextBreak(text, line_start)) {
    size_t next = PastBreak(text, nl);
    if (next > offset) {
      break;  // between the CR and the LF of one terminator: still the end of this line
    }
    ++pos.line;
    line_start = next;
  }
  for (size_t i = line_start; i < offset;) {
    size_t len = SequenceLength(static_cast<unsigned char>(text[i]));
    pos.character += len == 4 ? 2 : 1;
    i += len;
  }
  return pos;
}

void ApplyEdit(std::string& text, Position start, Position end, std::string_view replacement) {
  size_t begin = OffsetOf(text, start);
  size_t stop = std::max(begin, OffsetOf(text, end));
  text.replace(begin, stop - begin, replacement);
}

std::string PathFromUri(std::string_view uri) {
  constexpr std::string_view kScheme = "file://";
  if (!uri.starts_with(kScheme)) {
    return std::string(uri);
  }
  uri.remove_prefix(kScheme.size());
  std::string path;
  for (size_t i = 0; i < uri.size(); ++i) {
    if (uri[i] == '%' && i + 2 < uri.size()) {
      int hi = HexValue(uri[i + 1]);
      int lo = HexValue(uri[i + 2]);
      if (hi >= 0 && lo >= 0) {
        path += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    path += uri[i];
  }
  return path;
}

}  // namespace mvm::lsp
