#include "frontend/typescript/typescript_literals.h"

#include <cstdlib>

#include "frontend/common/evaluation.h"

namespace mvm::frontend::typescript {
namespace {

constexpr uint32_t kReplacementCharacter = 0xFFFD;

bool IsHighSurrogate(uint32_t unit) { return unit >= 0xD800 && unit <= 0xDBFF; }
bool IsLowSurrogate(uint32_t unit) { return unit >= 0xDC00 && unit <= 0xDFFF; }

/// Parses hex digits; false when there are none, a non-hex character, or the value passes U+10FFFF.
bool ParseHex(std::string_view digits, uint32_t& out) {
  if (digits.empty()) {
    return false;
  }
  uint32_t value = 0;
  for (char c : digits) {
    uint32_t d = 0;
    if (c >= '0' && c <= '9') {
      d = static_cast<uint32_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = static_cast<uint32_t>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      d = static_cast<uint32_t>(c - 'A' + 10);
    } else {
      return false;
    }
    value = value * 16 + d;
    if (value > 0x10FFFF) {
      return false;
    }
  }
  out = value;
  return true;
}

}  // namespace

NumberLiteral ParseNumber(std::string_view text) {
  std::string digits = WithoutDigitSeparators(text);
  NumberLiteral n;
  if (!digits.empty() && digits.back() == 'n') {
    n.kind = NumberLiteral::Kind::kBigInt;
    return n;
  }
  int base = IntegerBase(digits);
  if (base == 10) {
    if (digits.find_first_of(".eE") != std::string::npos) {
      n.kind = NumberLiteral::Kind::kFloat;
      n.float_value = std::strtod(digits.c_str(), nullptr);
      return n;
    }
    if (digits.size() > 1 && digits[0] == '0') {
      n.kind = NumberLiteral::Kind::kLegacyOctal;
      return n;
    }
  }
  n.kind = NumberLiteral::Kind::kInt;
  n.int_value = ParseSaturatedInteger(digits, base);
  return n;
}

void StringDecoder::FlushHighSurrogate() {
  if (pending_high_ != 0) {
    AppendUtf8(out_, kReplacementCharacter);
    lone_surrogate_ = true;
    pending_high_ = 0;
  }
}

void StringDecoder::AppendCodeUnit(uint32_t unit) {
  if (IsHighSurrogate(unit)) {
    FlushHighSurrogate();
    pending_high_ = unit;
    return;
  }
  if (IsLowSurrogate(unit)) {
    if (pending_high_ == 0) {
      AppendUtf8(out_, kReplacementCharacter);
      lone_surrogate_ = true;
      return;
    }
    uint32_t cp = 0x10000 + ((pending_high_ - 0xD800) << 10) + (unit - 0xDC00);
    pending_high_ = 0;
    AppendUtf8(out_, cp);
    return;
  }
  FlushHighSurrogate();
  AppendUtf8(out_, unit);
}

void StringDecoder::AppendFragment(std::string_view utf8, bool template_chars) {
  if (utf8.empty()) {
    return;  // Between two escapes: `\uD83D\uDE00` must still pair.
  }
  FlushHighSurrogate();
  if (!template_chars) {
    out_ += utf8;
    return;
  }
  for (size_t i = 0; i < utf8.size(); ++i) {
    if (utf8[i] == '\r') {
      out_ += '\n';
      if (i + 1 < utf8.size() && utf8[i + 1] == '\n') {
        ++i;
      }
    } else {
      out_ += utf8[i];
    }
  }
}

bool StringDecoder::AppendEscape(std::string_view esc, char next, std::string& error) {
  if (esc.size() < 2) {
    error = "an incomplete escape sequence";
    return false;
  }
  char c = esc[1];
  std::string_view rest = esc.substr(1);
  // Line continuations: a backslash before a line terminator contributes nothing.
  if (c == '\n' || c == '\r' || rest == "\u2028" || rest == "\u2029") {
    return true;
  }
  switch (c) {
    case 'b':
      AppendCodeUnit('\b');
      return true;
    case 'f':
      AppendCodeUnit('\f');
      return true;
    case 'n':
      AppendCodeUnit('\n');
      return true;
    case 'r':
      AppendCodeUnit('\r');
      return true;
    case 't':
      AppendCodeUnit('\t');
      return true;
    case 'v':
      AppendCodeUnit('\v');
      return true;
    case 'x':
    case 'u': {
      std::string_view hex = esc.substr(2);
      if (c == 'u' && hex.size() >= 2 && hex.front() == '{' && hex.back() == '}') {
        hex = hex.substr(1, hex.size() - 2);
      }
      uint32_t unit = 0;
      if (!ParseHex(hex, unit)) {
        error =
            "`" + std::string(esc) + "` does not name a Unicode code point (the last is U+10FFFF)";
        return false;
      }
      if (unit > 0xFFFF) {
        FlushHighSurrogate();
        AppendUtf8(out_, unit);
      } else {
        AppendCodeUnit(unit);
      }
      return true;
    }
    default:
      break;
  }
  if (c >= '0' && c <= '9') {
    if (esc == "\\0" && !(next >= '0' && next <= '9')) {
      AppendCodeUnit(0);
      return true;
    }
    error = "the escape `" + std::string(esc) +
            "` is not allowed in strict-mode code; write `\\x..` or `\\u....` instead";
    return false;
  }
  // Any other character escapes to itself (`\'`, `\"`, `\\`, `\$`, `\a`...).
  FlushHighSurrogate();
  out_ += rest;
  return true;
}

std::string StringDecoder::Finish() {
  FlushHighSurrogate();
  return std::move(out_);
}

}  // namespace mvm::frontend::typescript
