#ifndef MVM_FRONTEND_TYPESCRIPT_TYPESCRIPT_LITERALS_H_
#define MVM_FRONTEND_TYPESCRIPT_TYPESCRIPT_LITERALS_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace mvm::frontend::typescript {

/// What a TypeScript numeric literal denotes. The declaration language distinguishes integers from
/// floats by spelling, as Python does: `2` is an integer, `2.0` and `2e3` are floats.
struct NumberLiteral {
  enum class Kind : uint8_t {
    kInt,
    kFloat,
    kBigInt,       ///< `10n`: static, but of no type mvm uses
    kLegacyOctal,  ///< `010` / `08`: rejected by TypeScript in modules
  };
  Kind kind = Kind::kInt;
  /// kInt: the value, saturated at INT64_MAX (beyond that it is out of every option's range
  /// anyway).
  int64_t int_value = 0;
  double float_value = 0;
};

/// Reads the text of a tree-sitter `number` token (`_` separators, 0x / 0o / 0b prefixes).
NumberLiteral ParseNumber(std::string_view text);

/// Builds the value of a string or template literal piece by piece: literal fragments and escape
/// sequences. JavaScript strings are UTF-16, so `\uD83D\uDE00` is one code point; the decoder pairs
/// surrogates across escapes and remembers when one is left unpaired.
class StringDecoder {
 public:
  /// Appends source text that is not an escape. `template_chars` normalises CR LF and CR to LF, as
  /// template literals do.
  void AppendFragment(std::string_view utf8, bool template_chars);

  /// Appends the value of one escape sequence (`esc` starts with the backslash). `next` is the
  /// source byte after the escape (0 at the end), needed because `\0` followed by a digit is an
  /// octal escape. Returns false, with `error` set, for escapes strict-mode code rejects (octal
  /// escapes, `\8`,
  /// `\u{...}` beyond U+10FFFF).
  bool AppendEscape(std::string_view esc, char next, std::string& error);

  /// The decoded text; `lone_surrogate()` says whether a surrogate half was left unpaired.
  std::string Finish();
  bool lone_surrogate() const { return lone_surrogate_; }

 private:
  void AppendCodeUnit(uint32_t unit);
  void FlushHighSurrogate();

  std::string out_;
  uint32_t pending_high_ = 0;  // a high surrogate from `\uD8xx`, waiting for its low half
  bool lone_surrogate_ = false;
};

}  // namespace mvm::frontend::typescript

#endif  // MVM_FRONTEND_TYPESCRIPT_TYPESCRIPT_LITERALS_H_
