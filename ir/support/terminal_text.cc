#include "ir/support/terminal_text.h"

#include <unistd.h>

namespace mvm {
namespace {

void AppendEscaped(std::string& out, unsigned char byte) {
  static constexpr char kHex[] = "0123456789abcdef";
  const char escaped[4] = {'\\', 'x', kHex[byte >> 4], kHex[byte & 0xf]};
  out.append(escaped, sizeof escaped);
}

// The length of the UTF-8 sequence that `lead` starts, 0 when it cannot start one (a continuation
// byte, C0/C1 overlong leads 0xc0 and 0xc1, or beyond U+10FFFF).
size_t SequenceLength(unsigned char lead) {
  if (lead >= 0xc2 && lead <= 0xdf) {
    return 2;
  }
  if (lead >= 0xe0 && lead <= 0xef) {
    return 3;
  }
  if (lead >= 0xf0 && lead <= 0xf4) {
    return 4;
  }
  return 0;
}

// Whether `byte` may follow at position `index` (1-based) of a sequence led by `lead`: the second
// byte's range excludes overlong forms, surrogates and code points beyond U+10FFFF.
bool ValidContinuation(unsigned char lead, size_t index, unsigned char byte) {
  unsigned char low = 0x80, high = 0xbf;
  if (index == 1) {
    if (lead == 0xe0) {
      low = 0xa0;
    } else if (lead == 0xed) {
      high = 0x9f;
    } else if (lead == 0xf0) {
      low = 0x90;
    } else if (lead == 0xf4) {
      high = 0x8f;
    }
  }
  return byte >= low && byte <= high;
}

}  // namespace

std::string TerminalEscaper::Feed(std::string_view bytes) { return Process(bytes, false); }

std::string TerminalEscaper::Finish() { return Process({}, true); }

std::string TerminalEscaper::Process(std::string_view bytes, bool final) {
  std::string input = std::move(held_);
  held_.clear();
  input.append(bytes);
  std::string out;
  out.reserve(input.size());
  size_t i = 0;
  while (i < input.size()) {
    const auto byte = static_cast<unsigned char>(input[i]);
    if (byte < 0x80) {
      if (byte == '\r' && kind_ == Kind::kOutput) {
        if (i + 1 == input.size() && !final) {
          held_.assign(1, '\r');  // a "\r\n" may be split between two chunks
          break;
        }
        if (i + 1 < input.size() && input[i + 1] == '\n') {
          out.append(input, i, 2);
          i += 2;
          continue;
        }
        AppendEscaped(out, byte);
      } else if ((byte < 0x20 && (kind_ == Kind::kName || (byte != '\n' && byte != '\t'))) ||
                 byte == 0x7f) {
        AppendEscaped(out, byte);
      } else {
        out += static_cast<char>(byte);
      }
      ++i;
      continue;
    }
    const size_t length = SequenceLength(byte);
    size_t valid = 1;  // how many bytes from i form a valid prefix of the sequence
    while (length != 0 && valid < length && i + valid < input.size() &&
           ValidContinuation(byte, valid, static_cast<unsigned char>(input[i + valid]))) {
      ++valid;
    }
    if (length != 0 && valid < length && i + valid == input.size() && !final) {
      held_ = input.substr(i);  // the rest of the sequence may be in the next chunk
      break;
    }
    if (length == 0 || valid < length) {
      AppendEscaped(out, byte);  // not UTF-8: the byte alone, then go on from the next
      ++i;
      continue;
    }
    // U+0080..U+009F, the C1 controls, are 0xc2 0x80..0x9f.
    if (byte == 0xc2 && static_cast<unsigned char>(input[i + 1]) <= 0x9f) {
      AppendEscaped(out, byte);
      AppendEscaped(out, static_cast<unsigned char>(input[i + 1]));
    } else {
      out.append(input, i, length);
    }
    i += length;
  }
  return out;
}

std::string EscapeForTerminal(std::string_view text, TerminalEscaper::Kind kind) {
  TerminalEscaper escaper(kind);
  std::string out = escaper.Feed(text);
  out += escaper.Finish();
  return out;
}

bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    const size_t length = SequenceLength(lead);
    if (length == 0 || i + length > text.size()) {
      return false;
    }
    for (size_t k = 1; k < length; ++k) {
      if (!ValidContinuation(lead, k, static_cast<unsigned char>(text[i + k]))) {
        return false;
      }
    }
    i += length;
  }
  return true;
}

bool IsTerminal(int fd) { return isatty(fd) == 1; }

}  // namespace mvm
