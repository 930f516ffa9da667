#include "frontend/common/source_encoding.h"

#include <iconv.h>

#include <cerrno>

namespace mvm::frontend {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

/// `name` is `prefix` or starts with `prefix` and a dash (Python's get_normal_name).
bool NamesFamily(std::string_view name, std::string_view prefix) {
  return name == prefix ||
         (name.starts_with(prefix) && name.size() > prefix.size() && name[prefix.size()] == '-');
}

struct IconvCloser {
  iconv_t cd;
  ~IconvCloser() { iconv_close(cd); }
};

}  // namespace

std::optional<CodingDeclaration> FindCodingDeclaration(std::string_view text) {
  // Python strips a UTF-8 byte order mark before it looks.
  size_t start = text.starts_with("\xEF\xBB\xBF") ? 3 : 0;
  for (int line = 0; line < 2 && start < text.size(); ++line) {
    size_t end = text.find_first_of("\r\n", start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    std::string_view l = text.substr(start, end - start);
    size_t first = l.find_first_not_of(" \t\f");
    if (first != std::string_view::npos && l[first] != '#') {
      return std::nullopt;  // code on line 1: Python reads no declaration after it
    }
    // Python's `^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)`.
    for (size_t at = l.find("coding");
         first != std::string_view::npos && at != std::string_view::npos;
         at = l.find("coding", at + 1)) {
      size_t p = at + 6;
      if (p >= l.size() || (l[p] != ':' && l[p] != '=')) {
        continue;
      }
      ++p;
      while (p < l.size() && (l[p] == ' ' || l[p] == '\t')) {
        ++p;
      }
      size_t q = p;
      while (q < l.size() && IsNameChar(l[q])) {
        ++q;
      }
      if (q > p) {
        return CodingDeclaration{l.substr(p, q - p), static_cast<uint32_t>(start + p),
                                 static_cast<uint32_t>(start + q)};
      }
    }
    if (end == text.size()) {
      break;
    }
    start = end + (text[end] == '\r' && end + 1 < text.size() && text[end + 1] == '\n' ? 2 : 1);
  }
  return std::nullopt;
}

std::string IconvEncodingName(std::string_view python_name) {
  std::string n;
  for (char c : python_name) {
    n += c == '_' ? '-' : (c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  if (NamesFamily(n, "utf-8") || n == "utf8") {
    return "UTF-8";
  }
  if (NamesFamily(n, "latin-1") || NamesFamily(n, "iso-8859-1") || NamesFamily(n, "iso-latin-1")) {
    return "ISO-8859-1";
  }
  return n;
}

TranscodeStatus TranscodeToUtf8(std::string_view text, const std::string& encoding,
                                std::string& out, uint32_t& bad_offset) {
  // A `//` suffix would select iconv's transliteration modes; declared names cannot contain `/`,
  // but the check keeps this function honest on its own.
  if (encoding.empty() || encoding.find('/') != std::string::npos) {
    return TranscodeStatus::kUnknownEncoding;
  }
  iconv_t cd = iconv_open("UTF-8", encoding.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) {
    // glibc spells Python's `latin-2`, `mac-roman`... without the dash.
    std::string undashed;
    for (char c : encoding) {
      if (c != '-') {
        undashed += c;
      }
    }
    cd = iconv_open("UTF-8", undashed.c_str());
    if (cd == reinterpret_cast<iconv_t>(-1)) {
      return TranscodeStatus::kUnknownEncoding;
    }
  }
  IconvCloser closer{cd};
  out.assign(text.size() * 2 + 16, '\0');
  char* in_ptr = const_cast<char*>(text.data());
  size_t in_left = text.size();
  size_t written = 0;
  for (;;) {
    char* out_ptr = out.data() + written;
    size_t out_left = out.size() - written;
    size_t r = iconv(cd, in_left > 0 ? &in_ptr : nullptr, &in_left, &out_ptr, &out_left);
    written = out.size() - out_left;
    if (r != static_cast<size_t>(-1)) {
      if (in_left == 0) {
        break;
      }
      continue;
    }
    if (errno == E2BIG) {
      out.resize(out.size() * 2);
      continue;
    }
    bad_offset = static_cast<uint32_t>(text.size() - in_left);
    out.resize(written);
    return TranscodeStatus::kInvalidInput;
  }
  out.resize(written);
  return TranscodeStatus::kOk;
}

void NormalizeNewlines(std::string& text) {
  size_t out = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\r') {
      text[out++] = text[i];
    } else if (i + 1 < text.size() && text[i + 1] == '\n') {
      continue;  // the LF that follows is kept
    } else {
      text[out++] = '\n';
    }
  }
  text.resize(out);
}

}  // namespace mvm::frontend
