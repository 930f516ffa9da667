#ifndef MVM_FRONTEND_COMMON_SOURCE_ENCODING_H_
#define MVM_FRONTEND_COMMON_SOURCE_ENCODING_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mvm::frontend {

/// A PEP 263 encoding declaration (`# -*- coding: latin-1 -*-`): the name as written and its byte
/// range in the file.
struct CodingDeclaration {
  std::string_view name;
  uint32_t begin = 0;
  uint32_t end = 0;
};

/// The encoding declared on line 1 or 2 of a Python file, as Python finds it: line 2 counts only
/// when line 1 is blank or a comment.
std::optional<CodingDeclaration> FindCodingDeclaration(std::string_view text);

/// The iconv name of a Python encoding name (`latin-1` is `ISO-8859-1`, `utf_8` is `UTF-8`).
std::string IconvEncodingName(std::string_view python_name);

/// What TranscodeToUtf8 made of its input.
enum class TranscodeStatus { kOk, kUnknownEncoding, kInvalidInput };

/// `text` decoded from `encoding` (an iconv name) to UTF-8 in `out`; on kInvalidInput,
/// `bad_offset` is the offset of the first byte that is not valid in `encoding` and `out` holds
/// the text before it.
TranscodeStatus TranscodeToUtf8(std::string_view text, const std::string& encoding,
                                std::string& out, uint32_t& bad_offset);

/// `text` with every CRLF and every lone CR turned into LF, as Python's universal newlines read
/// a source file (a CRLF inside a triple-quoted string is "\n" in its value).
void NormalizeNewlines(std::string& text);

}  // namespace mvm::frontend

#endif  // MVM_FRONTEND_COMMON_SOURCE_ENCODING_H_
