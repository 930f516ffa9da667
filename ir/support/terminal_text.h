#ifndef MVM_IR_SUPPORT_TERMINAL_TEXT_H_
#define MVM_IR_SUPPORT_TERMINAL_TEXT_H_

#include <string>
#include <string_view>

namespace mvm {

/// Makes untrusted bytes (a workload's output, a file name from a sandbox) safe to show on a
/// terminal, which would otherwise obey the escape sequences in them: set the clipboard (OSC 52),
/// retitle the window, clear or rewrite the screen, answer queries into the operator's input.
///
/// Every byte a terminal could treat as a control is written as `\xHH` (two lowercase hex digits):
/// the C0 controls but newline and tab, DEL, a carriage return not followed by a newline (it would
/// let later text overwrite the line), every byte that is not part of valid UTF-8 (which covers raw
/// C1 bytes 0x80-0x9f), and the two bytes of each UTF-8 encoded C1 control (U+0080-U+009F, e.g.
/// `\xc2\x9b` for CSI). Valid UTF-8 text is kept as it is. The rendering is for reading only: a
/// literal backslash is not escaped, so it cannot be reversed.
///
/// Streaming: Feed may be called with output in chunks of any size; a UTF-8 sequence or a "\r\n"
/// split between two chunks is judged once it is whole. Finish ends the stream and returns what
/// was held back, judged as it is.
class TerminalEscaper {
 public:
  /// What the text is: output keeps its newlines and tabs; a name escapes them too, so that one
  /// name cannot pass for several lines of a listing.
  enum class Kind { kOutput, kName };
  explicit TerminalEscaper(Kind kind = Kind::kOutput) : kind_(kind) {}

  /// The escaped text of what can be judged so far.
  std::string Feed(std::string_view bytes);
  /// The escaped text of what Feed held back (an incomplete UTF-8 sequence, a final '\r').
  std::string Finish();

 private:
  std::string Process(std::string_view bytes, bool final);

  Kind kind_;
  std::string held_;  // at most 3 bytes: the start of a UTF-8 sequence, or "\r"
};

/// The whole of `text` escaped as TerminalEscaper does.
std::string EscapeForTerminal(std::string_view text,
                              TerminalEscaper::Kind kind = TerminalEscaper::Kind::kOutput);

/// True when `text` is well-formed UTF-8 (Unicode Table 3-7: no overlong forms, no surrogates,
/// nothing beyond U+10FFFF, no truncated sequence), the rule TerminalEscaper applies and JSON
/// writers need: the bytes it escapes for not being UTF-8 are exactly those that make this false.
bool IsValidUtf8(std::string_view text);

/// True when `fd` is a terminal: where workload text must go through a TerminalEscaper.
bool IsTerminal(int fd);

}  // namespace mvm

#endif  // MVM_IR_SUPPORT_TERMINAL_TEXT_H_
